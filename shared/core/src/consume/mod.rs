//! The stream consumers, as plain functions from a batch of records to what failed
//! (the Lambda `batchItemFailures` contract). In AWS a `KinesisEvent` feeds them; the
//! local runner feeds them batches from the embedded log and checkpoints afterwards.

pub mod index;
pub mod store;

pub use index::index_batch;
pub use store::store_batch;

use crate::event::Event;

/// One record as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub data: Vec<u8>,
}

/// A record that did not make it, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    pub sequence_number: String,
    pub retryable: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Records written (new to the store).
    pub written: usize,
    /// Records that were already there: duplicate deliveries, absorbed.
    pub duplicates: usize,
    pub failures: Vec<RecordFailure>,
}

/// The records that decoded, side by side with their events.
struct Decoded<'a> {
    records: Vec<&'a StreamRecord>,
    events: Vec<Event>,
}

/// Whether a record is one whose person was forgotten: the embedded log empties such a
/// record where it stands (its sequence number stays taken). No event is empty.
fn is_forgotten(record: &StreamRecord) -> bool {
    record.data.is_empty()
}

/// Decodes each record; undecodable ones become non-retryable failures (poison).
/// Forgotten records are passed over: nothing to write, nothing failed.
fn decode(records: &[StreamRecord]) -> (Decoded<'_>, Vec<RecordFailure>) {
    let mut decoded = Decoded { records: Vec::with_capacity(records.len()), events: Vec::with_capacity(records.len()) };
    let mut failures = Vec::new();
    for record in records.iter().filter(|record| !is_forgotten(record)) {
        match Event::from_record_bytes(&record.data) {
            Ok(event) => {
                decoded.records.push(record);
                decoded.events.push(event);
            }
            Err(error) => failures.push(RecordFailure {
                sequence_number: record.sequence_number.clone(),
                retryable: false,
                reason: format!("record is not an event: {error}"),
            }),
        }
    }
    (decoded, failures)
}

fn fail_all<'a>(records: impl Iterator<Item = &'a StreamRecord>, retryable: bool, reason: &str) -> Vec<RecordFailure> {
    records
        .map(|record| RecordFailure {
            sequence_number: record.sequence_number.clone(),
            retryable,
            reason: reason.to_owned(),
        })
        .collect()
}
