//! `tidemark dlq list|show|redrive`: the dead letters of a running `tidemark up`, through
//! its read side (`/v1/dead-letters`), which holds the log.

use anyhow::Context;
use serde_json::Value;

use crate::report::printable;

#[derive(Debug, Clone, clap::Args)]
pub struct DlqArgs {
    /// The read side of the running `tidemark up`.
    #[arg(long, env = "TIDEMARK_SERVER", default_value = "http://127.0.0.1:8081")]
    pub server: String,
    /// The read side's admin token, when it has one.
    #[arg(long, env = "TIDEMARK_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqAction {
    /// Every consumer's dead letters: sequence number, time, reason.
    List,
    /// One dead letter with its payload.
    Show {
        /// `stream-index` or `stream-store`.
        consumer: String,
        /// The letter's sequence number (from `list`).
        sequence: String,
    },
    /// Runs dead letters through their consumer again; those that go through leave the list.
    Redrive {
        consumer: String,
        /// Only this letter (default: every letter of the consumer).
        #[arg(long)]
        sequence: Option<String>,
    },
}

async fn call(args: &DlqArgs, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let request = match args.token.as_deref().and_then(|t| t.split(',').next()) {
        Some(token) => request.bearer_auth(token.trim()),
        None => request,
    };
    let response = request.send().await.with_context(|| format!("asking {} (is tidemark up running?)", args.server))?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the answer")?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", body["error"].as_str().unwrap_or("no error text"));
    }
    Ok(body)
}

pub async fn run(args: &DlqArgs, action: &DlqAction) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = args.server.trim_end_matches('/');
    match action {
        DlqAction::List => {
            let body = call(args, client.get(format!("{base}/v1/dead-letters"))).await?;
            for (consumer, letters) in body["consumers"].as_object().into_iter().flatten() {
                println!("{consumer}: {} dead letters", letters["count"]);
                for letter in letters["letters"].as_array().into_iter().flatten() {
                    println!(
                        "  {}  {}  {}",
                        letter["sequence_number"].as_str().unwrap_or_default(),
                        letter["parked_at"].as_str().unwrap_or("-"),
                        printable(letter["reason"].as_str().unwrap_or_default())
                    );
                }
            }
        }
        DlqAction::Show { consumer, sequence } => {
            let body = call(args, client.get(format!("{base}/v1/dead-letters/{consumer}/{sequence}"))).await?;
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        DlqAction::Redrive { consumer, sequence } => {
            let mut request = client.post(format!("{base}/v1/dead-letters/{consumer}/redrive"));
            if let Some(sequence) = sequence {
                request = request.query(&[("sequence", sequence)]);
            }
            let body = call(args, request).await?;
            println!("{consumer}: {} redriven", body["redriven"]);
            for failing in body["still_failing"].as_array().into_iter().flatten() {
                println!(
                    "  still failing {}: {}",
                    failing["sequence_number"].as_str().unwrap_or_default(),
                    printable(failing["reason"].as_str().unwrap_or_default())
                );
            }
        }
    }
    Ok(())
}
