//! The key-value layout that buckets a time range (DESIGN.md):
//! partition key `<stream>#<hour bucket>#<write shard>`, sort key
//! `<event time, fixed-width RFC 3339>#<source>/<event_id>`.
//!
//! The write shard comes from a hash of the event's idempotency key (source and id),
//! never from chance: a duplicate delivery must land on the very same key to be
//! absorbed. A retry that carries the same id with another `occurred_at` would land on
//! another key, so each event also has a **marker**, keyed by source and id alone
//! (`<stream>#id#<hash shard>` / `<source>/<event_id>`), whose value is the key of
//! the event's item: the first time written wins (see `consume::store`).

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

/// Partition keys that start with this hold configuration (write keys made in the
/// console) that stays until it is deleted: a store that expires items by age
/// (DynamoDB's TTL attribute) leaves these without one. Like every `tidemark#` key, it
/// never starts with a stream's name, so event retention does not touch it either.
pub const PERMANENT_PREFIX: &str = "tidemark#permanent#";

/// Partitions markers are spread over (DynamoDB writes at most 1,000 items a second
/// to one partition key).
const MARKER_SHARDS: u64 = 64;

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
    fn write_shard(&self, idempotency_key: &str) -> u16 {
        debug_assert!(self.write_shards > 0);
        (stable_hash64(idempotency_key) % u64::from(self.write_shards.max(1))) as u16
    }

    pub fn partition_key(&self, bucket: HourBucket, shard: u16) -> String {
        format!("{}#{bucket}#{shard}", self.stream)
    }

    pub fn sort_key(event: &Event) -> String {
        format!("{}#{}", millis_rfc3339::format(&event.occurred_at), event.idempotency_key())
    }

    pub fn key_for(&self, event: &Event) -> KvKey {
        let bucket = HourBucket::of(event.occurred_at);
        KvKey { pk: self.partition_key(bucket, self.write_shard(&event.idempotency_key())), sk: Self::sort_key(event) }
    }

    /// The event's marker: where the key of its first stored item is kept.
    pub fn marker_key(&self, event: &Event) -> KvKey {
        let id = event.idempotency_key();
        let shard = stable_hash64(&id) % MARKER_SHARDS;
        KvKey { pk: format!("{}#id#{shard}", self.stream), sk: id }
    }

    /// The marker item of `event`, pointing at `item`.
    pub fn marker_for(&self, event: &Event, item: &KvKey) -> KvItem {
        KvItem { key: self.marker_key(event), value: format!("{}\n{}", item.pk, item.sk).into_bytes() }
    }

    /// Whether a marker's value points at `item`.
    pub fn marker_points_at(value: &[u8], item: &KvKey) -> bool {
        value.len() == item.pk.len() + 1 + item.sk.len()
            && value.starts_with(item.pk.as_bytes())
            && value[item.pk.len()] == b'\n'
            && value.ends_with(item.sk.as_bytes())
    }

    pub fn item_for(&self, event: &Event) -> KvItem {
        KvItem { key: self.key_for(event), value: event.to_record_bytes() }
    }

    /// The hour bucket of an event partition key (`None` for a marker partition).
    pub fn bucket_of(&self, pk: &str) -> Option<HourBucket> {
        let rest = pk.strip_prefix(&self.stream)?.strip_prefix('#')?;
        rest.split('#').next()?.parse().ok()
    }

    /// The partition key a marker's value points at.
    pub fn marker_target(value: &[u8]) -> Option<&str> {
        let text = std::str::from_utf8(value).ok()?;
        text.split('\n').next()
    }

    /// Every partition that holds part of `bucket`.
    pub fn partitions(&self, bucket: HourBucket) -> Vec<String> {
        (0..self.write_shards).map(|shard| self.partition_key(bucket, shard)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn event(id: &str, millis: i64) -> Event {
        let at = Utc.timestamp_millis_opt(millis).unwrap();
        Event {
            event_id: id.to_owned(),
            event_type: EventType::Click,
            occurred_at: at,
            received_at: at,
            source: "web".into(),
            anonymous_id: Some("a".into()),
            user_id: None,
            session_id: None,
            order_id: None,
            keys: Default::default(),
            region: "EU".into(),
            amount: None,
            currency: None,
            properties: Default::default(),
        }
    }

    #[test]
    fn two_sources_may_use_the_same_id() {
        let web = event("e1", 0);
        let mut app = event("e1", 0);
        app.source = "app".into();
        let layout = KvLayout::default();
        assert_ne!(layout.key_for(&web), layout.key_for(&app));
        assert_ne!(layout.marker_key(&web), layout.marker_key(&app));
    }

    proptest! {
        /// Sort keys order like event times (ties by event_id), so a partition scan is
        /// a time-ordered read.
        #[test]
        fn sort_key_order_is_time_order(a in 0i64..253_402_300_799_000, b in 0i64..253_402_300_799_000,
                                        id_a in "[a-z0-9]{1,12}", id_b in "[a-z0-9]{1,12}") {
            let (key_a, key_b) = (KvLayout::sort_key(&event(&id_a, a)), KvLayout::sort_key(&event(&id_b, b)));
            if a != b {
                prop_assert_eq!(key_a < key_b, a < b);
            }
        }

        /// A duplicate delivery lands on the very same key; the key's bucket holds the event.
        #[test]
        fn the_same_event_always_gets_the_same_key(millis in 0i64..4_102_444_800_000, id in "[A-Za-z0-9_-]{1,40}", shards in 1u16..16) {
            let layout = KvLayout { stream: "events".into(), write_shards: shards };
            let first = layout.key_for(&event(&id, millis));
            prop_assert_eq!(&first, &layout.key_for(&event(&id, millis)));
            let bucket = HourBucket::of(Utc.timestamp_millis_opt(millis).unwrap());
            prop_assert!(layout.partitions(bucket).contains(&first.pk));
        }

        /// The marker does not depend on the time: a retry with another occurred_at
        /// finds the first delivery's marker, which points at the first item only.
        #[test]
        fn the_marker_is_the_same_whatever_the_time(a in 0i64..4_102_444_800_000, b in 0i64..4_102_444_800_000, id in "[A-Za-z0-9_-]{1,40}") {
            let layout = KvLayout::default();
            let (first, retry) = (event(&id, a), event(&id, b));
            prop_assert_eq!(layout.marker_key(&first), layout.marker_key(&retry));
            let marker = layout.marker_for(&first, &layout.key_for(&first));
            prop_assert!(KvLayout::marker_points_at(&marker.value, &layout.key_for(&first)));
            prop_assert_eq!(KvLayout::marker_points_at(&marker.value, &layout.key_for(&retry)), a == b);
        }
    }
}
