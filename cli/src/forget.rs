//! Forgetting a person on the local stack: `POST /v1/forget` on the read side of a
//! running `tidemark up`, and `tidemark forget --user-id U | --anonymous-id A`, which
//! calls it and prints what each store removed.
//!
//! In order, so that no copy of the person's events flows into a store already
//! cleaned: the log first (its records emptied, dead letters removed); then a wait
//! until both consumers have passed the log's head as it stood, so anything they read
//! before is written; then the key-value store, the index, the warehouse tables and
//! the raw extract files.

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use tidemark_core::forget::{self, Forgotten, Person, PersonError, PersonField, PersonRequest};

use crate::batch::BatchEnv;
use crate::consumers::{STREAM_INDEX, STREAM_STORE};
use crate::retention::Stores;

/// How long the consumers may take to pass the emptied records.
const CATCH_UP: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct ForgetState {
    pub stores: Stores,
    pub batch: Option<BatchEnv>,
}

pub fn router<S>(state: ForgetState) -> Router<S> {
    Router::new().route("/v1/forget", post(forget_route)).with_state(state)
}

#[derive(Debug, Serialize)]
pub struct ForgetReport {
    pub field: PersonField,
    pub stores: Vec<Forgotten>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error(transparent)]
    Person(#[from] PersonError),
    #[error("the consumers did not pass the emptied records within {0:?}; the log is clean, forget again to finish")]
    ConsumersStuck(Duration),
    #[error("{store}: {message}")]
    Store { store: &'static str, message: String },
    #[error(transparent)]
    Stores(#[from] forget::ForgetError),
}

impl IntoResponse for ForgetError {
    fn into_response(self) -> Response {
        let status = match &self {
            ForgetError::Person(_) => StatusCode::BAD_REQUEST,
            ForgetError::ConsumersStuck(_) | ForgetError::Store { .. } | ForgetError::Stores(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

fn store(store: &'static str) -> impl Fn(&dyn std::fmt::Display) -> ForgetError {
    move |error| ForgetError::Store { store, message: error.to_string() }
}

async fn forget_route(
    State(state): State<ForgetState>,
    Json(request): Json<PersonRequest>,
) -> Result<Json<ForgetReport>, ForgetError> {
    let person = request.person()?;
    let stores = forget_everywhere(&state.stores, state.batch.as_ref(), &person).await?;
    tracing::info!(field = person.field().name(), stores = ?stores, "forgot a person");
    Ok(Json(ForgetReport { field: person.field(), stores }))
}

/// Removes the person from every local store; one report per store (or table, or source).
async fn forget_everywhere(
    stores: &Stores,
    batch: Option<&BatchEnv>,
    person: &Person,
) -> Result<Vec<Forgotten>, ForgetError> {
    let log = stores.log.clone();
    let owner = person.clone();
    let emptied = tokio::task::spawn_blocking(move || log.forget(|data| owner.owns_record(data)))
        .await
        .map_err(|e| store("log")(&e))?
        .map_err(|e| store("log")(&e))?;
    let mut report = vec![Forgotten::new("log", emptied.records), Forgotten::new("dead_letters", emptied.dead_letters)];
    wait_for_consumers(stores).await?;
    let ports = forget::Stores {
        kv: &stores.kv,
        layout: &stores.layout,
        index: &stores.index,
        batch: batch.map(|env| forget::BatchStores {
            pipeline: &env.pipeline,
            warehouse: &env.warehouse,
            interim: env.store.as_ref(),
        }),
    };
    report.extend(forget::forget_in(&ports, person).await?);
    Ok(report)
}

/// Waits until both consumers have finished every shard up to its head as it is now.
async fn wait_for_consumers(stores: &Stores) -> Result<(), ForgetError> {
    let log = &stores.log;
    let heads: Vec<Option<u64>> = (0..log.shard_count()).map(|shard| log.head(shard)).collect();
    let started = Instant::now();
    loop {
        let mut behind = false;
        for (shard, head) in heads.iter().enumerate() {
            let Some(head) = head else { continue };
            for consumer in [STREAM_INDEX, STREAM_STORE] {
                let done = log.checkpoint(consumer, shard).map_err(|e| store("log")(&e))?;
                behind |= done.is_none_or(|done| done < *head);
            }
        }
        if !behind {
            return Ok(());
        }
        if started.elapsed() > CATCH_UP {
            return Err(ForgetError::ConsumersStuck(CATCH_UP));
        }
        log.wait_for_append(Duration::from_millis(50)).await;
    }
}

/// `tidemark forget`: who, and where the running stack is.
#[derive(Debug, Clone, clap::Args)]
pub struct ForgetArgs {
    /// The person's user id (events' `user_id`, tables' user id columns).
    #[arg(long, required_unless_present = "anonymous_id", conflicts_with = "anonymous_id")]
    pub user_id: Option<String>,
    /// The person's anonymous id (events' `anonymous_id`).
    #[arg(long)]
    pub anonymous_id: Option<String>,
    /// The read side of the running `tidemark up`.
    #[arg(long, env = "TIDEMARK_SERVER", default_value = "http://127.0.0.1:8081")]
    pub server: String,
    /// The read side's admin token, when it has one.
    #[arg(long, env = "TIDEMARK_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub async fn run(args: &ForgetArgs) -> anyhow::Result<()> {
    let url = format!("{}/v1/forget", args.server.trim_end_matches('/'));
    let body = json!({ "user_id": args.user_id, "anonymous_id": args.anonymous_id });
    let mut request = reqwest::Client::new().post(&url).json(&body);
    if let Some(token) = args.token.as_deref().and_then(|t| t.split(',').next()) {
        request = request.bearer_auth(token.trim());
    }
    let response = request.send().await.with_context(|| format!("asking {url} (is tidemark up running?)"))?;
    let status = response.status();
    let answer: Value = response.json().await.context("reading the answer")?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", answer["error"].as_str().unwrap_or("no error text"));
    }
    for entry in answer["stores"].as_array().into_iter().flatten() {
        println!("{:<28} {:>10} removed", entry["store"].as_str().unwrap_or("?"), entry["removed"]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ForgetArgs,
    }

    #[test]
    fn a_person_is_named_by_exactly_one_id() {
        assert!(Cli::try_parse_from(["forget", "--user-id", "u"]).is_ok());
        assert!(Cli::try_parse_from(["forget", "--anonymous-id", "a", "--server", "http://127.0.0.1:9"]).is_ok());
        assert!(Cli::try_parse_from(["forget"]).is_err());
        assert!(Cli::try_parse_from(["forget", "--user-id", "u", "--anonymous-id", "a"]).is_err());
    }
}
