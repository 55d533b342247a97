//! The event stream port on Kinesis `PutRecords`.
//!
//! A call carries at most 500 records and 5 MiB; a record (data + partition key) at most
//! 1 MiB. Records are packed into calls within those limits; entries that come back
//! failed (`ProvisionedThroughputExceededException`, `InternalFailure`) are resent, and
//! only they, after a jittered pause. What still fails is reported per record as
//! retryable, so the ingest answers 503 for exactly those events.

use async_trait::async_trait;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use tidemark_core::ports::{EventStream, PutOutcome, StreamError, StreamRecordIn};

use crate::retry::{describe, is_retryable, is_retryable_code, RetryPolicy};

pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct KinesisStream {
    client: Client,
    stream_name: String,
    retry: RetryPolicy,
}

impl KinesisStream {
    pub fn new(client: Client, stream_name: impl Into<String>) -> Self {
        Self { client, stream_name: stream_name.into(), retry: RetryPolicy::default() }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// What Kinesis counts against its limits for one record.
fn record_bytes(record: &StreamRecordIn) -> usize {
    record.data.len() + record.partition_key.len()
}

/// Packs record indices into calls of at most 500 records and 5 MiB, in order.
fn pack_calls(records: &[StreamRecordIn], pending: &[usize]) -> Vec<Vec<usize>> {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in pending {
        let size = record_bytes(&records[i]);
        let full =
            calls.last().is_none_or(|call| call.len() == MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL);
        if full {
            calls.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(call) = calls.last_mut() {
            call.push(i);
        }
    }
    calls
}

enum CallResult {
    /// Per entry of the call: stored, or the reason it failed (retryable or not).
    Entries(Vec<Result<PutOutcome, (bool, String)>>),
    /// The whole call failed.
    Failed { retryable: bool, reason: String },
}

impl KinesisStream {
    async fn put_call(&self, records: &[StreamRecordIn], call: &[usize]) -> CallResult {
        let mut entries = Vec::with_capacity(call.len());
        for &i in call {
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(records[i].data.clone()))
                .partition_key(&records[i].partition_key)
                .build();
            match entry {
                Ok(entry) => entries.push(entry),
                Err(e) => return CallResult::Failed { retryable: false, reason: e.to_string() },
            }
        }
        let sent = self.client.put_records().stream_name(&self.stream_name).set_records(Some(entries)).send().await;
        match sent {
            Ok(out) => CallResult::Entries(
                out.records()
                    .iter()
                    .map(|r| match (r.shard_id(), r.sequence_number(), r.error_code()) {
                        (Some(shard), Some(seq), None) => {
                            Ok(PutOutcome::Stored { shard_id: shard.to_string(), sequence_number: seq.to_string() })
                        }
                        (_, _, code) => Err((
                            // Kinesis documents only throttling and internal failures here;
                            // anything else unknown is still worth another try.
                            code.is_none_or(|c| is_retryable_code(Some(c)) || !c.ends_with("Exception")),
                            format!("{}: {}", code.unwrap_or("no error code"), r.error_message().unwrap_or("")),
                        )),
                    })
                    .collect(),
            ),
            Err(e) => CallResult::Failed { retryable: is_retryable(&e), reason: describe(&e) },
        }
    }
}

#[async_trait]
impl EventStream for KinesisStream {
    async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError> {
        let mut outcomes: Vec<Option<PutOutcome>> = vec![None; records.len()];
        let mut pending = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            if record_bytes(record) > MAX_RECORD_BYTES {
                outcomes[i] = Some(PutOutcome::Failed {
                    retryable: false,
                    reason: format!(
                        "record of {} bytes exceeds Kinesis' limit of {MAX_RECORD_BYTES} bytes per record",
                        record_bytes(record)
                    ),
                });
            } else if record.partition_key.is_empty() || record.partition_key.len() > 256 {
                outcomes[i] = Some(PutOutcome::Failed {
                    retryable: false,
                    reason: "partition key must be 1 to 256 characters".into(),
                });
            } else {
                pending.push(i);
            }
        }
        let mut delays = self.retry.delays();
        let mut last_reason = String::new();
        loop {
            let mut again = Vec::new();
            for call in pack_calls(&records, &pending) {
                match self.put_call(&records, &call).await {
                    CallResult::Entries(results) if results.len() == call.len() => {
                        for (&i, result) in call.iter().zip(results) {
                            match result {
                                Ok(stored) => {
                                    outcomes[i] = Some(stored);
                                }
                                Err((true, reason)) => {
                                    last_reason = reason;
                                    again.push(i);
                                }
                                Err((false, reason)) => {
                                    outcomes[i] = Some(PutOutcome::Failed { retryable: false, reason });
                                }
                            }
                        }
                    }
                    CallResult::Entries(results) => {
                        last_reason =
                            format!("PutRecords answered {} entries for {} records", results.len(), call.len());
                        again.extend(call);
                    }
                    CallResult::Failed { retryable: true, reason } => {
                        last_reason = reason;
                        again.extend(call);
                    }
                    CallResult::Failed { retryable: false, reason } => {
                        // Nothing stored or refused yet: the whole put failed.
                        if outcomes.iter().all(Option::is_none) {
                            return Err(StreamError::Rejected(reason));
                        }
                        for i in call {
                            outcomes[i] = Some(PutOutcome::Failed { retryable: false, reason: reason.clone() });
                        }
                    }
                }
            }
            pending = again;
            if pending.is_empty() {
                break;
            }
            match delays.next() {
                Some(pause) => {
                    tracing::debug!(records = pending.len(), pause_ms = pause.as_millis() as u64, "kinesis retry");
                    tokio::time::sleep(pause).await;
                }
                None => break,
            }
        }
        // Every record still pending means none was stored: the stream is unavailable.
        if !pending.is_empty() && pending.len() == records.len() {
            return Err(StreamError::Unavailable(last_reason));
        }
        for i in pending {
            outcomes[i] = Some(PutOutcome::Failed { retryable: true, reason: last_reason.clone() });
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(PutOutcome::Failed { retryable: true, reason: "not sent".into() }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(bytes: usize) -> StreamRecordIn {
        StreamRecordIn { partition_key: "k".into(), data: vec![b'x'; bytes - 1] }
    }

    #[test]
    fn calls_respect_the_record_and_byte_limits() {
        let many: Vec<StreamRecordIn> = (0..1_201).map(|_| rec(100)).collect();
        let all: Vec<usize> = (0..many.len()).collect();
        let sizes: Vec<usize> = pack_calls(&many, &all).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![500, 500, 201]);

        let big: Vec<StreamRecordIn> = (0..12).map(|_| rec(MAX_RECORD_BYTES)).collect();
        let all: Vec<usize> = (0..big.len()).collect();
        let calls = pack_calls(&big, &all);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5, 2]);
        assert_eq!(calls.concat(), all, "order kept");
    }
}
