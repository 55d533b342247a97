//! Dead letters of the AWS stream consumers. A record that can never be processed (not
//! an event, a document the index refuses) is parked with its payload and reason in the
//! interim bucket, `dead-letters/<consumer>/<shard id>/<sequence number>.json`, and
//! left out of `batchItemFailures`; a record that failed for a reason that may pass
//! (a store down, throttled) is reported, and Lambda retries it without limit (the
//! template's `MaximumRetryAttempts: -1`), so its checkpoint does not move.
//!
//! Parked here because Kinesis's own on-failure destination carries only the sequence
//! range, not the data, which the stream then drops after its retention.

use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tidemark_core::clock::Clock;
use tidemark_core::consume::{BatchOutcome, RecordFailure, StreamRecord};
use tidemark_core::ports::ObjectStore;

use crate::kinesis_event;

/// One parked record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedRecord {
    pub consumer: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub reason: String,
    pub parked_at: DateTime<Utc>,
    /// The record's data, base64.
    pub data: String,
}

impl ParkedRecord {
    /// The record's data, or `None` when what is stored is not base64.
    pub fn decode(&self) -> Option<Vec<u8>> {
        aws_smithy_types::base64::decode(&self.data).ok()
    }

    pub fn key(consumer: &str, shard_id: &str, sequence_number: &str) -> String {
        let segment = |s: &str| s.replace(['/', '.'], "_");
        format!("dead-letters/{consumer}/{}/{}.json", segment(shard_id), segment(sequence_number))
    }
}

/// Parks the batch's non-retryable failures and answers Lambda with the rest. A
/// record that cannot be parked (the bucket unreachable) is reported as failed, so it
/// is retried rather than dropped.
pub async fn settle(
    consumer: &str,
    records: &[StreamRecord],
    mut outcome: BatchOutcome,
    store: &dyn ObjectStore,
    clock: &dyn Clock,
) -> KinesisEventResponse {
    let now = clock.now();
    let mut kept: Vec<RecordFailure> = Vec::with_capacity(outcome.failures.len());
    for failure in std::mem::take(&mut outcome.failures) {
        let record = records.iter().find(|r| r.sequence_number == failure.sequence_number);
        let parked = match (failure.retryable, record) {
            (false, Some(record)) => park(consumer, record, &failure.reason, store, now).await,
            _ => false,
        };
        if !parked {
            kept.push(failure);
        }
    }
    outcome.failures = kept;
    kinesis_event::response(&outcome)
}

async fn park(
    consumer: &str,
    record: &StreamRecord,
    reason: &str,
    store: &dyn ObjectStore,
    now: DateTime<Utc>,
) -> bool {
    let letter = ParkedRecord {
        consumer: consumer.to_owned(),
        shard_id: record.shard_id.clone(),
        sequence_number: record.sequence_number.clone(),
        reason: reason.to_owned(),
        parked_at: now,
        data: aws_smithy_types::base64::encode(&record.data),
    };
    let key = ParkedRecord::key(consumer, &record.shard_id, &record.sequence_number);
    let body = match serde_json::to_vec(&letter) {
        Ok(body) => body,
        Err(_) => return false,
    };
    match store.put(&key, body).await {
        Ok(()) => {
            tracing::error!(consumer, key, reason, "poison record parked");
            true
        }
        Err(error) => {
            tracing::warn!(consumer, key, %error, "could not park a poison record; reported for a retry");
            false
        }
    }
}
