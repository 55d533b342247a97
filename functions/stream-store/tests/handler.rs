//! The handler fed a real-shaped Kinesis trigger payload (base64 data, a poison record,
//! a duplicate delivery), against the embedded key-value store.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{TimeZone, Utc};
use tidemark_core::bucket::HourBucket;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::merge::read_bucket;
use tidemark_local::FjallKvStore;

fn batch() -> KinesisEvent {
    serde_json::from_str(include_str!("fixtures/kinesis-batch.json")).unwrap()
}

#[tokio::test]
async fn poison_is_reported_duplicates_absorbed_items_bucketed_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let kv = FjallKvStore::open(dir.path()).unwrap();
    let layout = KvLayout::default();
    let response = tidemark_stream_store::handle(batch(), &kv, &layout).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failed, vec!["4959068695591296412763924561834571597800427100002"]);

    tidemark_stream_store::handle(batch(), &kv, &layout).await;
    let hour = |h| HourBucket::of(Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap());
    let at13 = read_bucket(&kv, &layout, hour(13)).await.unwrap();
    let ids: Vec<&str> = at13.iter().map(|i| i.key.sk.rsplit('#').next().unwrap()).collect();
    assert_eq!(ids, vec!["web/e1", "web/e2"], "time order, the duplicate absorbed");
    assert_eq!(read_bucket(&kv, &layout, hour(14)).await.unwrap().len(), 1);
}
