//! The event stream, producer side (Kinesis PutRecords | the embedded log).
//!
//! Consumers do not read through this port: in AWS the Lambda event source mapping
//! reads Kinesis, locally the embedded log's own reader does. Both hand batches to the
//! consumer functions in [`crate::consume`].

use async_trait::async_trait;

/// One record to put; the partition key picks the shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecordIn {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// What became of one record of a put, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Durably in the stream.
    Stored { shard_id: String, sequence_number: String },
    /// Not in the stream; `retryable` tells the client whether to try again.
    Failed { retryable: bool, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The stream could not take the batch now (throttled, closing, I/O); retry later.
    #[error("event stream unavailable: {0}")]
    Unavailable(String),
    /// The request itself breaks a stream limit; retrying will not help.
    #[error("event stream rejected the request: {0}")]
    Rejected(String),
}

impl StreamError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StreamError::Unavailable(_))
    }
}

#[async_trait]
pub trait EventStream: Send + Sync {
    /// Puts records and returns one outcome per record, in order. Returns only once
    /// every `Stored` record is durable.
    async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError>;
}
