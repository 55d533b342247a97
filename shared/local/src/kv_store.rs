//! The embedded key-value store: DESIGN.md's bucketed layout on fjall.
//!
//! An item's key is `pk \0 sk`, so one partition is a contiguous, sorted range and a
//! partition query is a prefix scan. Puts are put-if-absent under one lock (the
//! DynamoDB conditional put), then made durable before the answer.

use chrono::{DateTime, Utc};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tidemark_core::bucket::HourBucket;
use tidemark_core::kv_key::{KvItem, KvKey, KvLayout};
use tidemark_core::ports::kv::{KvError, KvStore, PutItemOutcome};

#[derive(Clone)]
pub struct FjallKvStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    items: Keyspace,
    /// Serialises check-then-insert so that two racing duplicates store once.
    write_lock: Mutex<()>,
}

fn storage(error: fjall::Error) -> KvError {
    KvError::Unavailable(error.to_string())
}

fn item_key(key: &KvKey) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.pk.len() + 1 + key.sk.len());
    bytes.extend_from_slice(key.pk.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.sk.as_bytes());
    bytes
}

impl FjallKvStore {
    pub fn open(dir: &Path) -> Result<Self, KvError> {
        let db = Database::builder(dir).open().map_err(storage)?;
        let items = db.keyspace("items", KeyspaceCreateOptions::default).map_err(storage)?;
        Ok(Self { inner: Arc::new(Inner { db, items, write_lock: Mutex::new(()) }) })
    }

    fn put_blocking(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError> {
        let inner = &self.inner;
        let _guard = inner.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut batch = inner.db.batch();
        let mut in_batch = HashSet::with_capacity(items.len());
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let key = item_key(&item.key);
            if in_batch.contains(&key) || inner.items.contains_key(&key).map_err(storage)? {
                outcomes.push(PutItemOutcome::Duplicate);
                continue;
            }
            batch.insert(&inner.items, key.clone(), item.value);
            in_batch.insert(key);
            outcomes.push(PutItemOutcome::Stored);
        }
        if !in_batch.is_empty() {
            batch.commit().map_err(storage)?;
            inner.db.persist(PersistMode::SyncAll).map_err(storage)?;
        }
        Ok(outcomes)
    }

    /// Retention: removes the events of hour buckets that ended before `before`, and
    /// their markers; returns how many items went. Removed in chunks, each durable.
    pub fn expire(&self, layout: &KvLayout, before: DateTime<Utc>) -> Result<u64, KvError> {
        let inner = &self.inner;
        let _guard = inner.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cutoff = HourBucket::of(before);
        // Event partitions sort by hour (fixed-width buckets): the old ones are a range.
        let first = format!("{}#", layout.stream).into_bytes();
        let end = format!("{}#{cutoff}", layout.stream).into_bytes();
        let mut doomed = Vec::new();
        for guard in inner.items.range(first..end) {
            doomed.push(guard.key().map_err(storage)?.to_vec());
        }
        // Markers point at their event's partition.
        let old = |pk: &str| layout.bucket_of(pk).is_some_and(|bucket| bucket < cutoff);
        for guard in inner.items.prefix(format!("{}#id#", layout.stream)) {
            let (key, value) = guard.into_inner().map_err(storage)?;
            if KvLayout::marker_target(&value).is_some_and(old) {
                doomed.push(key.to_vec());
            }
        }
        for chunk in doomed.chunks(10_000) {
            let mut batch = inner.db.batch();
            for key in chunk {
                batch.remove(&inner.items, key.clone());
            }
            batch.commit().map_err(storage)?;
        }
        if !doomed.is_empty() {
            inner.db.persist(PersistMode::SyncAll).map_err(storage)?;
        }
        Ok(doomed.len() as u64)
    }

    fn get_blocking(&self, keys: &[KvKey]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        keys.iter()
            .map(|key| Ok(self.inner.items.get(item_key(key)).map_err(storage)?.map(|value| value.to_vec())))
            .collect()
    }

    fn scan_blocking(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, |key| Bound::Excluded(item_key(&key)));
        let mut items = Vec::new();
        for guard in self.inner.items.range::<Vec<u8>, _>((start, Bound::Unbounded)).take(limit) {
            let (key, value) = guard.into_inner().map_err(storage)?;
            // `pk \0 sk`: a partition key never holds NUL (it is made of names and times).
            let split = key.iter().position(|b| *b == 0).unwrap_or(key.len());
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let sk = key.get(split + 1..).map(text).unwrap_or_default();
            items.push(KvItem { key: KvKey { pk: text(&key[..split]), sk }, value: value.to_vec() });
        }
        Ok(items)
    }

    fn delete_blocking(&self, keys: &[KvKey]) -> Result<(), KvError> {
        let inner = &self.inner;
        let _guard = inner.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut batch = inner.db.batch();
        for key in keys {
            batch.remove(&inner.items, item_key(key));
        }
        batch.commit().map_err(storage)?;
        inner.db.persist(PersistMode::SyncAll).map_err(storage)
    }

    fn query_blocking(&self, pk: &str) -> Result<Vec<KvItem>, KvError> {
        let mut prefix = pk.as_bytes().to_vec();
        prefix.push(0);
        let mut items = Vec::new();
        for guard in self.inner.items.prefix(&prefix) {
            let (key, value) = guard.into_inner().map_err(storage)?;
            let sk = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            items.push(KvItem { key: KvKey { pk: pk.to_owned(), sk }, value: value.to_vec() });
        }
        Ok(items)
    }
}

#[async_trait::async_trait]
impl KvStore for FjallKvStore {
    async fn put_items(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_blocking(items))
            .await
            .map_err(|error| KvError::Unavailable(format!("kv writer task: {error}")))?
    }

    async fn get_items(&self, keys: Vec<KvKey>) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.get_blocking(&keys))
            .await
            .map_err(|error| KvError::Unavailable(format!("kv reader task: {error}")))?
    }

    async fn query_partition(&self, pk: &str) -> Result<Vec<KvItem>, KvError> {
        let store = self.clone();
        let pk = pk.to_owned();
        tokio::task::spawn_blocking(move || store.query_blocking(&pk))
            .await
            .map_err(|error| KvError::Unavailable(format!("kv reader task: {error}")))?
    }

    async fn scan(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.scan_blocking(after, limit))
            .await
            .map_err(|error| KvError::Unavailable(format!("kv reader task: {error}")))?
    }

    async fn delete_items(&self, keys: Vec<KvKey>) -> Result<(), KvError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.delete_blocking(&keys))
            .await
            .map_err(|error| KvError::Unavailable(format!("kv writer task: {error}")))?
    }
}
