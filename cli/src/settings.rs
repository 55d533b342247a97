//! `GET /v1/settings` on a running `tidemark up`: the configuration it runs with, after
//! flags, environment and defaults were applied, for the console's Settings panel. No
//! secret is shown: admin tokens and write keys by count (write keys with the sources
//! they stand for), the notification webhook by scheme and host only.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

use crate::config::UpConfig;

pub fn router<S>(config: Arc<UpConfig>) -> Router<S> {
    Router::new().route("/v1/settings", get(settings)).with_state(config)
}

async fn settings(State(config): State<Arc<UpConfig>>) -> Json<Value> {
    Json(effective(&config))
}

/// The webhook without its path and query, where a token usually travels.
fn masked(url: &reqwest::Url) -> String {
    format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("?"))
}

pub fn effective(c: &UpConfig) -> Value {
    let days = |d: chrono::Duration| d.num_hours() as f64 / 24.0;
    json!({
        "data_dir": c.data_dir.display().to_string(),
        "http_addr": c.http_addr.to_string(),
        "admin_addr": c.admin_addr.to_string(),
        "udp_addr": c.udp_addr.map(|a| a.to_string()),
        "admin_tokens": c.admin_tokens.len(),
        "allowed_hosts": c.allowed_hosts,
        "write_keys": {"count": c.write_keys.len(), "sources": c.write_keys.sources()},
        "pipeline": c.pipeline.as_ref().map(|p| p.display().to_string()),
        "notify_webhook": c.notify_webhook.as_ref().map(masked),
        "stream_shards": c.stream_shards,
        "kv_write_shards": c.kv_layout.write_shards,
        "retention_days": {
            "log": days(c.retention.log),
            "events": days(c.retention.events),
            "dead_letters": days(c.retention.dead_letters),
            "raw": days(c.retention.raw.keep),
        },
        "disk_min_free_bytes": c.disk_min_free,
        "max_connections": c.serve.max_connections,
        "consumer_batch_size": c.runner.batch_size,
        "consumer_commit_interval_ms": c.runner.commit_interval.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_core::ingest::WriteKeys;

    #[test]
    fn no_secret_is_shown() {
        let keys = WriteKeys::parse("web-key-0123456789=web,app-key-0123456789=app,web-key-9876543210=web").unwrap();
        let mut config = UpConfig::for_tests("/tmp/tm".into(), keys);
        config.admin_tokens = vec!["admin-token-0123456789".into()];
        config.notify_webhook = Some("https://hooks.example/services/T0/B0/s3cr3t?token=x".parse().unwrap());
        let shown = effective(&config);
        let text = shown.to_string();
        for secret in ["web-key-0123456789", "app-key-0123456789", "admin-token-0123456789", "s3cr3t", "token=x"] {
            assert!(!text.contains(secret), "{secret} is shown: {text}");
        }
        assert_eq!(shown["write_keys"], json!({"count": 3, "sources": ["app", "web"]}));
        assert_eq!(
            (shown["admin_tokens"].as_u64(), shown["notify_webhook"].as_str()),
            (Some(1), Some("https://hooks.example/…"))
        );
    }
}
