//! The object store port: the interim store of raw extracts, manifests and quarantine
//! files (S3 in AWS, a directory locally).

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("object store: {key}: {message}")]
    Io { key: String, message: String },
    #[error("object store: invalid key {0:?}: keys are relative paths without '..'")]
    InvalidKey(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes the whole object; readers see the old object or the new one, never a part.
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), ObjectStoreError>;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError>;

    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectStoreError>;

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError>;
}

/// A key is a relative path of safe segments.
pub fn check_key(key: &str) -> Result<(), ObjectStoreError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(())
    } else {
        Err(ObjectStoreError::InvalidKey(key.to_string()))
    }
}
