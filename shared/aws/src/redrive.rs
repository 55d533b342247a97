//! The parked records of the AWS stream consumers, for the console: listed from the
//! interim bucket, and redriven by putting them back on the stream, where both consumers
//! read them again within seconds. Both are idempotent by the event's key, so a record
//! one of them had stored already is absorbed as a duplicate. A record that fails again
//! is parked again, under its new sequence number, with the new reason.
//!
//! Locally the consumer runs a redriven record itself and answers at once; on AWS the
//! consumers are other functions, so the answer says where each record went.

use serde::Serialize;
use tidemark_core::ports::{EventStream, ObjectStore, ObjectStoreError, PutOutcome, StreamError, StreamRecordIn};

use crate::dead_letters::ParkedRecord;

/// Records listed, or redriven in one request, at most.
pub const LIMIT: usize = 1_000;
/// Kinesis `PutRecords` takes at most 500 records.
const PUT_BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("parked record {key} is unreadable: {reason}")]
    Unreadable { key: String, reason: String },
}

fn prefix(consumer: &str) -> String {
    format!("dead-letters/{consumer}/")
}

/// The first [`LIMIT`] parked records of `consumer` (by key: shard, then sequence), and
/// how many there are.
pub async fn parked(store: &dyn ObjectStore, consumer: &str) -> Result<(usize, Vec<ParkedRecord>), RedriveError> {
    let keys = store.list(&prefix(consumer)).await?;
    let mut records = Vec::with_capacity(keys.len().min(LIMIT));
    for key in keys.iter().take(LIMIT) {
        if let Some(record) = read(store, key).await? {
            records.push(record);
        }
    }
    Ok((keys.len(), records))
}

/// One parked record, by its sequence number.
pub async fn find(
    store: &dyn ObjectStore,
    consumer: &str,
    sequence: &str,
) -> Result<Option<ParkedRecord>, RedriveError> {
    let keys = store.list(&prefix(consumer)).await?;
    let suffix = format!("/{}.json", sequence.replace(['/', '.'], "_"));
    match keys.iter().find(|k| k.ends_with(&suffix)) {
        Some(key) => read(store, key).await,
        None => Ok(None),
    }
}

async fn read(store: &dyn ObjectStore, key: &str) -> Result<Option<ParkedRecord>, RedriveError> {
    let Some(body) = store.get(key).await? else { return Ok(None) };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| RedriveError::Unreadable { key: key.to_owned(), reason: e.to_string() })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redriven {
    pub sequence_number: String,
    /// Where the record is on the stream now.
    pub shard_id: String,
    pub new_sequence_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StillFailing {
    pub sequence_number: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveOutcome {
    pub redriven: Vec<Redriven>,
    pub still_failing: Vec<StillFailing>,
}

/// Puts `records` back on the stream; each one the stream took leaves the parked list.
pub async fn redrive(
    store: &dyn ObjectStore,
    stream: &dyn EventStream,
    records: Vec<ParkedRecord>,
) -> Result<RedriveOutcome, RedriveError> {
    let mut outcome = RedriveOutcome { redriven: Vec::new(), still_failing: Vec::new() };
    for batch in records.chunks(PUT_BATCH) {
        let mut ready = Vec::with_capacity(batch.len());
        for record in batch {
            match record.decode() {
                Some(data) => ready.push((record, data)),
                None => outcome.still_failing.push(StillFailing {
                    sequence_number: record.sequence_number.clone(),
                    reason: "the parked data is not base64".into(),
                }),
            }
        }
        let put = ready
            .iter()
            .map(|(record, data)| StreamRecordIn { partition_key: record.sequence_number.clone(), data: data.clone() })
            .collect();
        let answers = stream.put_records(put).await?;
        for ((record, _), answer) in ready.iter().zip(answers) {
            match answer {
                PutOutcome::Stored { shard_id, sequence_number } => {
                    store
                        .delete(&ParkedRecord::key(&record.consumer, &record.shard_id, &record.sequence_number))
                        .await?;
                    outcome.redriven.push(Redriven {
                        sequence_number: record.sequence_number.clone(),
                        shard_id,
                        new_sequence_number: sequence_number,
                    });
                }
                PutOutcome::Failed { reason, .. } => {
                    outcome.still_failing.push(StillFailing { sequence_number: record.sequence_number.clone(), reason })
                }
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tidemark_core::memory::{MemoryObjectStore, MemoryStream};

    fn parked_record(sequence: &str, data: &[u8]) -> ParkedRecord {
        ParkedRecord {
            consumer: "stream-index".into(),
            shard_id: "shardId-000000000000".into(),
            sequence_number: sequence.into(),
            reason: "mapper_parsing_exception".into(),
            parked_at: Utc::now(),
            data: aws_smithy_types::base64::encode(data),
        }
    }

    async fn park(store: &MemoryObjectStore, record: &ParkedRecord) {
        let key = ParkedRecord::key(&record.consumer, &record.shard_id, &record.sequence_number);
        store.put(&key, serde_json::to_vec(record).unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn a_redriven_record_goes_back_on_the_stream_and_leaves_the_list() {
        let store = MemoryObjectStore::default();
        let stream = MemoryStream::default();
        park(&store, &parked_record("101", b"{\"event_id\":\"e1\"}")).await;
        park(&store, &parked_record("102", b"{\"event_id\":\"e2\"}")).await;
        let (count, listed) = parked(&store, "stream-index").await.unwrap();
        assert_eq!((count, listed.len()), (2, 2));
        assert_eq!(parked(&store, "stream-store").await.unwrap().0, 0, "per consumer");

        let one = find(&store, "stream-index", "102").await.unwrap().unwrap();
        let outcome = redrive(&store, &stream, vec![one]).await.unwrap();
        assert_eq!(outcome.redriven.len(), 1);
        assert!(outcome.still_failing.is_empty());
        assert_eq!(
            stream.records().iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
            vec![b"{\"event_id\":\"e2\"}".to_vec()]
        );
        let (count, left) = parked(&store, "stream-index").await.unwrap();
        assert_eq!((count, left[0].sequence_number.as_str()), (1, "101"));
    }

    #[tokio::test]
    async fn data_that_is_not_base64_stays_parked_with_the_reason() {
        let store = MemoryObjectStore::default();
        let mut record = parked_record("103", b"x");
        record.data = "not base64!".into();
        park(&store, &record).await;
        let outcome = redrive(&store, &MemoryStream::default(), vec![record]).await.unwrap();
        assert!(outcome.redriven.is_empty());
        assert!(outcome.still_failing[0].reason.contains("base64"), "{outcome:?}");
        assert_eq!(parked(&store, "stream-index").await.unwrap().0, 1);
    }
}
