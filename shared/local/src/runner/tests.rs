//! The runner's rules, on a real log with a consumer that fails on command.

use super::*;
use std::sync::atomic::AtomicU32;
use tidemark_core::consume::BatchOutcome;
use tidemark_core::ports::stream::{EventStream, StreamRecordIn};

fn config() -> RunnerConfig {
    RunnerConfig {
        retry_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        commit_interval: Duration::from_millis(5),
        ..RunnerConfig::default()
    }
}

async fn log_with(dir: &std::path::Path, count: usize, bytes: usize) -> EventLog {
    let log = EventLog::open(dir, 2).unwrap();
    let records =
        (0..count).map(|n| StreamRecordIn { partition_key: format!("k{n}"), data: vec![b'x'; bytes] }).collect();
    log.put_records(records).await.unwrap();
    log
}

/// A consumer that fails every record with `retryable` for its first `failing` calls.
fn flaky(failing: u32, retryable: bool, calls: Arc<AtomicU32>) -> ConsumerFn {
    Arc::new(move |records: Arc<[StreamRecord]>| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if call < failing {
                let failures = records
                    .iter()
                    .map(|r| RecordFailure {
                        sequence_number: r.sequence_number.clone(),
                        retryable,
                        reason: "store unavailable: disk I/O error".into(),
                    })
                    .collect();
                return BatchOutcome { failures, ..BatchOutcome::default() };
            }
            BatchOutcome { written: records.len(), ..BatchOutcome::default() }
        })
    })
}

fn checkpoints(log: &EventLog) -> Vec<Option<u64>> {
    (0..log.shard_count()).map(|shard| log.checkpoint("c", shard).unwrap()).collect()
}

/// A store that keeps failing is retried past any attempt count; nothing is parked and
/// the checkpoint waits until every record is written.
#[tokio::test]
async fn retryable_failures_are_retried_until_they_pass_and_never_parked() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 20, 10).await;
    let calls = Arc::new(AtomicU32::new(0));
    let stats = ConsumerStats::default();
    let (_stop, shutdown) = watch::channel(false);
    let handled = run_once("c", &log, &flaky(8, true, Arc::clone(&calls)), &config(), &stats, &shutdown).await.unwrap();
    assert_eq!((handled, calls.load(Ordering::SeqCst)), (20, 9));
    assert_eq!(stats.written.load(Ordering::Relaxed), 20);
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);
    assert!(log.dead_letters("c").unwrap().is_empty());
    assert!(checkpoints(&log).iter().all(Option::is_some));
    assert!(stats.stuck().is_none(), "moving again");
}

/// While it fails, the consumer says it is stuck and why; a shutdown then leaves the
/// checkpoint where it was, so the batch replays at the next start.
#[tokio::test]
async fn a_shutdown_during_retries_checkpoints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 10, 10).await;
    let stats = Arc::new(ConsumerStats::default());
    let (stop, shutdown) = watch::channel(false);
    let consumer = flaky(u32::MAX, true, Arc::new(AtomicU32::new(0)));
    let task = {
        let (log, stats) = (log.clone(), Arc::clone(&stats));
        tokio::spawn(async move { run_once("c", &log, &consumer, &config(), &stats, &shutdown).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (since, reason) = stats.stuck().expect("stuck while the store fails");
    assert!(since > 0 && reason.contains("disk I/O error"), "{reason}");
    stop.send(true).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), 0);
    assert_eq!(checkpoints(&log), vec![None, None], "nothing checkpointed");
    assert!(log.dead_letters("c").unwrap().is_empty());
}

/// A record that can never succeed is parked at once, with its reason.
#[tokio::test]
async fn permanent_failures_are_parked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 6, 10).await;
    let calls = Arc::new(AtomicU32::new(0));
    let stats = ConsumerStats::default();
    let (_stop, shutdown) = watch::channel(false);
    run_once("c", &log, &flaky(1, false, Arc::clone(&calls)), &config(), &stats, &shutdown).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(log.dead_letters("c").unwrap().len(), 6);
    assert!(checkpoints(&log).iter().all(Option::is_some));
}

/// Batches are bounded in bytes as well as in records.
#[tokio::test]
async fn batches_are_bounded_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), 40, 1_000).await;
    let batch = read_batch("c", &log, 1_000, 8_000).await.unwrap();
    let bytes: usize = batch.iter().map(|r| r.data.len()).sum();
    assert!(bytes <= 8_000 && !batch.is_empty(), "{} records, {bytes} bytes", batch.len());
    let huge = read_batch("c", &log, 1_000, 10).await.unwrap();
    assert_eq!(huge.len(), 2, "one record per shard even when a single one is over the bound");
}
