//! Contract of the key-value port: conditional puts, sorted partitions, merged buckets.

use super::sample_event;
use crate::bucket::HourBucket;
use crate::event::EventType;
use crate::kv_key::{KvItem, KvKey, KvLayout};
use crate::merge::read_bucket;
use crate::ports::kv::{KvStore, PutItemOutcome};
use chrono::{Duration, TimeZone, Utc};

fn item(pk: &str, sk: &str) -> KvItem {
    KvItem { key: KvKey { pk: pk.to_owned(), sk: sk.to_owned() }, value: format!("{pk}|{sk}").into_bytes() }
}

/// A key is stored once; a second put of it, in a later call or the same call, is a duplicate.
pub async fn duplicates_are_absorbed(kv: &dyn KvStore) {
    let first = kv.put_items(vec![item("s#h#0", "t1#a"), item("s#h#0", "t2#b")]).await.expect("put");
    assert_eq!(first, vec![PutItemOutcome::Stored, PutItemOutcome::Stored]);
    let again =
        kv.put_items(vec![item("s#h#0", "t1#a"), item("s#h#0", "t3#c"), item("s#h#0", "t3#c")]).await.expect("put");
    assert_eq!(again, vec![PutItemOutcome::Duplicate, PutItemOutcome::Stored, PutItemOutcome::Duplicate]);
    let stored = kv.query_partition("s#h#0").await.expect("query");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].value, b"s#h#0|t1#a".to_vec(), "the first write wins");
}

/// `get_items` answers each key in order: its value, or nothing.
pub async fn items_are_read_by_key(kv: &dyn KvStore) {
    kv.put_items(vec![item("g#1", "a"), item("g#2", "b")]).await.expect("put");
    let keys = vec![
        KvKey { pk: "g#2".into(), sk: "b".into() },
        KvKey { pk: "g#1".into(), sk: "missing".into() },
        KvKey { pk: "g#1".into(), sk: "a".into() },
    ];
    let values = kv.get_items(keys).await.expect("get");
    assert_eq!(values, vec![Some(b"g#2|b".to_vec()), None, Some(b"g#1|a".to_vec())]);
    assert!(kv.get_items(Vec::new()).await.expect("get nothing").is_empty());
}

/// A partition query returns exactly that partition, in sort-key order, even when
/// another partition key starts with the same text.
pub async fn partitions_are_exact_and_sorted(kv: &dyn KvStore) {
    kv.put_items(vec![item("p#1", "c"), item("p#1", "a"), item("p#10", "b"), item("p#1", "b"), item("p#", "z")])
        .await
        .expect("put");
    let sks: Vec<String> = kv.query_partition("p#1").await.expect("query").into_iter().map(|i| i.key.sk).collect();
    assert_eq!(sks, vec!["a", "b", "c"]);
    assert_eq!(kv.query_partition("p#10").await.expect("query").len(), 1);
    assert!(kv.query_partition("p#2").await.expect("query").is_empty());
}

/// A bucket read returns the hour's events from every write shard, in time order,
/// and nothing from the neighbouring hours.
pub async fn bucket_reads_merge_write_shards(kv: &dyn KvStore) {
    let layout = KvLayout { stream: "contract".to_owned(), write_shards: 4 };
    let hour = Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).single().expect("valid time");
    let mut items = Vec::new();
    for n in 0..200i64 {
        // Scrambled times inside the hour, plus some in the hours around it.
        let at = hour + Duration::milliseconds((n * 7_919_311) % 3_600_000);
        items.push(layout.item_for(&sample_event(&format!("e{n}"), EventType::PageView, at, "EU", None)));
    }
    items.push(layout.item_for(&sample_event(
        "before",
        EventType::PageView,
        hour - Duration::milliseconds(1),
        "EU",
        None,
    )));
    items.push(layout.item_for(&sample_event("after", EventType::PageView, hour + Duration::hours(1), "EU", None)));
    let shards_used: std::collections::HashSet<&str> = items.iter().map(|item| item.key.pk.as_str()).collect();
    assert!(shards_used.len() >= 4, "the sample spreads over the write shards");
    kv.put_items(items).await.expect("put");

    let read = read_bucket(kv, &layout, HourBucket::of(hour)).await.expect("read bucket");
    assert_eq!(read.len(), 200);
    assert!(read.windows(2).all(|pair| pair[0].key.sk <= pair[1].key.sk), "time order");
    assert!(read.iter().all(|item| item.key.pk.starts_with("contract#2026-11-25T13#")));
}

/// A scan pages through every item once, in the store's order, resuming after the last
/// key it returned; deleted keys are gone from scans, reads and partitions, and
/// deleting a missing key (or one key twice) is fine.
pub async fn scans_see_everything_once_and_deletes_remove(kv: &dyn KvStore) {
    let mut items = Vec::new();
    for n in 0..57 {
        items.push(item(&format!("scan#{}", n % 5), &format!("k{n:03}")));
    }
    kv.put_items(items.clone()).await.expect("put");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = kv.scan(after.clone(), 10).await.expect("scan");
        assert!(page.len() <= 10, "a page holds at most the limit");
        let end = page.len() < 10;
        after = page.last().map(|i| i.key.clone()).or(after);
        seen.extend(page);
        if end {
            break;
        }
    }
    seen.sort_by(|a, b| a.key.cmp(&b.key));
    items.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(seen, items, "every item once, with its value");

    let doomed: Vec<KvKey> = items.iter().step_by(3).map(|i| i.key.clone()).collect();
    let mut twice = doomed.clone();
    twice.push(doomed[0].clone());
    twice.push(KvKey { pk: "scan#9".into(), sk: "missing".into() });
    kv.delete_items(twice).await.expect("delete");
    let left = kv.scan(None, 1_000).await.expect("scan");
    assert_eq!(left.len(), items.len() - doomed.len());
    assert!(left.iter().all(|i| !doomed.contains(&i.key)));
    assert_eq!(kv.get_items(vec![doomed[1].clone()]).await.expect("get"), vec![None]);
    let partition = kv.query_partition(&doomed[1].pk).await.expect("query");
    assert!(partition.iter().all(|i| i.key != doomed[1]));
}
