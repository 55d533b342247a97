//! The console's routes that only the AWS deployment answers this way (locally
//! `tidemark up` serves the same paths from its own stores):
//!
//! - `GET /v1/stats`: the stream and consumers from CloudWatch (iterator age and errors
//!   per consumer function, incoming records, each dead-letter queue's depth);
//! - `GET /v1/dead-letters`, `GET /v1/dead-letters/{consumer}/{sequence}`: the records
//!   the consumer functions parked in the interim bucket;
//! - `POST /v1/dead-letters/{consumer}/redrive[?sequence=S]`: back on the stream;
//! - `GET /v1/settings`: what the function runs with, secrets by name only.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tidemark_aws::dead_letters::ParkedRecord;
use tidemark_aws::redrive::{self, RedriveError};
use tidemark_aws::stream_health::{MetricsError, StreamHealth, CONSUMERS};
use tidemark_core::clock::Clock;
use tidemark_core::ports::{EventStream, ObjectStore};

#[derive(Clone)]
pub struct AwsConsole {
    /// The interim bucket, where the consumers park records.
    pub interim: Arc<dyn ObjectStore>,
    /// The event stream, where redriven records go.
    pub stream: Arc<dyn EventStream>,
    /// `None` when the template does not name the consumer functions and queues.
    pub health: Option<StreamHealth>,
    /// [`tidemark_aws::settings::Settings::view`], taken at cold start.
    pub settings: Arc<Value>,
    pub clock: Arc<dyn Clock>,
}

pub fn router(console: AwsConsole) -> Router {
    Router::new()
        .route("/v1/stats", get(stats))
        .route("/v1/settings", get(settings))
        .route("/v1/dead-letters", get(list))
        .route("/v1/dead-letters/{consumer}/{sequence}", get(show))
        .route("/v1/dead-letters/{consumer}/redrive", post(redrive_letters))
        .with_state(console)
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("no consumer {0:?}; use stream-index or stream-store")]
    UnknownConsumer(String),
    #[error("no dead letter {sequence} for {consumer}")]
    NotFound { consumer: String, sequence: String },
    #[error("stream figures are not configured (TIDEMARK_CONSUMER_FUNCTIONS, TIDEMARK_DEAD_LETTER_QUEUES)")]
    NoFigures,
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Redrive(#[from] RedriveError),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::UnknownConsumer(_) | ConsoleError::NotFound { .. } | ConsoleError::NoFigures => {
                StatusCode::NOT_FOUND
            }
            ConsoleError::Metrics(_) | ConsoleError::Redrive(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "console route failed");
        }
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

async fn stats(State(console): State<AwsConsole>) -> Result<Json<Value>, ConsoleError> {
    let health = console.health.as_ref().ok_or(ConsoleError::NoFigures)?;
    let figures = health.read(console.clock.now()).await?;
    Ok(Json(json!({"deployment": "aws", "cloudwatch": figures})))
}

async fn settings(State(console): State<AwsConsole>) -> Json<Value> {
    Json(console.settings.as_ref().clone())
}

fn consumer(name: &str) -> Result<&'static str, ConsoleError> {
    CONSUMERS.iter().find(|c| **c == name).copied().ok_or_else(|| ConsoleError::UnknownConsumer(name.to_owned()))
}

/// A parked record as the console shows it: its payload as text when it is UTF-8 (the
/// page sets it as text), or its length.
fn describe(record: &ParkedRecord, whole: bool) -> Value {
    let data = record.decode();
    let text = data.as_deref().and_then(|d| std::str::from_utf8(d).ok());
    let mut out = json!({
        "consumer": record.consumer,
        "shard_id": record.shard_id,
        "sequence_number": record.sequence_number,
        "reason": record.reason,
        "parked_at": tidemark_core::event::millis_rfc3339::format(&record.parked_at),
        "bytes": data.as_ref().map_or(0, Vec::len),
    });
    if whole {
        out["payload"] = text.map_or(Value::Null, |t| serde_json::from_str(t).unwrap_or(Value::String(t.into())));
    } else {
        out["preview"] = json!(text.unwrap_or("").chars().take(120).collect::<String>());
    }
    out
}

async fn list(State(console): State<AwsConsole>) -> Result<Json<Value>, ConsoleError> {
    let mut consumers = serde_json::Map::new();
    for name in CONSUMERS {
        let (count, records) = redrive::parked(console.interim.as_ref(), name).await?;
        let letters: Vec<Value> = records.iter().map(|r| describe(r, false)).collect();
        consumers.insert(name.to_owned(), json!({"count": count, "letters": letters}));
    }
    Ok(Json(json!({"consumers": consumers})))
}

async fn show(
    State(console): State<AwsConsole>,
    Path((name, sequence)): Path<(String, String)>,
) -> Result<Json<Value>, ConsoleError> {
    let name = consumer(&name)?;
    match redrive::find(console.interim.as_ref(), name, &sequence).await? {
        Some(record) => Ok(Json(describe(&record, true))),
        None => Err(ConsoleError::NotFound { consumer: name.to_owned(), sequence }),
    }
}

#[derive(Debug, Deserialize)]
struct RedriveParams {
    sequence: Option<String>,
}

async fn redrive_letters(
    State(console): State<AwsConsole>,
    Path(name): Path<String>,
    Query(params): Query<RedriveParams>,
) -> Result<Json<Value>, ConsoleError> {
    let name = consumer(&name)?;
    let store = console.interim.as_ref();
    let records = match &params.sequence {
        Some(sequence) => redrive::find(store, name, sequence).await?.into_iter().collect(),
        None => redrive::parked(store, name).await?.1,
    };
    if records.is_empty() {
        let sequence = params.sequence.unwrap_or_else(|| "at all".to_owned());
        return Err(ConsoleError::NotFound { consumer: name.to_owned(), sequence });
    }
    let outcome = redrive::redrive(store, console.stream.as_ref(), records).await?;
    tracing::info!(
        consumer = name,
        redriven = outcome.redriven.len(),
        still_failing = outcome.still_failing.len(),
        "dead letters redriven"
    );
    Ok(Json(json!({
        "consumer": name,
        "redriven": outcome.redriven.len(),
        "back_on_the_stream": outcome.redriven,
        "still_failing": outcome.still_failing,
        "note": "back on the stream: both consumers read them again within seconds; one that fails again is parked again under its new sequence number",
    })))
}
