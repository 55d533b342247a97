//! The key-value layout that buckets a time range (DESIGN.md):
//! partition key `<stream>#<hour bucket>#<write shard>`, sort key
//! `<event time, fixed-width RFC 3339>#<event_id>`.
//!
//! The write shard comes from a hash of `event_id`, never from chance: a duplicate
//! delivery must land on the very same key to be absorbed.

use crate::bucket::HourBucket;
use crate::event::{millis_rfc3339, Event};
use crate::shard::stable_hash64;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KvKey {
    pub pk: String,
    pub sk: String,
}

/// One stored item: its key and the event's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvItem {
    pub key: KvKey,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvLayout {
    /// Logical stream name, the first part of every partition key.
    pub stream: String,
    /// How many partitions one hour is spread over.
    pub write_shards: u16,
}

impl Default for KvLayout {
    fn default() -> Self {
        Self { stream: "events".to_owned(), write_shards: 4 }
    }
}

impl KvLayout {
    pub fn write_shard(&self, event_id: &str) -> u16 {
        debug_assert!(self.write_shards > 0);
        (stable_hash64(event_id) % u64::from(self.write_shards.max(1))) as u16
    }

    pub fn partition_key(&self, bucket: HourBucket, shard: u16) -> String {
        format!("{}#{bucket}#{shard}", self.stream)
    }

    pub fn sort_key(event: &Event) -> String {
        format!("{}#{}", millis_rfc3339::format(&event.occurred_at), event.event_id)
    }

    pub fn key_for(&self, event: &Event) -> KvKey {
        let bucket = HourBucket::of(event.occurred_at);
        KvKey { pk: self.partition_key(bucket, self.write_shard(&event.event_id)), sk: Self::sort_key(event) }
    }

    pub fn item_for(&self, event: &Event) -> KvItem {
        KvItem { key: self.key_for(event), value: event.to_record_bytes() }
    }

    /// Every partition that holds part of `bucket`.
    pub fn partitions(&self, bucket: HourBucket) -> Vec<String> {
        (0..self.write_shards).map(|shard| self.partition_key(bucket, shard)).collect()
    }
}
