//! The handler fed a real-shaped Kinesis trigger payload (base64 data, a poison record,
//! a duplicate delivery), against the embedded tantivy index.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde_json::json;
use tidemark_aws::dead_letters::ParkedRecord;
use tidemark_core::clock::SystemClock;
use tidemark_core::memory::{Fault, Faulty};
use tidemark_core::ports::{ObjectStore, SearchIndex};
use tidemark_core::search::SearchRequest;
use tidemark_local::{DirObjectStore, TantivyIndex};

const POISON: &str = "4959068695591296412763924561834571597800427100002";

fn batch() -> KinesisEvent {
    serde_json::from_str(include_str!("fixtures/kinesis-batch.json")).unwrap()
}

#[tokio::test]
async fn poison_records_are_parked_with_their_payload_and_the_rest_indexed_once() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(&dir.path().join("index")).unwrap();
    let parking = DirObjectStore::new(dir.path().join("interim"));
    let response = tidemark_stream_index::handle(batch(), &index, &parking, &SystemClock).await;
    assert!(response.batch_item_failures.is_empty(), "the poison record is parked, not retried");
    let keys = parking.list("dead-letters/stream-index/").await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with(&format!("{POISON}.json")));
    let letter: ParkedRecord = serde_json::from_slice(&parking.get(&keys[0]).await.unwrap().unwrap()).unwrap();
    assert!(letter.reason.contains("not an event"), "{letter:?}");
    let payload = batch().records.iter().find(|r| r.kinesis.sequence_number == POISON).unwrap().kinesis.data.0.clone();
    assert_eq!(aws_smithy_types::base64::decode(&letter.data).unwrap(), payload, "the payload, byte for byte");

    // A redelivery of the whole batch: nothing counts twice.
    tidemark_stream_index::handle(batch(), &index, &parking, &SystemClock).await;
    let body = json!({"size": 0, "aggs": {"revenue": {"sum": {"field": "amount"}}}});
    let answer = index.search(&SearchRequest::from_json(&body).unwrap()).await.unwrap();
    assert_eq!(answer.total, 3, "e1 (twice in the batch), e2, e3");
    let revenue = answer.aggregations["revenue"]["value"].as_f64().unwrap();
    assert!((revenue - 25.0).abs() < 1e-9, "{revenue}");
}

#[tokio::test]
async fn an_empty_batch_has_no_failures() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    let parking = DirObjectStore::new(dir.path().join("interim"));
    let response = tidemark_stream_index::handle(KinesisEvent::default(), &index, &parking, &SystemClock).await;
    assert!(response.batch_item_failures.is_empty());
}

/// While the index is down every record is reported for a retry (the checkpoint stays)
/// and nothing is parked; the poison record is parked either way.
#[tokio::test]
async fn a_store_that_is_down_gets_every_record_retried_and_none_parked() {
    let dir = tempfile::tempdir().unwrap();
    let index = Faulty::new(TantivyIndex::open(&dir.path().join("index")).unwrap());
    let parking = DirObjectStore::new(dir.path().join("interim"));
    index.set(Fault::Unavailable);
    let response = tidemark_stream_index::handle(batch(), &index, &parking, &SystemClock).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failed.len(), batch().records.len() - 1, "every good record, for a retry: {failed:?}");
    assert!(!failed.contains(&POISON.to_owned()));
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["batchItemFailures"][0]["itemIdentifier"], failed[0], "Lambda's field names");
    assert_eq!(parking.list("dead-letters/").await.unwrap().len(), 1, "only the poison record");
}
