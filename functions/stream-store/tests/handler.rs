//! The handler fed a real-shaped Kinesis trigger payload (base64 data, a poison record,
//! a duplicate delivery), against the embedded key-value store.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{TimeZone, Utc};
use tidemark_core::bucket::HourBucket;
use tidemark_core::clock::SystemClock;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::merge::read_bucket;
use tidemark_core::ports::ObjectStore;
use tidemark_local::{DirObjectStore, FjallKvStore};

fn batch() -> KinesisEvent {
    serde_json::from_str(include_str!("fixtures/kinesis-batch.json")).unwrap()
}

#[tokio::test]
async fn poison_is_parked_duplicates_absorbed_items_bucketed_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let kv = FjallKvStore::open(&dir.path().join("kv")).unwrap();
    let parking = DirObjectStore::new(dir.path().join("interim"));
    let layout = KvLayout::default();
    let response = tidemark_stream_store::handle(batch(), &kv, &layout, &parking, &SystemClock).await;
    assert!(response.batch_item_failures.is_empty());
    let parked = parking.list("dead-letters/stream-store/").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].ends_with("4959068695591296412763924561834571597800427100002.json"), "{parked:?}");

    tidemark_stream_store::handle(batch(), &kv, &layout, &parking, &SystemClock).await;
    let hour = |h| HourBucket::of(Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap());
    let at13 = read_bucket(&kv, &layout, hour(13)).await.unwrap();
    let ids: Vec<&str> = at13.iter().map(|i| i.key.sk.rsplit('#').next().unwrap()).collect();
    assert_eq!(ids, vec!["web/e1", "web/e2"], "time order, the duplicate absorbed");
    assert_eq!(read_bucket(&kv, &layout, hour(14)).await.unwrap().len(), 1);
}
