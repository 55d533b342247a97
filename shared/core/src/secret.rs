//! Secrets compared by digest: write keys and admin tokens are kept as SHA-256 digests
//! and a presented secret is hashed before it is compared, so neither the comparison's
//! time nor a memory dump gives a secret away.

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

pub type Digest = [u8; 32];

pub fn digest(secret: &str) -> Digest {
    Sha256::digest(secret.as_bytes()).into()
}

#[derive(Debug, thiserror::Error)]
#[error("secrets unavailable: {0}")]
pub struct SecretError(pub String);

/// The secrets valid now (several at once during a rotation), from wherever they live:
/// fixed at start, or re-read from a secret store when a short TTL has passed.
#[async_trait]
pub trait SecretSet: Send + Sync {
    async fn digests(&self) -> Result<Vec<Digest>, SecretError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_differ_by_any_byte() {
        assert_eq!(digest("key-1"), digest("key-1"));
        assert_ne!(digest("key-1"), digest("key-2"));
    }
}
