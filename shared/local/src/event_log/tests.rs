use super::*;
use tidemark_core::ports::stream::{EventStream, PutOutcome, StreamRecordIn};

fn records(prefix: &str, count: usize) -> Vec<StreamRecordIn> {
    (0..count)
        .map(|n| StreamRecordIn { partition_key: format!("{prefix}-{n}"), data: format!("payload {n}").into_bytes() })
        .collect()
}

fn read_all(log: &EventLog) -> Vec<LoggedRecord> {
    (0..log.shard_count()).flat_map(|shard| log.read(shard, None, usize::MAX).unwrap()).collect()
}

#[tokio::test]
async fn put_then_read_back_in_order_per_shard() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 4).unwrap();
    let outcomes = log.put_records(records("a", 200)).await.unwrap();
    assert!(outcomes.iter().all(|outcome| matches!(outcome, PutOutcome::Stored { .. })));
    let all = read_all(&log);
    assert_eq!(all.len(), 200);
    for shard in 0..4 {
        let seqs: Vec<u64> = log.read(shard, None, usize::MAX).unwrap().iter().map(|r| r.seq).collect();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "shard {shard} is dense and ordered");
    }
    let after_first = log.read(0, Some(0), 10).unwrap();
    assert!(after_first.iter().all(|record| record.seq >= 1));
}

#[tokio::test]
async fn survives_reopen_and_continues_sequence() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path(), 2).unwrap();
        log.put_records(records("a", 50)).await.unwrap();
        log.commit_checkpoint("index", 0, 3).unwrap();
    }
    let log = EventLog::open(dir.path(), 2).unwrap();
    assert_eq!(read_all(&log).len(), 50);
    assert_eq!(log.checkpoint("index", 0).unwrap(), Some(3));
    assert_eq!(log.checkpoint("store", 0).unwrap(), None);
    let heads_before: Vec<Option<u64>> = (0..2).map(|shard| log.head(shard)).collect();
    log.put_records(records("b", 50)).await.unwrap();
    assert_eq!(read_all(&log).len(), 100);
    for (shard, head_before) in heads_before.iter().enumerate() {
        let seqs: Vec<u64> = log.read(shard, None, usize::MAX).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        assert!(log.head(shard) >= *head_before);
    }
    assert!(EventLog::open(dir.path(), 3).is_err(), "shard count is fixed once created");
}

#[tokio::test]
async fn concurrent_puts_are_group_committed_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 4).unwrap();
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.put_records(records(&format!("w{writer}"), 100)).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 100);
    }
    let all = read_all(&log);
    assert_eq!(all.len(), 1600);
    let mut keys: Vec<&str> = all.iter().map(|record| record.partition_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 1600);
    let commits = log.commit_stats();
    assert_eq!((commits.requests, commits.records), (16, 1600), "every put is counted once, with its records");
    assert!((1..=16).contains(&commits.groups), "puts share groups: {commits:?}");
}

#[tokio::test]
async fn readers_stop_at_the_last_synced_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 1).unwrap();
    log.put_records(records("a", 3)).await.unwrap();
    assert_eq!(log.head(0), Some(2));
    // A record committed but not yet synced, as the writer leaves it between its
    // batch commit and its fsync: in the shard, past the head.
    let pending = codec::encode_record(0, "late", b"not yet durable");
    log.shared.shards[0].insert(3u64.to_be_bytes(), pending).unwrap();
    let seqs: Vec<u64> = log.read(0, None, usize::MAX).unwrap().iter().map(|record| record.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    assert!(log.read(0, Some(2), usize::MAX).unwrap().is_empty());
}

#[tokio::test]
async fn dead_letters_keep_reason_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 1).unwrap();
    log.put_records(vec![StreamRecordIn { partition_key: "p".into(), data: vec![0xff, 0x00, 0x01] }]).await.unwrap();
    let record = log.read(0, None, 1).unwrap().remove(0);
    log.park("index", record.shard, record.seq, &record.data, "record is not an event").unwrap();
    let parked = log.dead_letters("index").unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason, "record is not an event");
    assert_eq!(parked[0].data, vec![0xff, 0x00, 0x01]);
    assert!(parked[0].parked_at.is_some_and(|at| (chrono::Utc::now() - at).num_seconds() < 60));
    assert!(log.dead_letters("store").unwrap().is_empty());
    assert_eq!(log.dead_letter("index", record.shard, record.seq).unwrap(), Some(parked[0].clone()));
    log.unpark("index", record.shard, record.seq).unwrap();
    assert!(log.dead_letters("index").unwrap().is_empty());
}

/// A letter parked before parking times were kept still reads, and expires first.
#[tokio::test]
async fn dead_letters_expire_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 1).unwrap();
    let mut legacy = (6u32).to_be_bytes().to_vec();
    legacy.extend_from_slice(b"reason");
    legacy.extend_from_slice(b"data");
    log.shared.dead_letters.insert(codec::dead_letter_key("index", 0, 1), legacy).unwrap();
    log.park("index", 0, 2, b"new", "fresh").unwrap();
    let letters = log.dead_letters("index").unwrap();
    assert_eq!((letters[0].reason.as_str(), letters[0].parked_at), ("reason", None));
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(log.expire_dead_letters("index", an_hour_ago).unwrap(), 1);
    assert_eq!(log.dead_letters("index").unwrap().len(), 1, "the fresh one stays");
    assert_eq!(log.expire_dead_letters("index", chrono::Utc::now() + chrono::Duration::seconds(1)).unwrap(), 1);
}

/// The log shrinks below the lowest checkpoint once records are old enough; what a
/// consumer has not finished, and the newest record of a shard, stay.
#[tokio::test]
async fn trim_keeps_what_any_consumer_still_needs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path(), 1).unwrap();
        log.put_records(records("a", 10)).await.unwrap();
        let later = chrono::Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(log.trim(&["index", "store"], later).unwrap(), 0, "no consumer has started");
        log.commit_checkpoint("index", 0, 7).unwrap();
        log.commit_checkpoint("store", 0, 4).unwrap();
        assert_eq!(
            log.trim(&["index", "store"], chrono::Utc::now() - chrono::Duration::hours(1)).unwrap(),
            0,
            "too young"
        );
        assert_eq!(log.trim(&["index", "store"], later).unwrap(), 5, "up to store's checkpoint");
        assert_eq!(log.read(0, None, usize::MAX).unwrap().first().map(|r| r.seq), Some(5));
        log.commit_checkpoint("store", 0, 9).unwrap();
        log.commit_checkpoint("index", 0, 9).unwrap();
        assert_eq!(log.trim(&["index", "store"], later).unwrap(), 4, "all but the newest");
    }
    let log = EventLog::open(dir.path(), 1).unwrap();
    assert_eq!(log.head(0), Some(9), "the sequence carries on after a reopen");
    log.put_records(records("b", 1)).await.unwrap();
    assert_eq!(log.head(0), Some(10));
}

#[test]
fn sequence_numbers_are_unique_and_ordered() {
    assert_eq!(parse_sequence_number(&sequence_number(3, 42)), Some((3, 42)));
    assert_ne!(sequence_number(0, 5), sequence_number(1, 5));
    assert!(sequence_number(2, 9) < sequence_number(2, 10));
    assert_eq!(parse_sequence_number("12"), None);
}

proptest::proptest! {
    /// The hand-written digits say exactly what `format!` would, overflow included.
    #[test]
    fn ids_match_the_formatter(shard in proptest::prop_oneof![0usize..300, 0usize..2_000_000], seq: u64) {
        proptest::prop_assert_eq!(sequence_number(shard, seq), format!("{seq:020}{shard:05}"));
        proptest::prop_assert_eq!(shard_id(shard), format!("shardId-{shard:012}"));
        if shard < 100_000 {
            proptest::prop_assert_eq!(parse_sequence_number(&sequence_number(shard, seq)), Some((shard, seq)));
        }
    }
}

/// Callers that go away while their put waits (a client hanging up) must not stall the
/// group commit or lose anyone else's records: every answered put is in the log, no
/// record is written twice, and a later put still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_whose_callers_go_away_do_not_stall_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 4).unwrap();
    let mut kept = Vec::new();
    for round in 0..20 {
        let mut tasks = Vec::new();
        for writer in 0..30 {
            let log = log.clone();
            let prefix = format!("r{round}w{writer}");
            tasks.push(tokio::spawn(async move { log.put_records(records(&prefix, 5)).await }));
        }
        for (writer, task) in tasks.into_iter().enumerate() {
            if writer % 3 == 0 {
                task.abort();
            } else {
                kept.push(task);
            }
        }
    }
    let mut answered = 0;
    for task in kept {
        let outcomes = tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
        answered += outcomes.len();
    }
    assert_eq!(answered, 20 * 20 * 5);
    let last = tokio::time::timeout(Duration::from_secs(10), log.put_records(records("last", 1))).await.unwrap();
    assert_eq!(last.unwrap().len(), 1);
    let all = read_all(&log);
    assert!(all.len() > answered, "the log holds at least the answered records and the last one");
    let keys: std::collections::HashSet<&str> = all.iter().map(|record| record.partition_key.as_str()).collect();
    assert_eq!(keys.len(), all.len(), "no record written twice");
    assert!(keys.contains("last-0"));
    for round in 0..20 {
        for writer in (0..30).filter(|writer| writer % 3 != 0) {
            for n in 0..5 {
                assert!(
                    keys.contains(format!("r{round}w{writer}-{n}").as_str()),
                    "answered record r{round}w{writer}-{n}"
                );
            }
        }
    }
}
