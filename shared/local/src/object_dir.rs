//! The object store port on a local directory: a key is a relative path under the root.
//! A put writes a temporary file, fsyncs it and renames it over the key, so readers see
//! the old object or the new one.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tidemark_core::ports::object_store::check_key;
use tidemark_core::ports::{ObjectStore, ObjectStoreError};

#[derive(Debug, Clone)]
pub struct DirObjectStore {
    root: PathBuf,
}

impl DirObjectStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirObjectStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectStoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(key: &str, e: impl std::fmt::Display) -> ObjectStoreError {
    ObjectStoreError::Io { key: key.to_string(), message: e.to_string() }
}

#[async_trait]
impl ObjectStore for DirObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        let path = self.path(key)?;
        let key = key.to_string();
        tokio::task::spawn_blocking(move || {
            let dir = path.parent().ok_or_else(|| io(&key, "no parent directory"))?;
            std::fs::create_dir_all(dir).map_err(|e| io(&key, e))?;
            let mut tmp = tempfile_in(dir).map_err(|e| io(&key, e))?;
            tmp.1.write_all(&body).map_err(|e| io(&key, e))?;
            tmp.1.sync_all().map_err(|e| io(&key, e))?;
            std::fs::rename(&tmp.0, &path).map_err(|e| io(&key, e))?;
            Ok(())
        })
        .await
        .map_err(|e| ObjectStoreError::Io { key: String::new(), message: e.to_string() })?
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectStoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            // Walk only the deepest directory the prefix names.
            let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
            let mut out = Vec::new();
            let mut stack = vec![root.join(dir_part)];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&prefix, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| io(&prefix, e))?;
                    let path = entry.path();
                    let Ok(rel) = path.strip_prefix(&root) else { continue };
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if entry.file_type().map_err(|e| io(&prefix, e))?.is_dir() {
                        stack.push(path);
                    } else if rel.starts_with(&prefix) && !rel.rsplit('/').next().unwrap_or("").starts_with(".tmp-") {
                        out.push(rel);
                    }
                }
            }
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| ObjectStoreError::Io { key: String::new(), message: e.to_string() })?
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(key, e)),
        }
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = format!(".tmp-{}", uuid_like());
    let path = dir.join(name);
    let f = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, f))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
