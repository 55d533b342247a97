//! The object store port on a sorted map: whole-object puts, prefix lists in key order.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::object_store::{check_key, ObjectStore, ObjectStoreError};

#[derive(Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        check_key(key)?;
        Ok(self.objects.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectStoreError> {
        let objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        Ok(objects
            .range(prefix.to_owned()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }
}
