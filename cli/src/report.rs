//! `tidemark report <name>`: a report merged at the tidemark, printed as a table, JSON
//! or CSV; answered from the data directory, or by a running `tidemark up` (`--server`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use tidemark_core::bucket::Interval;
use tidemark_core::report::{self, ReportQuery};
use tidemark_local::TantivyIndex;

use crate::batch::BatchEnv;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// A report declared in the pipeline file (`[[report]]`).
    pub name: String,
    /// Start (RFC 3339); default 24 hours before `--to`.
    #[arg(long)]
    pub from: Option<String>,
    /// End (RFC 3339); default now.
    #[arg(long)]
    pub to: Option<String>,
    /// minute, hour or day.
    #[arg(long, default_value = "hour")]
    pub interval: String,
    /// A dimension of the report, e.g. `region`.
    #[arg(long)]
    pub by: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Ask a running `tidemark up` (its read side, e.g. http://127.0.0.1:8081) instead of
    /// opening the data directory, which that process holds.
    #[arg(long)]
    pub server: Option<String>,
    /// The read side's admin token, when it has one.
    #[arg(long, env = "TIDEMARK_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "TIDEMARK_PIPELINE", default_value = "./tidemark.toml")]
    pub pipeline: PathBuf,
    #[arg(long, env = "TIDEMARK_DATA_DIR", default_value = "./tidemark-data")]
    pub data_dir: PathBuf,
}

/// The HTTP parameters' parser, so `--from`/`--to` take exactly what `?from=`/`?to=` take.
fn time(field: &'static str, text: Option<&str>, default: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    tidemark_report::parse_time(field, text, default).map_err(|(_, message)| anyhow::anyhow!("--{message}"))
}

pub async fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let interval: Interval = args.interval.parse().map_err(|e: String| anyhow::anyhow!("--interval: {e}"))?;
    let to = time("to", args.to.as_deref(), Utc::now())?;
    let from = time("from", args.from.as_deref(), to - Duration::hours(24))?;
    let query = ReportQuery { interval, from, to, by: args.by.clone() };
    let (json, csv) = match &args.server {
        Some(server) => ask_server(server, args, &query).await?,
        None => {
            let env = BatchEnv::open(&args.pipeline, &args.data_dir)?;
            let def = env
                .pipeline
                .report(&args.name)
                .with_context(|| format!("no report named {:?} in {}", args.name, args.pipeline.display()))?;
            let index = Arc::new(TantivyIndex::open(&args.data_dir.join("index")).context(
                "opening the search index (if tidemark up is running on this data directory, use --server)",
            )?);
            let answer = report::run_report(def, &query, &env.warehouse, index.as_ref()).await?;
            let csv = report::to_csv(&answer.points).map_err(anyhow::Error::msg)?;
            (serde_json::to_value(&answer)?, csv)
        }
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&json)?),
        Format::Csv => print!("{csv}"),
        Format::Table => print_table(&json),
    }
    Ok(())
}

async fn ask_server(server: &str, args: &ReportArgs, query: &ReportQuery) -> anyhow::Result<(Value, String)> {
    let url = format!("{}/v1/reports/{}", server.trim_end_matches('/'), args.name);
    let mut params =
        vec![("from", query.from.to_rfc3339()), ("to", query.to.to_rfc3339()), ("interval", args.interval.clone())];
    if let Some(by) = &query.by {
        params.push(("by", by.clone()));
    }
    let client = reqwest::Client::new();
    let get = |format: &'static str| {
        let mut params = params.clone();
        params.push(("format", format.to_owned()));
        let request = client.get(&url).query(&params);
        match args.token.as_deref().and_then(|t| t.split(',').next()) {
            Some(token) => request.bearer_auth(token.trim()).send(),
            None => request.send(),
        }
    };
    let response = get("json").await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let json: Value = response.json().await.with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {}", json["error"].as_str().unwrap_or("no error text"));
    }
    let csv = if matches!(args.format, Format::Csv) { get("csv").await?.text().await? } else { String::new() };
    Ok((json, csv))
}

/// Text from the data (a group is an event's region) as a terminal shows it harmlessly:
/// control characters, escape sequences among them, become `?`.
pub(crate) fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

pub(crate) fn print_table(report: &Value) {
    let mark = &report["tidemark"];
    println!(
        "{} ({}), {} .. {} by {}; tidemark {} (batch loaded up to {})",
        printable(report["title"].as_str().unwrap_or_default()),
        report["measure"].as_str().unwrap_or_default(),
        report["from"].as_str().unwrap_or_default(),
        report["to"].as_str().unwrap_or_default(),
        report["interval"].as_str().unwrap_or_default(),
        mark["at"].as_str().unwrap_or("not set"),
        mark["high_water"].as_str().unwrap_or("-"),
    );
    let empty = Vec::new();
    let points = report["points"].as_array().unwrap_or(&empty);
    let mut groups: Vec<String> =
        points.iter().filter_map(|p| p["groups"].as_object()).flat_map(|g| g.keys().cloned()).collect();
    groups.sort();
    groups.dedup();
    print!("{:<26} {:<9} {:>14}", "bucket", "side", "value");
    for g in &groups {
        print!(" {:>12}", printable(g));
    }
    println!();
    for point in points {
        print!(
            "{:<26} {:<9} {:>14.2}",
            point["start"].as_str().unwrap_or_default(),
            point["side"].as_str().unwrap_or_default(),
            point["value"].as_f64().unwrap_or(0.0)
        );
        for g in &groups {
            print!(" {:>12.2}", point["groups"][g].as_f64().unwrap_or(0.0));
        }
        println!();
    }
    println!(
        "total {:.2} = batch {:.2} + real-time {:.2}",
        report["total"].as_f64().unwrap_or(0.0),
        report["batch_total"].as_f64().unwrap_or(0.0),
        report["realtime_total"].as_f64().unwrap_or(0.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_do_not_reach_the_terminal() {
        assert_eq!(printable("EU\u{1b}[2J\u{7}\r"), "EU?[2J??");
        assert_eq!(printable("日本"), "日本");
    }
}
