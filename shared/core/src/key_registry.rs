//! Write keys made and revoked while Tidemark runs (the console, `POST /v1/write-keys`),
//! beside the ones the deployment's configuration fixes. They live in the key-value
//! store, which both deployments have (fjall locally, DynamoDB on AWS, where the beacon
//! function reads them again with its secret every minute), under a partition that no
//! retention expires ([`crate::kv_key::PERMANENT_PREFIX`]).
//!
//! Only a key's SHA-256 digest is stored; the key itself is shown once, when it is made.
//! A revoked key's record is kept beside the active ones (who revoked what, when), the
//! latest [`KEEP_REVOKED`] of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::clock::Clock;
use crate::event::millis_rfc3339;
use crate::ingest::{valid_source, WriteKeys};
use crate::kv_key::{KvItem, KvKey, PERMANENT_PREFIX};
use crate::ports::kv::{KvError, KvStore, PutItemOutcome};
use crate::secret::{digest, Digest};

/// Active keys at most: a bound on what every request's lookup set can grow to.
pub const MAX_KEYS: usize = 1_000;
/// Revoked keys' records kept; older ones go when another key is revoked.
pub const KEEP_REVOKED: usize = 100;
/// The longest label a key may carry.
pub const MAX_LABEL: usize = 64;

const ID_LEN: usize = 12;

fn partition() -> String {
    format!("{PERMANENT_PREFIX}write-keys")
}

/// A key as the console lists it: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedKey {
    /// The first hex digits of the key's digest: names it without giving it away.
    pub id: String,
    pub source: String,
    pub label: Option<String>,
    #[serde(with = "millis_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "millis_rfc3339::option", default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What is stored: the listing and the digest a presented key is compared with.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    key: ManagedKey,
    digest: String,
}

/// A key just made: `secret` is what clients send, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    #[serde(flatten)]
    pub key: ManagedKey,
    #[serde(rename = "key")]
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("source {0:?} must be 1 to 64 characters of a-z 0-9 _ -")]
    BadSource(String),
    #[error("label must be at most {MAX_LABEL} printable characters")]
    BadLabel,
    #[error("{MAX_KEYS} write keys are active: revoke one before making another")]
    TooMany,
    #[error("no active write key with id {0:?}")]
    Unknown(String),
    #[error("write keys: {0}")]
    Store(#[from] KvError),
}

#[derive(Clone)]
pub struct KeyRegistry {
    kv: Arc<dyn KvStore>,
    clock: Arc<dyn Clock>,
}

impl KeyRegistry {
    pub fn new(kv: Arc<dyn KvStore>, clock: Arc<dyn Clock>) -> Self {
        Self { kv, clock }
    }

    /// Makes a key for `source`: 256 random bits from the operating system.
    pub async fn create(&self, source: &str, label: Option<&str>) -> Result<NewKey, KeyError> {
        if !valid_source(source) {
            return Err(KeyError::BadSource(source.to_owned()));
        }
        let label = label.map(str::trim).filter(|l| !l.is_empty());
        if label.is_some_and(|l| l.chars().count() > MAX_LABEL || l.chars().any(char::is_control)) {
            return Err(KeyError::BadLabel);
        }
        if self.stored().await?.iter().filter(|s| s.key.revoked_at.is_none()).count() >= MAX_KEYS {
            return Err(KeyError::TooMany);
        }
        loop {
            let secret = new_secret();
            let hex = to_hex(&digest(&secret));
            let key = ManagedKey {
                id: hex[..ID_LEN].to_owned(),
                source: source.to_owned(),
                label: label.map(str::to_owned),
                created_at: self.clock.now(),
                revoked_at: None,
            };
            let item = item(active_key(&key.id), &Stored { key: key.clone(), digest: hex });
            // Two keys whose digests share their first 48 bits: make another.
            if self.kv.put_items(vec![item]).await?.first() == Some(&PutItemOutcome::Stored) {
                return Ok(NewKey { key, secret });
            }
        }
    }

    /// Revokes the active key `id`: requests that present it are refused from the next
    /// refresh of the ingest side's keys on (at once locally, within a minute on AWS).
    pub async fn revoke(&self, id: &str) -> Result<ManagedKey, KeyError> {
        let unknown = || KeyError::Unknown(id.to_owned());
        if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(unknown());
        }
        let value = self.kv.get_items(vec![active_key(id)]).await?.pop().flatten().ok_or_else(unknown)?;
        let mut stored: Stored = serde_json::from_slice(&value).map_err(|_| unknown())?;
        stored.key.revoked_at = Some(self.clock.now());
        // The revoked record first, so that a reader never finds the key gone from both.
        self.kv.put_items(vec![item(revoked_key(id), &stored)]).await?;
        self.kv.delete_items(vec![active_key(id)]).await?;
        self.trim_revoked().await?;
        Ok(stored.key)
    }

    /// Every key, active ones first, newest first within each.
    pub async fn list(&self) -> Result<Vec<ManagedKey>, KeyError> {
        let mut keys: Vec<ManagedKey> = self.stored().await?.into_iter().map(|s| s.key).collect();
        keys.sort_by(|a, b| (a.revoked_at.is_some(), b.created_at).cmp(&(b.revoked_at.is_some(), a.created_at)));
        Ok(keys)
    }

    /// The configured keys and the active managed ones: what ingest accepts.
    pub async fn effective(&self, configured: &WriteKeys) -> Result<WriteKeys, KeyError> {
        let active = self.stored().await?.into_iter().filter(|s| s.key.revoked_at.is_none());
        Ok(configured.with(active.filter_map(|s| Some((from_hex(&s.digest)?, s.key.source)))))
    }

    /// Every record; an active key revoked halfway (both records there) counts as revoked.
    async fn stored(&self) -> Result<Vec<Stored>, KeyError> {
        let items = self.kv.query_partition(&partition()).await?;
        let records: Vec<(bool, Stored)> = items
            .iter()
            .filter_map(|i| Some((i.key.sk.starts_with("revoked#"), serde_json::from_slice(&i.value).ok()?)))
            .collect();
        let revoked: Vec<String> = records.iter().filter(|(r, _)| *r).map(|(_, s)| s.key.id.clone()).collect();
        Ok(records.into_iter().filter(|(r, s)| *r || !revoked.contains(&s.key.id)).map(|(_, s)| s).collect())
    }

    async fn trim_revoked(&self) -> Result<(), KeyError> {
        let mut revoked: Vec<ManagedKey> =
            self.stored().await?.into_iter().map(|s| s.key).filter(|k| k.revoked_at.is_some()).collect();
        if revoked.len() <= KEEP_REVOKED {
            return Ok(());
        }
        revoked.sort_by_key(|k| k.revoked_at);
        let doomed = revoked[..revoked.len() - KEEP_REVOKED].iter().map(|k| revoked_key(&k.id)).collect();
        Ok(self.kv.delete_items(doomed).await?)
    }
}

fn active_key(id: &str) -> KvKey {
    KvKey { pk: partition(), sk: format!("active#{id}") }
}

fn revoked_key(id: &str) -> KvKey {
    KvKey { pk: partition(), sk: format!("revoked#{id}") }
}

fn item(key: KvKey, stored: &Stored) -> KvItem {
    // Plain strings and times: serialising cannot fail.
    KvItem { key, value: serde_json::to_vec(stored).unwrap_or_default() }
}

/// `tmk_` and 64 hex digits: two version-4 UUIDs' 244 random bits, from the operating
/// system's generator (the `uuid` crate's `v4` draws them from `getrandom`).
fn new_secret() -> String {
    format!("tmk_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Digest> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
