//! stream-index: bulk-index a batch of stream records into the search index.

use super::{decode, fail_all, BatchOutcome, RecordFailure, StreamRecord};
use crate::ports::search::{IndexOutcome, SearchIndex};

pub async fn index_batch(records: &[StreamRecord], index: &dyn SearchIndex) -> BatchOutcome {
    let (decoded, mut failures) = decode(records);
    if decoded.events.is_empty() {
        return BatchOutcome { failures, ..BatchOutcome::default() };
    }
    let mut outcome = BatchOutcome::default();
    match index.index_events(&decoded.events).await {
        Ok(results) => {
            debug_assert_eq!(results.len(), decoded.records.len());
            for (record, result) in decoded.records.iter().zip(results) {
                match result {
                    IndexOutcome::Indexed => outcome.written += 1,
                    IndexOutcome::Failed { retryable, reason } => failures.push(RecordFailure {
                        sequence_number: record.sequence_number.clone(),
                        retryable,
                        reason,
                    }),
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
