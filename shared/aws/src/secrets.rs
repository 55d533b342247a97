//! Secrets from Secrets Manager, read once at cold start.
//!
//! Beacon write keys: the secret the template generates is `{"key": "<write key>",
//! "source": "web"}`; for several keys, store `{"write_keys": "key1=web,key2=app"}` (the
//! format of `TIDEMARK_WRITE_KEYS` in `tidemark up`).
//!
//! Source connections: a JSON object of variables, `{"SHOP_PG_URL": "postgres://..."}`,
//! that `${SHOP_PG_URL}` in the pipeline file's source URLs expand to.

use std::collections::HashMap;

use serde_json::Value;
use tidemark_core::ingest::WriteKeys;

use crate::config::{AwsClients, AwsConfigError};
use crate::retry::describe;

pub fn parse_write_keys(secret: &str) -> Result<WriteKeys, String> {
    let value: Value = serde_json::from_str(secret).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(list) = value["write_keys"].as_str() {
        return WriteKeys::parse(list);
    }
    match (value["key"].as_str(), value["source"].as_str()) {
        (Some(key), Some(source)) if !key.is_empty() && !source.is_empty() => {
            Ok(WriteKeys::new([(key.to_string(), source.to_string())]))
        }
        _ => Err("expected {\"key\": .., \"source\": ..} or {\"write_keys\": \"key=source,..\"}".into()),
    }
}

/// `TIDEMARK_WRITE_KEYS` (`key=source,..`) when set, else the secret named by
/// `TIDEMARK_WRITE_KEYS_SECRET`.
pub async fn write_keys(clients: &AwsClients) -> Result<WriteKeys, AwsConfigError> {
    if let Ok(list) = std::env::var("TIDEMARK_WRITE_KEYS") {
        return WriteKeys::parse(&list)
            .map_err(|reason| AwsConfigError::Invalid { var: "TIDEMARK_WRITE_KEYS", reason });
    }
    let var = "TIDEMARK_WRITE_KEYS_SECRET";
    let id = std::env::var(var)
        .map_err(|_| AwsConfigError::Invalid { var, reason: "set it, or TIDEMARK_WRITE_KEYS".into() })?;
    let text = secret_string(clients, var, &id).await?;
    parse_write_keys(&text).map_err(|reason| AwsConfigError::Invalid { var, reason: format!("{id}: {reason}") })
}

pub fn parse_source_vars(secret: &str) -> Result<HashMap<String, String>, String> {
    let value: Value = serde_json::from_str(secret).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("expected a JSON object of variables, {\"NAME\": \"value\"}")?;
    object
        .iter()
        .map(|(name, v)| match v.as_str() {
            Some(text) => Ok((name.clone(), text.to_string())),
            None => Err(format!("variable {name}: must be a string")),
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
    fn source_variables_are_strings_by_name() {
        let vars = parse_source_vars(r#"{"SHOP_PG_URL": "postgres://u:p@db/shop"}"#).unwrap();
        assert_eq!(vars["SHOP_PG_URL"], "postgres://u:p@db/shop");
        assert_eq!(parse_source_vars(r#"{"PORT": 5432}"#).unwrap_err(), "variable PORT: must be a string");
        assert!(parse_source_vars("[]").is_err());
    }
}
