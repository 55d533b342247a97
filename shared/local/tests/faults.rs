//! The fault suite on the embedded stores: each consumer's store fails on command
//! (down, then refusing), under the real runner and the real consumer functions. While
//! a store is down nothing is checkpointed, nothing is parked, and the runner says it
//! is stuck and why; once it is back every event is stored exactly once. A store that
//! refuses parks what it refused, visibly, and a redrive after the repair loses nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tidemark_core::consume::{index_batch, store_batch, StreamRecord};
use tidemark_core::contract::sample_event;
use tidemark_core::event::EventType;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::memory::{Fault, Faulty};
use tidemark_core::ports::stream::{EventStream, StreamRecordIn};
use tidemark_core::ports::{KvStore, SearchIndex};
use tidemark_core::search::{Query, SearchRequest};
use tidemark_local::runner::{self, ConsumerFn, ConsumerFuture, RunnerConfig};
use tidemark_local::{ConsumerStats, EventLog, FjallKvStore, TantivyIndex};
use tokio::sync::watch;

const EVENTS: usize = 300;

fn config() -> RunnerConfig {
    RunnerConfig {
        retry_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        linger: Duration::from_millis(5),
        commit_interval: Duration::from_millis(5),
        ..RunnerConfig::default()
    }
}

async fn put_events(log: &EventLog, from: usize, count: usize) {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("a valid time");
    let records = (from..from + count)
        .map(|n| {
            let event = sample_event(&format!("e{n}"), EventType::PageView, at, "EU", None);
            StreamRecordIn { partition_key: format!("k{n}"), data: event.to_record_bytes() }
        })
        .collect();
    log.put_records(records).await.expect("put");
}

fn lag(log: &EventLog, consumer: &str) -> u64 {
    (0..log.shard_count()).map(|shard| log.lag(consumer, shard).expect("lag")).sum()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stored(kv: &dyn KvStore) -> usize {
    // Events and their markers.
    kv.scan(None, 100_000).await.expect("scan").len() / 2
}

async fn indexed(index: &dyn SearchIndex) -> u64 {
    index.search(&SearchRequest { query: Query::MatchAll, aggs: Default::default() }).await.expect("search").total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_holds_the_checkpoint_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(&dir.path().join("log"), 4).unwrap();
    let kv = Arc::new(Faulty::new(FjallKvStore::open(&dir.path().join("kv")).unwrap()));
    let index = Arc::new(Faulty::new(TantivyIndex::open(&dir.path().join("index")).unwrap()));
    let layout = KvLayout::default();
    let (stop, shutdown) = watch::channel(false);
    let (store_stats, index_stats) = (Arc::new(ConsumerStats::default()), Arc::new(ConsumerStats::default()));
    let store_fn: ConsumerFn = {
        let kv = Arc::clone(&kv);
        Arc::new(move |records: Arc<[StreamRecord]>| -> ConsumerFuture {
            let (kv, layout) = (Arc::clone(&kv), layout.clone());
            Box::pin(async move { store_batch(&records, kv.as_ref(), &layout).await })
        })
    };
    let index_fn: ConsumerFn = {
        let index = Arc::clone(&index);
        Arc::new(move |records: Arc<[StreamRecord]>| -> ConsumerFuture {
            let index = Arc::clone(&index);
            Box::pin(async move { index_batch(&records, index.as_ref()).await })
        })
    };
    let tasks = [
        runner::spawn("store", log.clone(), store_fn, config(), Arc::clone(&store_stats), shutdown.clone()),
        runner::spawn("index", log.clone(), index_fn, config(), Arc::clone(&index_stats), shutdown.clone()),
    ];

    // Down: retried, said, never checkpointed, never parked.
    kv.set(Fault::Unavailable);
    index.set(Fault::Unavailable);
    put_events(&log, 0, EVENTS).await;
    until("both consumers say they are stuck", || store_stats.stuck().is_some() && index_stats.stuck().is_some()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store_stats.stuck().unwrap().1.contains("injected fault"), "the reason is the store's");
    assert_eq!((lag(&log, "store"), lag(&log, "index")), (EVENTS as u64, EVENTS as u64), "nothing checkpointed");
    assert!(store_stats.retries.load(Ordering::Relaxed) > 1);
    assert!(log.dead_letters("store").unwrap().is_empty() && log.dead_letters("index").unwrap().is_empty());

    // Back: every event once, and the runners say they move again.
    kv.set(Fault::None);
    index.set(Fault::None);
    until("both consumers caught up", || lag(&log, "store") == 0 && lag(&log, "index") == 0).await;
    assert_eq!(stored(kv.inner()).await, EVENTS);
    assert_eq!(indexed(index.inner()).await, EVENTS as u64);
    assert!(store_stats.stuck().is_none() && index_stats.stuck().is_none());

    // Refusing (a poisoned store): what it refuses is parked with the reason, the
    // consumer moves on, and nothing is silent.
    index.set(Fault::Rejecting);
    put_events(&log, EVENTS, 10).await;
    until("the index consumer moved past the refused records", || lag(&log, "index") == 0).await;
    let parked = log.dead_letters("index").unwrap();
    assert_eq!(parked.len(), 10);
    assert!(parked.iter().all(|letter| letter.reason.contains("injected fault")));
    assert_eq!(index_stats.dead_lettered.load(Ordering::Relaxed), 10);
    // Repaired, redriven through the same consumer: nothing lost.
    index.set(Fault::None);
    let records: Vec<StreamRecord> = parked
        .iter()
        .map(|l| StreamRecord { shard_id: String::new(), sequence_number: l.seq.to_string(), data: l.data.clone() })
        .collect();
    assert!(index_batch(&records, index.as_ref()).await.failures.is_empty());
    assert_eq!(indexed(index.inner()).await, EVENTS as u64 + 10);

    stop.send(true).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}

/// The journal files (`<id>.jnl`) of the log under `dir` with where their data ends,
/// oldest first. fjall sizes a journal ahead of its writes, zeros after the data.
fn journals(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut files: Vec<(u64, std::path::PathBuf)> = walk(dir)
        .into_iter()
        .filter_map(|p| Some((p.file_name()?.to_str()?.strip_suffix(".jnl")?.parse().ok()?, p.clone())))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| {
            let bytes = std::fs::read(&p).expect("journal");
            let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |last| last as u64 + 1);
            (p, end)
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn closed(log: EventLog) {
    let done = log.take_writer_done().expect("first taker");
    drop(log);
    done.await.expect("the writer stops");
}

fn records(log: &EventLog) -> usize {
    (0..log.shard_count()).map(|shard| log.read(shard, None, usize::MAX).expect("read").len()).sum()
}

/// Records 0..100 are acknowledged; the next put is cut halfway through its write, as
/// a crash during the group commit's sync would leave it (never acknowledged). The log
/// reopens without it, every acknowledged record is there, and puts go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_write_is_dropped_and_every_acknowledged_record_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = EventLog::open(&path, 4).unwrap();
    put_events(&log, 0, 100).await;
    closed(log).await;
    let before = journals(&path);

    let log = EventLog::open(&path, 4).unwrap();
    put_events(&log, 100, 1).await;
    closed(log).await;
    // The journal the last put went to, and how far it was before the put.
    let (journal, written) = journals(&path).pop().expect("a journal");
    let acknowledged = before.iter().find(|(p, _)| *p == journal).map_or(0, |(_, len)| *len);
    assert!(written > acknowledged, "the last put is in the newest journal");
    // A crash halfway through writing it: the rest of the batch never reached the disk.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[(acknowledged + (written - acknowledged) / 2) as usize..].fill(0);
    std::fs::write(&journal, bytes).unwrap();

    let log = EventLog::open(&path, 4).expect("a torn tail is recovered, not refused");
    assert_eq!(records(&log), 100);
    put_events(&log, 200, 5).await;
    assert_eq!(records(&log), 105);
}

/// A byte of the last, synced batch is flipped on disk. The log refuses to open and
/// says why, rather than start without an acknowledged record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_last_record_is_refused_loudly_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = EventLog::open(&path, 4).unwrap();
    put_events(&log, 0, 100).await;
    closed(log).await;
    let (journal, end) = journals(&path).pop().expect("a journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    let last_value = end as usize - 40;
    bytes[last_value] ^= 0x55;
    std::fs::write(&journal, bytes).unwrap();

    let error = EventLog::open(&path, 4).err().expect("a damaged journal is refused");
    let message = error.to_string();
    assert!(matches!(error, tidemark_local::LogError::JournalDamaged { .. }), "{message}");
    assert!(message.contains("is damaged") && message.contains("nothing is dropped silently"), "{message}");
}
