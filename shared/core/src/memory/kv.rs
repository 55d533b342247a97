//! The key-value port on a sorted map.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::kv_key::{KvItem, KvKey};
use crate::ports::kv::{KvError, KvStore, PutItemOutcome};

/// The key-value port on a sorted map: put-if-absent, partition scans in key order.
#[derive(Default)]
pub struct MemoryKv {
    items: Mutex<BTreeMap<KvKey, Vec<u8>>>,
}

impl MemoryKv {
    /// Every item, in key order.
    pub fn items(&self) -> Vec<KvItem> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.iter().map(|(key, value)| KvItem { key: key.clone(), value: value.clone() }).collect()
    }
}

#[async_trait]
impl KvStore for MemoryKv {
    async fn put_items(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError> {
        let mut map = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(items
            .into_iter()
            .map(|item| match map.entry(item.key) {
                std::collections::btree_map::Entry::Occupied(_) => PutItemOutcome::Duplicate,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(item.value);
                    PutItemOutcome::Stored
                }
            })
            .collect())
    }

    async fn get_items(&self, keys: Vec<KvKey>) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let map = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(keys.iter().map(|key| map.get(key).cloned()).collect())
    }

    async fn query_partition(&self, pk: &str) -> Result<Vec<KvItem>, KvError> {
        let map = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map
            .iter()
            .filter(|(key, _)| key.pk == pk)
            .map(|(key, value)| KvItem { key: key.clone(), value: value.clone() })
            .collect())
    }

    async fn scan(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        use std::ops::Bound;
        let map = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(map
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(key, value)| KvItem { key: key.clone(), value: value.clone() })
            .collect())
    }

    async fn delete_items(&self, keys: Vec<KvKey>) -> Result<(), KvError> {
        let mut map = self.items.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            map.remove(&key);
        }
        Ok(())
    }
}
