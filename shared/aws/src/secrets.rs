//! Secrets from Secrets Manager.
//!
//! Beacon write keys: the secret the template generates is `{"key": "<write key>",
//! "source": "web"}`; for several keys, store `{"write_keys": "key1=web,key2=app"}` (the
//! format of `TIDEMARK_WRITE_KEYS` in `tidemark up`). Keys are read at cold start and
//! again whenever [`SECRETS_TTL`] has passed ([`KeyRefresh`]), so a revoked key stops
//! working within a minute on every warm function; list old and new key side by side
//! while clients move over. Keys made in the console are read with them.
//!
//! Admin tokens of the read side: `{"tokens": "token1,token2"}`, re-read the same way
//! ([`SecretTokens`]).
//!
//! Source connections: a JSON object of variables, `{"SHOP_PG_URL": "postgres://..."}`,
//! that `${SHOP_PG_URL}` in the pipeline file's source URLs expand to.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use tidemark_core::ingest::{Ingestor, WriteKeyError, WriteKeys};
use tidemark_core::key_registry::KeyRegistry;
use tidemark_core::secret::{digest, Digest, SecretError, SecretSet};
use tokio::sync::Mutex;

use crate::config::{AwsClients, AwsConfigError};
use crate::retry::describe;

/// A secret whose text is not what its reader expects.
#[derive(Debug, thiserror::Error)]
pub enum SecretFormatError {
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// The shape the secret should have, as JSON.
    #[error("expected {0}")]
    Shape(&'static str),
    #[error(transparent)]
    WriteKeys(#[from] WriteKeyError),
    #[error("no token of 16 or more characters")]
    NoToken,
    #[error("variable {0}: must be a string")]
    NotText(String),
}

pub fn parse_write_keys(secret: &str) -> Result<WriteKeys, SecretFormatError> {
    let value: Value = serde_json::from_str(secret)?;
    if let Some(list) = value["write_keys"].as_str() {
        return Ok(WriteKeys::parse(list)?);
    }
    match (value["key"].as_str(), value["source"].as_str()) {
        (Some(key), Some(source)) if !key.is_empty() && !source.is_empty() => {
            Ok(WriteKeys::new([(key.to_string(), source.to_string())])?)
        }
        _ => Err(SecretFormatError::Shape(r#"{"key": .., "source": ..} or {"write_keys": "key=source,.."}"#)),
    }
}

/// `TIDEMARK_WRITE_KEYS` (`key=source,..`) when set, else the secret named by
/// `TIDEMARK_WRITE_KEYS_SECRET`.
pub async fn write_keys(clients: &AwsClients) -> Result<WriteKeys, AwsConfigError> {
    if let Ok(list) = std::env::var("TIDEMARK_WRITE_KEYS") {
        return WriteKeys::parse(&list)
            .map_err(|e| AwsConfigError::Invalid { var: "TIDEMARK_WRITE_KEYS", reason: e.to_string() });
    }
    let var = "TIDEMARK_WRITE_KEYS_SECRET";
    let id = std::env::var(var)
        .map_err(|_| AwsConfigError::Invalid { var, reason: "set it, or TIDEMARK_WRITE_KEYS".into() })?;
    let text = secret_string(clients, var, &id).await?;
    parse_write_keys(&text).map_err(|reason| AwsConfigError::Invalid { var, reason: format!("{id}: {reason}") })
}

/// How long a secret read from Secrets Manager is trusted before it is read again.
pub const SECRETS_TTL: Duration = Duration::from_secs(60);

/// Where the configured write keys come from.
enum Configured {
    /// `TIDEMARK_WRITE_KEYS`: fixed for the life of the function.
    Fixed(WriteKeys),
    /// The secret of this id, read again at every refresh.
    Secret(String),
}

/// Re-reads the write keys when [`SECRETS_TTL`] has passed and hands the new set to the
/// ingestor: the configured ones (the secret, or `TIDEMARK_WRITE_KEYS`) and those made in
/// the console (the [`KeyRegistry`] in the events table). A failed read keeps the keys in
/// use and says so in the log: a Secrets Manager or DynamoDB hiccup must not lock every
/// client out.
pub struct KeyRefresh {
    clients: AwsClients,
    configured: Configured,
    registry: Option<KeyRegistry>,
    ttl: Duration,
    last_read: Mutex<Instant>,
}

impl KeyRefresh {
    /// The secret named by `TIDEMARK_WRITE_KEYS_SECRET`, or `configured` when
    /// `TIDEMARK_WRITE_KEYS` fixed the keys (as [`write_keys`] read them).
    pub fn from_env(clients: &AwsClients, configured: WriteKeys) -> Self {
        let secret =
            std::env::var("TIDEMARK_WRITE_KEYS_SECRET").ok().filter(|_| std::env::var("TIDEMARK_WRITE_KEYS").is_err());
        let configured = secret.map_or(Configured::Fixed(configured), Configured::Secret);
        Self {
            clients: clients.clone(),
            configured,
            registry: None,
            ttl: SECRETS_TTL,
            last_read: Mutex::new(Instant::now()),
        }
    }

    /// Re-reads `secret_id` when `ttl` has passed since the last read (the cold start's).
    pub fn new(clients: &AwsClients, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            clients: clients.clone(),
            configured: Configured::Secret(secret_id.into()),
            registry: None,
            ttl,
            last_read: Mutex::new(Instant::now()),
        }
    }

    /// Adds the keys made in the console.
    pub fn with_registry(mut self, registry: Option<KeyRegistry>) -> Self {
        self.registry = registry;
        self
    }

    pub async fn refresh_if_stale(&self, ingestor: &Ingestor) {
        let mut last_read = self.last_read.lock().await;
        if last_read.elapsed() < self.ttl {
            return;
        }
        *last_read = Instant::now();
        if let Some(keys) = self.read().await {
            ingestor.replace_write_keys(keys);
        }
    }

    /// The keys valid now, or `None` (and a log line) when a read failed.
    pub async fn read(&self) -> Option<WriteKeys> {
        let configured = match &self.configured {
            Configured::Fixed(keys) => keys.clone(),
            Configured::Secret(id) => {
                let read = secret_string(&self.clients, "TIDEMARK_WRITE_KEYS_SECRET", id).await;
                match read.map(|text| parse_write_keys(&text)) {
                    Ok(Ok(keys)) => keys,
                    Ok(Err(reason)) => {
                        tracing::error!(secret = %id, %reason, "write keys not refreshed");
                        return None;
                    }
                    Err(error) => {
                        tracing::error!(secret = %id, %error, "write keys not refreshed");
                        return None;
                    }
                }
            }
        };
        self.add_console_keys(&configured).await
    }

    /// The keys to start with, from `configured` as [`write_keys`] has just read them:
    /// only the console's are read. Without them (a DynamoDB hiccup at cold start) the
    /// configured ones serve until the next refresh.
    pub async fn initial(&self, configured: WriteKeys) -> WriteKeys {
        self.add_console_keys(&configured).await.unwrap_or(configured)
    }

    /// `configured` and the keys made in the console, or `None` (and a log line) when
    /// those could not be read.
    async fn add_console_keys(&self, configured: &WriteKeys) -> Option<WriteKeys> {
        let Some(registry) = &self.registry else { return Some(configured.clone()) };
        match registry.effective(configured).await {
            Ok(keys) => Some(keys),
            Err(error) => {
                tracing::error!(%error, "write keys made in the console not read; the keys in use stay");
                None
            }
        }
    }
}

/// Admin tokens from the secret named by `TIDEMARK_ADMIN_TOKENS_SECRET`
/// (`{"tokens": "t1,t2"}`), cached for [`SECRETS_TTL`].
pub struct SecretTokens {
    clients: AwsClients,
    secret_id: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Vec<Digest>)>>,
}

impl SecretTokens {
    pub fn new(clients: &AwsClients, secret_id: impl Into<String>) -> Self {
        Self::with_ttl(clients, secret_id, SECRETS_TTL)
    }

    pub fn with_ttl(clients: &AwsClients, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self { clients: clients.clone(), secret_id: secret_id.into(), ttl, cached: Mutex::new(None) }
    }
}

fn parse_tokens(secret: &str) -> Result<Vec<Digest>, SecretFormatError> {
    let value: Value = serde_json::from_str(secret)?;
    let list = value["tokens"].as_str().ok_or(SecretFormatError::Shape(r#"{"tokens": "token1,token2"}"#))?;
    let tokens: Vec<Digest> = list.split(',').map(str::trim).filter(|t| t.len() >= 16).map(digest).collect();
    if tokens.is_empty() {
        return Err(SecretFormatError::NoToken);
    }
    Ok(tokens)
}

#[async_trait]
impl SecretSet for SecretTokens {
    async fn digests(&self) -> Result<Vec<Digest>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, tokens)) = cached.as_ref() {
            if read_at.elapsed() < self.ttl {
                return Ok(tokens.clone());
            }
        }
        let text = secret_string(&self.clients, "TIDEMARK_ADMIN_TOKENS_SECRET", &self.secret_id)
            .await
            .map_err(|e| SecretError(e.to_string()))?;
        let tokens = parse_tokens(&text).map_err(|reason| SecretError(format!("{}: {reason}", self.secret_id)))?;
        *cached = Some((Instant::now(), tokens.clone()));
        Ok(tokens)
    }
}

fn parse_source_vars(secret: &str) -> Result<HashMap<String, String>, SecretFormatError> {
    let value: Value = serde_json::from_str(secret)?;
    let object =
        value.as_object().ok_or(SecretFormatError::Shape(r#"a JSON object of variables, {"NAME": "value"}"#))?;
    object
        .iter()
        .map(|(name, v)| match v.as_str() {
            Some(text) => Ok((name.clone(), text.to_string())),
            None => Err(SecretFormatError::NotText(name.clone())),
        })
        .collect()
}

/// The variables in the secret named by `TIDEMARK_SOURCES_SECRET`; none when unset.
pub async fn source_vars(clients: &AwsClients) -> Result<HashMap<String, String>, AwsConfigError> {
    let var = "TIDEMARK_SOURCES_SECRET";
    let Some(id) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) else {
        return Ok(HashMap::new());
    };
    let text = secret_string(clients, var, &id).await?;
    parse_source_vars(&text).map_err(|reason| AwsConfigError::Invalid { var, reason: format!("{id}: {reason}") })
}

async fn secret_string(clients: &AwsClients, var: &'static str, id: &str) -> Result<String, AwsConfigError> {
    let secret = clients
        .secrets
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| AwsConfigError::Invalid { var, reason: format!("{id}: {}", describe(&e)) })?;
    secret
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| AwsConfigError::Invalid { var, reason: format!("{id}: not a string secret") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_secret_shapes_give_write_keys() {
        let generated = parse_write_keys(r#"{"source": "web", "key": "Zx81Zx81Zx81"}"#).unwrap();
        assert_eq!(generated.source_of("Zx81Zx81Zx81"), Some("web"));
        let several = parse_write_keys(r#"{"write_keys": "key-one-1=web,key-two-2=app"}"#).unwrap();
        assert_eq!(several.source_of("key-two-2"), Some("app"));
        assert!(parse_write_keys(r#"{"source": "web"}"#).is_err());
    }

    #[test]
    fn admin_tokens_are_a_list_of_long_secrets() {
        let tokens = parse_tokens(r#"{"tokens": "old-token-0123456789, new-token-0123456789"}"#).unwrap();
        assert_eq!(tokens, vec![digest("old-token-0123456789"), digest("new-token-0123456789")]);
        assert!(parse_tokens(r#"{"tokens": "short"}"#).is_err());
    }

    #[test]
    fn source_variables_are_strings_by_name() {
        let vars = parse_source_vars(r#"{"SHOP_PG_URL": "postgres://u:p@db/shop"}"#).unwrap();
        assert_eq!(vars["SHOP_PG_URL"], "postgres://u:p@db/shop");
        assert_eq!(parse_source_vars(r#"{"PORT": 5432}"#).unwrap_err().to_string(), "variable PORT: must be a string");
        assert!(parse_source_vars("[]").is_err());
    }
}
