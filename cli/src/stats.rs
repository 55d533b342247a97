//! `GET /healthz` and `GET /v1/stats` for the local stack.

use crate::consumers::{STREAM_INDEX, STREAM_STORE};
use crate::retention::LastPass;
use crate::udp::UdpCounters;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tidemark_core::ingest::IngestCounters;
use tidemark_local::event_log::shard_id;
use tidemark_local::{ConsumerStats, EventLog, TantivyIndex};

#[derive(Clone)]
pub struct StatsState {
    pub log: EventLog,
    pub index: TantivyIndex,
    pub ingest: Arc<IngestCounters>,
    pub udp: Arc<UdpCounters>,
    pub indexer: Arc<ConsumerStats>,
    pub storer: Arc<ConsumerStats>,
    pub retention: LastPass,
}

/// `/v1/stats`, for the read side.
pub fn router(state: StatsState) -> Router {
    Router::new().route("/v1/stats", get(stats)).with_state(state)
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Records behind the consumer in each shard.
pub fn shard_lag(log: &EventLog) -> Result<Vec<Value>, tidemark_local::LogError> {
    let mut shards = Vec::with_capacity(log.shard_count());
    for shard in 0..log.shard_count() {
        let head = log.head(shard);
        let mut consumers = serde_json::Map::new();
        for consumer in [STREAM_INDEX, STREAM_STORE] {
            let checkpoint = log.checkpoint(consumer, shard)?;
            consumers.insert(consumer.to_owned(), json!({"checkpoint": checkpoint, "lag": log.lag(consumer, shard)?}));
        }
        shards.push(json!({"shard_id": shard_id(shard), "head": head, "consumers": consumers}));
    }
    Ok(shards)
}

/// The log's group commits since start: each one atomic batch and one fsync.
fn group_commits(log: &EventLog) -> Value {
    let commits = log.commit_stats();
    json!({
        "groups": commits.groups, "requests": commits.requests, "records": commits.records,
        "mean_requests_per_group": commits.mean_requests(), "mean_commit_micros": commits.mean_commit_micros(),
    })
}

async fn stats(State(state): State<StatsState>) -> Response {
    let shards = match shard_lag(&state.log) {
        Ok(shards) => shards,
        Err(error) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": error.to_string()}))).into_response()
        }
    };
    let consumer = |name: &str, stats: &ConsumerStats| {
        let parked = state.log.dead_letters(name).map(|letters| letters.len()).ok();
        json!({
            "records": load(&stats.records), "batches": load(&stats.batches), "written": load(&stats.written),
            "duplicates_absorbed": load(&stats.duplicates), "retries": load(&stats.retries),
            "dead_lettered": load(&stats.dead_lettered), "errors": load(&stats.errors),
            "dead_letters": parked,
            "stuck": stats.stuck().map(|(since, error)| json!({"since_ms": since, "error": error})),
        })
    };
    let retention = state.retention.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Json(json!({
        "ingest": {
            "accepted": load(&state.ingest.accepted) ,
            "rejected": load(&state.ingest.rejected),
            "failed": load(&state.ingest.failed),
            "unauthorized": load(&state.ingest.unauthorized),
        },
        "udp": {
            "datagrams": load(&state.udp.datagrams), "accepted": load(&state.udp.accepted),
            "rejected": load(&state.udp.rejected), "unauthorized": load(&state.udp.unauthorized),
            "failed": load(&state.udp.failed), "shed": load(&state.udp.shed),
            "kernel_drops": state.udp.kernel_drops(), "queued_bytes": load(&state.udp.queued_bytes),
            "receive_buffer_bytes": load(&state.udp.receive_buffer),
        },
        "stream": {"shards": shards, "group_commits": group_commits(&state.log)},
        "index": {"documents": state.index.num_docs(), "consumer": consumer(STREAM_INDEX, &state.indexer)},
        "store": {"consumer": consumer(STREAM_STORE, &state.storer)},
        "retention": retention,
    }))
    .into_response()
}
