//! The event stream port on a vector: one shard, sequence numbers in put order.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};

/// The shard every record of a [`MemoryStream`] lands in.
pub const MEMORY_SHARD: &str = "shardId-000000000000";

#[derive(Default)]
pub struct MemoryStream {
    records: Mutex<Vec<StreamRecordIn>>,
}

impl MemoryStream {
    /// Every record put so far, in order.
    pub fn records(&self) -> Vec<StreamRecordIn> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl EventStream for MemoryStream {
    async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError> {
        let mut stored = self.records.lock().unwrap_or_else(|p| p.into_inner());
        Ok(records
            .into_iter()
            .map(|record| {
                stored.push(record);
                PutOutcome::Stored {
                    shard_id: MEMORY_SHARD.to_owned(),
                    sequence_number: format!("{:020}", stored.len()),
                }
            })
            .collect())
    }
}
