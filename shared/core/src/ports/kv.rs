//! The time-bucketed key-value store (DynamoDB | embedded fjall).

use crate::kv_key::{KvItem, KvKey};
use async_trait::async_trait;

/// What became of one conditional put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutItemOutcome {
    /// The key was new and is now stored.
    Stored,
    /// The key was already there: a duplicate delivery, absorbed.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    #[error("key-value store rejected the request: {0}")]
    Rejected(String),
}

impl KvError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, KvError::Unavailable(_))
    }
}

#[async_trait]
pub trait KvStore: Send + Sync {
    /// Writes each item only if its key is absent (put-if-absent), durably, and says
    /// per item whether it was stored or absorbed as a duplicate.
    async fn put_items(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError>;

    /// The values stored at `keys`, in order; `None` where a key holds nothing.
    async fn get_items(&self, keys: Vec<KvKey>) -> Result<Vec<Option<Vec<u8>>>, KvError>;

    /// Every item of one partition key, in sort-key order.
    async fn query_partition(&self, pk: &str) -> Result<Vec<KvItem>, KvError>;

    /// Up to `limit` items of the whole store after the item `after` (from the start
    /// when `None`), in an order the store keeps: the last key of one page, passed back,
    /// gives the next; fewer than `limit` only at the end. For what no key leads to,
    /// such as a person's events.
    async fn scan(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError>;

    /// Removes the items at `keys`, durably; a key that holds nothing is fine.
    async fn delete_items(&self, keys: Vec<KvKey>) -> Result<(), KvError>;
}
