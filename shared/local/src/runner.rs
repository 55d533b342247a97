//! The local stand-in for the Lambda event source mapping: reads batches from the
//! embedded log after each consumer's checkpoint, hands them to the consumer function,
//! and moves the checkpoint only when every record is written or parked.
//!
//! - A record that can never succeed (not an event, refused by the store) is parked as
//!   a dead letter with its reason, at once; `tidemark dlq` lists and redrives them.
//! - A record that failed for a reason that can pass (the store is down, the disk is
//!   full) is retried, with a pause that doubles up to [`RunnerConfig::max_backoff`],
//!   for as long as it takes: it is never parked for being unlucky, and the checkpoint
//!   waits for it. Meanwhile [`ConsumerStats::stalled_since`] says since when, and
//!   `/healthz` reports the consumer as stuck.
//!
//! At-least-once: a crash (or a shutdown during retries) before the checkpoint replays
//! the batch, and the idempotent writes make the replay change nothing. A batch is
//! bounded in records and in bytes.

use crate::event_log::{parse_sequence_number, EventLog, LoggedRecord};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidemark_core::consume::{BatchOutcome, RecordFailure, StreamRecord};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub type ConsumerFuture = Pin<Box<dyn Future<Output = BatchOutcome> + Send>>;
/// A consumer function: a batch of records in (shared, so retries copy nothing but the
/// failed records), what failed out.
pub type ConsumerFn = Arc<dyn Fn(Arc<[StreamRecord]>) -> ConsumerFuture + Send + Sync>;

/// The default [`RunnerConfig::commit_interval`], in milliseconds.
pub const COMMIT_INTERVAL_MS: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Most records handed to the consumer at once (across shards).
    pub batch_size: usize,
    /// How long to let records gather after a wake-up, so a trickle is not
    /// committed one event at a time.
    pub linger: Duration,
    /// Longest sleep when nothing arrives (appends also wake the runner).
    pub idle_poll: Duration,
    /// Under steady load, batches start at least this far apart unless a full batch is
    /// waiting: each batch is one index commit (a new segment, later merged) and one
    /// key-value sync, so committing as often as possible spends the cores that
    /// ingest needs on segment churn. Also the longest extra delay before an event is
    /// searchable.
    pub commit_interval: Duration,
    /// Most bytes of record data handed to the consumer at once (across shards).
    pub batch_bytes: usize,
    /// First retry delay; doubles each attempt up to `max_backoff`.
    pub retry_backoff: Duration,
    /// Longest pause between two tries of records a store keeps failing.
    pub max_backoff: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch_size: 40_000,
            linger: Duration::from_millis(100),
            idle_poll: Duration::from_millis(500),
            commit_interval: Duration::from_millis(COMMIT_INTERVAL_MS),
            batch_bytes: 32 * 1024 * 1024,
            retry_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Counters since start, for `/v1/stats`.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub written: AtomicU64,
    pub duplicates: AtomicU64,
    pub retries: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub errors: AtomicU64,
    /// Unix milliseconds since when the current batch keeps failing; 0 while moving.
    pub stalled_since: AtomicU64,
    /// Unix milliseconds of the last checkpointed batch; 0 before the first.
    pub last_batch_at: AtomicU64,
    /// Why the current batch keeps failing (empty while moving).
    pub last_error: std::sync::Mutex<String>,
}

impl ConsumerStats {
    fn stalled(&self, reason: &str) {
        if self.stalled_since.load(Ordering::Relaxed) == 0 {
            self.stalled_since.store(now_millis(), Ordering::Relaxed);
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = reason.to_owned();
    }

    fn moving(&self) {
        self.stalled_since.store(0, Ordering::Relaxed);
        self.last_batch_at.store(now_millis(), Ordering::Relaxed);
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Why the consumer is stuck, if it is.
    pub fn stuck(&self) -> Option<(u64, String)> {
        let since = self.stalled_since.load(Ordering::Relaxed);
        (since > 0).then(|| (since, self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()))
    }
}

fn now_millis() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Runs `consumer` over `log` until `shutdown` turns true.
pub fn spawn(
    name: &'static str,
    log: EventLog,
    consumer: ConsumerFn,
    config: RunnerConfig,
    stats: Arc<ConsumerStats>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(consumer = name, shards = log.shard_count(), "consumer started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let started = Instant::now();
            match run_once(name, &log, &consumer, &config, &stats, &shutdown).await {
                Ok(0) => {
                    tokio::select! {
                        () = log.wait_for_append(config.idle_poll) => {}
                        _ = shutdown.changed() => {}
                    }
                    tokio::time::sleep(config.linger).await;
                }
                Ok(records) if records < config.batch_size => {
                    let rest = config.commit_interval.saturating_sub(started.elapsed());
                    tokio::select! {
                        () = tokio::time::sleep(rest) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(consumer = name, %error, "consumer pass failed; retrying");
                    tokio::time::sleep(config.idle_poll).await;
                }
            }
        }
        tracing::info!(consumer = name, "consumer stopped");
    })
}

/// One pass: read what is there, process it, checkpoint. Returns records handled (0
/// when a shutdown came during retries: nothing checkpointed, the batch replays).
pub async fn run_once(
    name: &str,
    log: &EventLog,
    consumer: &ConsumerFn,
    config: &RunnerConfig,
    stats: &ConsumerStats,
    shutdown: &watch::Receiver<bool>,
) -> Result<usize, crate::LogError> {
    let started = Instant::now();
    let batch = read_batch(name, log, config.batch_size, config.batch_bytes).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut last_per_shard: BTreeMap<usize, u64> = BTreeMap::new();
    for record in &batch {
        let last = last_per_shard.entry(record.shard).or_insert(record.seq);
        *last = (*last).max(record.seq);
    }
    let records = batch.len();
    let mut pending: Arc<[StreamRecord]> = batch.into_iter().map(LoggedRecord::into_stream_record).collect();
    let mut attempt = 1;
    let mut parked: Vec<(StreamRecord, String)> = Vec::new();
    loop {
        let outcome = consumer(Arc::clone(&pending)).await;
        stats.written.fetch_add(outcome.written as u64, Ordering::Relaxed);
        stats.duplicates.fetch_add(outcome.duplicates as u64, Ordering::Relaxed);
        let (retry, give_up, reason) = split_failures(&pending, outcome.failures);
        parked.extend(give_up);
        if retry.is_empty() {
            break;
        }
        stats.retries.fetch_add(retry.len() as u64, Ordering::Relaxed);
        stats.stalled(&reason);
        let pause = backoff(config, attempt);
        tracing::warn!(consumer = name, failed = retry.len(), attempt, pause_ms = pause.as_millis() as u64, %reason, "records failed; retrying them");
        let mut stop = shutdown.clone();
        if *stop.borrow() {
            return Ok(0);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return Ok(0),
        }
        pending = retry.into();
        attempt += 1;
    }
    stats.moving();

    for (record, reason) in &parked {
        let Some((shard, seq)) = parse_sequence_number(&record.sequence_number) else {
            tracing::error!(consumer = name, sequence = %record.sequence_number, "cannot park a record with a foreign sequence number");
            continue;
        };
        log.park(name, shard, seq, &record.data, reason)?;
        tracing::error!(consumer = name, shard = %record.shard_id, sequence = %record.sequence_number, %reason, "record dead-lettered");
    }
    stats.dead_lettered.fetch_add(parked.len() as u64, Ordering::Relaxed);

    for (shard, seq) in last_per_shard {
        log.commit_checkpoint(name, shard, seq)?;
    }
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.records.fetch_add(records as u64, Ordering::Relaxed);
    let elapsed = started.elapsed();
    tracing::debug!(
        consumer = name,
        records,
        dead_lettered = parked.len(),
        elapsed_ms = elapsed.as_millis() as u64,
        "batch consumed"
    );
    Ok(records)
}

/// The pause before retry number `attempt`: doubling from `retry_backoff`, capped.
fn backoff(config: &RunnerConfig, attempt: u32) -> Duration {
    config.retry_backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(config.max_backoff)
}

/// Up to `batch_size` records and `batch_bytes` of data, shared out over the shards;
/// each shard's part is a prefix of what follows its checkpoint (at least one record).
async fn read_batch(
    name: &str,
    log: &EventLog,
    batch_size: usize,
    batch_bytes: usize,
) -> Result<Vec<LoggedRecord>, crate::LogError> {
    let log = log.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::new();
        let shards = log.shard_count();
        let share = batch_size.div_ceil(shards).max(1);
        let bytes_share = batch_bytes.div_ceil(shards).max(1);
        for shard in 0..shards {
            let after = log.checkpoint(&name, shard)?;
            let head = log.head(shard);
            if head.is_none() || head == after {
                continue;
            }
            let mut bytes = 0;
            for record in log.read(shard, after, share)? {
                bytes += record.data.len();
                if bytes > bytes_share && bytes != record.data.len() {
                    break;
                }
                batch.push(record);
            }
        }
        Ok(batch)
    })
    .await
    .map_err(|_| crate::LogError::WriterStopped)?
}

/// Splits failures into those to retry (the store may recover) and those to park now
/// (they can never succeed), with the first retryable reason for the stats.
fn split_failures(
    pending: &[StreamRecord],
    failures: Vec<RecordFailure>,
) -> (Vec<StreamRecord>, Vec<(StreamRecord, String)>, String) {
    let by_sequence: HashMap<&str, &StreamRecord> =
        pending.iter().map(|record| (record.sequence_number.as_str(), record)).collect();
    let mut retry = Vec::new();
    let mut give_up = Vec::new();
    let mut reason = String::new();
    for failure in failures {
        let Some(record) = by_sequence.get(failure.sequence_number.as_str()) else {
            tracing::warn!(sequence = %failure.sequence_number, "consumer reported a failure for a record it was not given");
            continue;
        };
        if failure.retryable {
            if reason.is_empty() {
                reason = failure.reason;
            }
            retry.push((*record).clone());
        } else {
            give_up.push(((*record).clone(), failure.reason));
        }
    }
    debug_assert!(retry.iter().all(|record| parse_sequence_number(&record.sequence_number).is_some()));
    (retry, give_up, reason)
}

#[cfg(test)]
mod tests;
