//! `GET /healthz`, telling the truth: `200` only when every part works, `503` with the
//! reasons otherwise. It checks that the log's writer is running, that each consumer
//! is moving (not stuck retrying a failing store, not idle with records waiting), how
//! far behind the consumers are, and the disk: below its high-water mark of free space
//! ingest is paused (answers `503`) before a store fails, and health says so.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tidemark_core::ingest::Ingestor;
use tidemark_local::{ConsumerStats, EventLog};

use crate::consumers::{STREAM_INDEX, STREAM_STORE};

/// A consumer with records waiting that has checkpointed nothing for this long is
/// reported as not moving.
const NOT_MOVING_AFTER: Duration = Duration::from_secs(60);

/// Free space on the data directory's file system, watched every few seconds.
pub struct DiskWatch {
    pub dir: PathBuf,
    /// Below this many free bytes ingest pauses.
    pub min_free: u64,
    pub free: AtomicU64,
}

impl DiskWatch {
    pub fn new(dir: PathBuf, min_free: u64) -> Self {
        Self { dir, min_free, free: AtomicU64::new(u64::MAX) }
    }

    /// Reads the free space and pauses or resumes ingest by it.
    pub fn check(&self, ingestor: &Ingestor) {
        let free = match fs4::available_space(&self.dir) {
            Ok(free) => free,
            Err(error) => {
                tracing::warn!(%error, dir = %self.dir.display(), "free space unknown");
                return;
            }
        };
        self.free.store(free, Ordering::Relaxed);
        let full = free < self.min_free;
        match (full, ingest_paused(ingestor)) {
            (true, false) => {
                let reason = format!(
                    "disk nearly full: {} MiB free on {}, the high-water mark is {} MiB",
                    free / MIB,
                    self.dir.display(),
                    self.min_free / MIB
                );
                tracing::error!(%reason, "ingest paused");
                ingestor.pause(reason);
            }
            (false, true) => {
                tracing::info!(free_mib = free / MIB, "disk has room again; ingest resumed");
                ingestor.resume();
            }
            _ => {}
        }
    }

    /// Checks every two seconds until shutdown.
    pub async fn run(self: Arc<Self>, ingestor: Arc<Ingestor>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            self.check(&ingestor);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
}

const MIB: u64 = 1024 * 1024;

fn ingest_paused(ingestor: &Ingestor) -> bool {
    ingestor.paused().is_some()
}

#[derive(Clone)]
pub struct HealthState {
    pub log: EventLog,
    pub ingestor: Arc<Ingestor>,
    pub disk: Arc<DiskWatch>,
    pub indexer: Arc<ConsumerStats>,
    pub storer: Arc<ConsumerStats>,
}

pub fn router<S>(state: HealthState) -> Router<S> {
    Router::new().route("/healthz", get(healthz)).with_state(state)
}

async fn healthz(State(state): State<HealthState>) -> Response {
    let (reasons, checks) = assess(&state);
    let status = if reasons.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if reasons.is_empty() { "ok" } else { "unhealthy" },
        "reasons": reasons,
        "checks": checks,
    });
    (status, Json(body)).into_response()
}

/// The reasons the stack is unhealthy (none: healthy) and what was checked.
fn assess(state: &HealthState) -> (Vec<String>, Value) {
    let mut reasons = Vec::new();
    if !state.log.writer_running() {
        reasons.push("the event log's writer has stopped: nothing can be accepted".to_owned());
    }
    if let Some(reason) = state.ingestor.paused() {
        reasons.push(reason);
    }
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let mut consumers = serde_json::Map::new();
    for (name, stats) in [(STREAM_INDEX, &state.indexer), (STREAM_STORE, &state.storer)] {
        let lag: u64 = (0..state.log.shard_count()).map(|shard| state.log.lag(name, shard).unwrap_or(0)).sum();
        let last = stats.last_batch_at.load(Ordering::Relaxed);
        if let Some((since, error)) = stats.stuck() {
            let seconds = now.saturating_sub(since) / 1000;
            reasons.push(format!("{name} has been retrying for {seconds} s: {error}"));
        } else if lag > 0 && last > 0 && now.saturating_sub(last) > NOT_MOVING_AFTER.as_millis() as u64 {
            reasons.push(format!("{name} is not moving: {lag} records waiting"));
        }
        consumers.insert(name.to_owned(), json!({"lag": lag, "last_batch_at_ms": last}));
    }
    let free = state.disk.free.load(Ordering::Relaxed);
    let checks = json!({
        "log_writer": state.log.writer_running(),
        "consumers": consumers,
        "disk": {"free_bytes": (free != u64::MAX).then_some(free), "min_free_bytes": state.disk.min_free},
    });
    (reasons, checks)
}
