//! stream-store: write a batch of stream records as time-bucketed key-value items.

use super::{decode, fail_all, BatchOutcome, StreamRecord};
use crate::kv_key::{KvItem, KvLayout};
use crate::ports::kv::{KvStore, PutItemOutcome};

pub async fn store_batch(records: &[StreamRecord], kv: &dyn KvStore, layout: &KvLayout) -> BatchOutcome {
    let (decoded, mut failures) = decode(records);
    if decoded.events.is_empty() {
        return BatchOutcome { failures, ..BatchOutcome::default() };
    }
    // The record already holds the event's JSON: store those very bytes, unchanged.
    let items = decoded
        .records
        .iter()
        .zip(&decoded.events)
        .map(|(record, event)| KvItem { key: layout.key_for(event), value: record.data.clone() })
        .collect();
    let mut outcome = BatchOutcome::default();
    match kv.put_items(items).await {
        Ok(results) => {
            debug_assert_eq!(results.len(), decoded.records.len());
            for result in results {
                match result {
                    PutItemOutcome::Stored => outcome.written += 1,
                    PutItemOutcome::Duplicate => outcome.duplicates += 1,
                }
            }
        }
        Err(error) => {
            failures.extend(fail_all(decoded.records.iter().copied(), error.is_retryable(), &error.to_string()));
        }
    }
    outcome.failures = failures;
    outcome
}
