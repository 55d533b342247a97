//! The handler fed a real-shaped Kinesis trigger payload (base64 data, a poison record,
//! a duplicate delivery), against the embedded tantivy index.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde_json::json;
use tidemark_core::ports::SearchIndex;
use tidemark_core::search::SearchRequest;
use tidemark_local::TantivyIndex;

fn batch() -> KinesisEvent {
    serde_json::from_str(include_str!("fixtures/kinesis-batch.json")).unwrap()
}

#[tokio::test]
async fn poison_records_are_reported_and_the_rest_indexed_once() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    let response = tidemark_stream_index::handle(batch(), &index).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failed, vec!["4959068695591296412763924561834571597800427100002"], "only the poison record");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["batchItemFailures"][0]["itemIdentifier"], failed[0], "Lambda's field names");

    // Lambda redelivers the whole batch after a failure: nothing counts twice.
    tidemark_stream_index::handle(batch(), &index).await;
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
    let response = tidemark_stream_index::handle(KinesisEvent::default(), &index).await;
    assert!(response.batch_item_failures.is_empty());
}
