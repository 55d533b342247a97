//! The notify port on this machine: a webhook. Each run of an analysis that found
//! something new POSTs one JSON document: the notice (analysis, run id, anomalies with
//! their sentences) and a `text` line, which chat webhooks (Slack, Mattermost, Teams'
//! incoming webhooks) show as the message.

use async_trait::async_trait;
use reqwest::Url;
use tidemark_core::ports::notify::{Notice, Notifier, NotifyError};

use crate::config::ConfigError;

/// How long a webhook has to answer before the run says it failed.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct WebhookNotifier {
    url: Url,
    client: reqwest::Client,
}

/// `TIDEMARK_NOTIFY_WEBHOOK`, checked: an http or https URL with a host.
pub fn webhook_url(url: &str) -> Result<Url, ConfigError> {
    let refuse = |message: String| ConfigError { variable: "TIDEMARK_NOTIFY_WEBHOOK", message };
    let url = Url::parse(url.trim()).map_err(|e| refuse(format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(refuse("must be an http:// or https:// URL with a host".into()));
    }
    Ok(url)
}

impl WebhookNotifier {
    pub fn new(url: Url) -> Self {
        // Building a client fails only without a TLS backend, which this binary links.
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
        WebhookNotifier { url, client }
    }

    /// The host, for errors: a webhook's path often holds its secret.
    fn target(&self) -> String {
        self.url.host_str().unwrap_or("webhook").to_owned()
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), NotifyError> {
        let mut body = serde_json::to_value(notice).unwrap_or_default();
        body["text"] = serde_json::Value::String(notice.subject());
        let failed = |message: String| NotifyError { target: self.target(), message };
        let response = self.client.post(self.url.clone()).json(&body).send().await.map_err(|e| {
            // reqwest's error names the URL; keep only what it says went wrong.
            failed(e.without_url().to_string())
        })?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(failed(format!("answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::post;
    use chrono::{TimeZone, Utc};
    use std::sync::{Arc, Mutex};
    use tidemark_core::analysis::{Anomaly, Direction};

    fn notice() -> Notice {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
        let anomaly = Anomaly {
            start,
            end: start + chrono::Duration::hours(1),
            group: Some("EU".into()),
            actual: 1_720.0,
            expected: 4_700.0,
            lower: 4_100.0,
            upper: 5_300.0,
            direction: Direction::Below,
            score: 3.97,
            sentence: "EU sales 14:00–15:00 UTC on 2026-12-01 is 63 % below its forecast".into(),
        };
        Notice {
            analysis: "sales_watch".into(),
            run_id: "analyze:sales_watch:20261201T151500".into(),
            anomalies: vec![anomaly],
        }
    }

    /// A webhook on loopback answering `status`, keeping the bodies it got.
    async fn webhook(status: StatusCode) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&got);
        let app = axum::Router::new().route(
            "/hooks/secret-path",
            post(move |axum::Json(body): axum::Json<serde_json::Value>| async move {
                keep.lock().unwrap().push(body);
                status
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/secret-path", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, got)
    }

    #[tokio::test]
    async fn the_webhook_gets_the_notice_with_a_text_line() {
        let (url, got) = webhook(StatusCode::OK).await;
        WebhookNotifier::new(webhook_url(&url).unwrap()).notify(&notice()).await.unwrap();
        let body = got.lock().unwrap().pop().unwrap();
        assert_eq!(body["analysis"], "sales_watch");
        assert_eq!(body["anomalies"][0]["group"], "EU");
        assert_eq!(body["anomalies"][0]["direction"], "below");
        assert_eq!(
            body["text"],
            "Tidemark sales_watch: EU sales 14:00–15:00 UTC on 2026-12-01 is 63 % below its forecast"
        );
    }

    #[tokio::test]
    async fn a_failing_webhook_is_an_error_naming_the_host_not_the_path() {
        let (url, _) = webhook(StatusCode::INTERNAL_SERVER_ERROR).await;
        let err = WebhookNotifier::new(webhook_url(&url).unwrap()).notify(&notice()).await.unwrap_err().to_string();
        assert!(err.starts_with("notify 127.0.0.1: answered 500"), "{err}");
        assert!(!err.contains("secret-path"), "{err}");
    }

    #[test]
    fn only_http_urls_with_a_host_are_webhooks() {
        assert!(webhook_url("https://hooks.example.com/x").is_ok());
        for bad in ["ftp://example.com/x", "not a url", "file:///etc/passwd", "http://"] {
            let err = webhook_url(bad).unwrap_err().to_string();
            assert!(err.starts_with("TIDEMARK_NOTIFY_WEBHOOK: "), "{bad}: {err}");
        }
    }
}
