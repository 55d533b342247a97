//! Kinesis trigger payloads in and out of the core consumers: the Lambda event source
//! mapping's `KinesisEvent` becomes `StreamRecord`s, and a `BatchOutcome` becomes the
//! `batchItemFailures` answer (ReportBatchItemFailures).
//!
//! A failed record is reported (Lambda retries from the lowest failed sequence number)
//! unless it was parked with its payload first (see `dead_letters::settle`): leaving a
//! poison record out without parking it would drop it silently.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use tidemark_core::consume::{BatchOutcome, StreamRecord};

pub fn records(event: &KinesisEvent) -> Vec<StreamRecord> {
    event
        .records
        .iter()
        .map(|r| StreamRecord {
            // `eventID` is `<shard id>:<sequence number>`.
            shard_id: r
                .event_id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map_or_else(String::new, |(shard, _)| shard.to_string()),
            sequence_number: r.kinesis.sequence_number.clone(),
            data: r.kinesis.data.0.clone(),
        })
        .collect()
}

pub fn response(outcome: &BatchOutcome) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    response.batch_item_failures = outcome
        .failures
        .iter()
        .map(|f| {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(f.sequence_number.clone());
            failure
        })
        .collect();
    response
}

/// Logs each failure once, with its reason, before the answer goes back to Lambda.
pub fn log_failures(consumer: &'static str, outcome: &BatchOutcome) {
    for f in &outcome.failures {
        if f.retryable {
            tracing::warn!(consumer, sequence_number = %f.sequence_number, reason = %f.reason, "record failed, will be retried");
        } else {
            tracing::error!(consumer, sequence_number = %f.sequence_number, reason = %f.reason, "poison record");
        }
    }
    tracing::info!(
        consumer,
        written = outcome.written,
        duplicates = outcome.duplicates,
        failed = outcome.failures.len(),
        "batch done"
    );
}
