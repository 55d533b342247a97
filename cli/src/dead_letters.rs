//! Dead letters over HTTP, on the read side (and through `tidemark dlq`): list them,
//! show one with its payload, redrive one or all through the consumer again. A
//! redriven record that goes through leaves the dead-letter list; one that fails again
//! stays, with the new reason in the answer.
//!
//! - `GET /v1/dead-letters`
//! - `GET /v1/dead-letters/{consumer}/{sequence}`
//! - `POST /v1/dead-letters/{consumer}/redrive[?sequence=S]`

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tidemark_core::consume::StreamRecord;
use tidemark_local::event_log::{parse_sequence_number, sequence_number, shard_id, DeadLetter};
use tidemark_local::runner::ConsumerFn;
use tidemark_local::EventLog;

/// Letters listed per consumer at most.
const LIST_LIMIT: usize = 1_000;

#[derive(Clone)]
pub struct DeadLetterState {
    pub log: EventLog,
    /// Each consumer by name, to redrive through.
    pub consumers: Arc<BTreeMap<&'static str, ConsumerFn>>,
}

pub fn router<S>(state: DeadLetterState) -> Router<S> {
    Router::new()
        .route("/v1/dead-letters", get(list))
        .route("/v1/dead-letters/{consumer}/{sequence}", get(show))
        .route("/v1/dead-letters/{consumer}/redrive", post(redrive))
        .with_state(state)
}

/// Why a dead-letter request failed, and the status that says so.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("no consumer {name:?}; use one of {known:?}")]
    UnknownConsumer { name: String, known: Vec<&'static str> },
    #[error("sequence {0:?} is not a sequence number")]
    BadSequence(String),
    #[error("no dead letters {what} for {consumer}")]
    NotFound { consumer: String, what: String },
    #[error(transparent)]
    Log(#[from] tidemark_local::LogError),
}

impl IntoResponse for DeadLetterError {
    fn into_response(self) -> Response {
        let status = match &self {
            DeadLetterError::UnknownConsumer { .. } | DeadLetterError::NotFound { .. } => StatusCode::NOT_FOUND,
            DeadLetterError::BadSequence(_) => StatusCode::BAD_REQUEST,
            DeadLetterError::Log(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The letter as JSON; the payload as text when it is UTF-8, else its length only.
fn describe(letter: &DeadLetter, with_payload: bool) -> Value {
    let text = std::str::from_utf8(&letter.data).ok();
    let mut out = json!({
        "consumer": letter.consumer,
        "shard_id": shard_id(letter.shard),
        "sequence_number": sequence_number(letter.shard, letter.seq),
        "reason": letter.reason,
        "parked_at": letter.parked_at.as_ref().map(tidemark_core::event::millis_rfc3339::format),
        "bytes": letter.data.len(),
    });
    if with_payload {
        out["payload"] = text.map_or(Value::Null, |t| serde_json::from_str(t).unwrap_or(Value::String(t.into())));
        out["payload_is_utf8"] = json!(text.is_some());
    } else {
        out["preview"] = json!(String::from_utf8_lossy(&letter.data).chars().take(120).collect::<String>());
    }
    out
}

async fn list(State(state): State<DeadLetterState>) -> Result<Json<Value>, DeadLetterError> {
    let mut consumers = serde_json::Map::new();
    for name in state.consumers.keys() {
        let letters = state.log.dead_letters(name)?;
        let listed: Vec<Value> = letters.iter().take(LIST_LIMIT).map(|l| describe(l, false)).collect();
        consumers.insert((*name).to_owned(), json!({"count": letters.len(), "letters": listed}));
    }
    Ok(Json(json!({ "consumers": consumers })))
}

/// The consumer a path names, or why it names none.
fn consumer(state: &DeadLetterState, name: &str) -> Result<ConsumerFn, DeadLetterError> {
    state.consumers.get(name).cloned().ok_or_else(|| DeadLetterError::UnknownConsumer {
        name: name.to_owned(),
        known: state.consumers.keys().copied().collect(),
    })
}

fn position(sequence: &str) -> Result<(usize, u64), DeadLetterError> {
    parse_sequence_number(sequence).ok_or_else(|| DeadLetterError::BadSequence(sequence.to_owned()))
}

async fn show(
    State(state): State<DeadLetterState>,
    Path((name, sequence)): Path<(String, String)>,
) -> Result<Json<Value>, DeadLetterError> {
    consumer(&state, &name)?;
    let (shard, seq) = position(&sequence)?;
    match state.log.dead_letter(&name, shard, seq)? {
        Some(letter) => Ok(Json(describe(&letter, true))),
        None => Err(DeadLetterError::NotFound { consumer: name, what: sequence }),
    }
}

#[derive(Debug, Deserialize)]
struct RedriveParams {
    sequence: Option<String>,
}

async fn redrive(
    State(state): State<DeadLetterState>,
    Path(name): Path<String>,
    Query(params): Query<RedriveParams>,
) -> Result<Json<Value>, DeadLetterError> {
    let run = consumer(&state, &name)?;
    let letters: Vec<DeadLetter> = match &params.sequence {
        Some(sequence) => {
            let (shard, seq) = position(sequence)?;
            state.log.dead_letter(&name, shard, seq)?.into_iter().collect()
        }
        None => state.log.dead_letters(&name)?,
    };
    if letters.is_empty() {
        let what = params.sequence.unwrap_or_else(|| "at all".to_owned());
        return Err(DeadLetterError::NotFound { consumer: name, what });
    }
    let records: Arc<[StreamRecord]> = letters
        .iter()
        .map(|l| StreamRecord {
            shard_id: shard_id(l.shard),
            sequence_number: sequence_number(l.shard, l.seq),
            data: l.data.clone(),
        })
        .collect();
    let outcome = run(Arc::clone(&records)).await;
    let failed: HashMap<&str, &str> =
        outcome.failures.iter().map(|f| (f.sequence_number.as_str(), f.reason.as_str())).collect();
    let mut redriven = 0;
    let mut still_failing = Vec::new();
    for letter in &letters {
        let sequence = sequence_number(letter.shard, letter.seq);
        match failed.get(sequence.as_str()) {
            Some(reason) => still_failing.push(json!({"sequence_number": sequence, "reason": reason})),
            None => {
                state.log.unpark(&name, letter.shard, letter.seq)?;
                redriven += 1;
            }
        }
    }
    tracing::info!(consumer = name, redriven, still_failing = still_failing.len(), "dead letters redriven");
    Ok(Json(json!({"consumer": name, "redriven": redriven, "still_failing": still_failing})))
}
