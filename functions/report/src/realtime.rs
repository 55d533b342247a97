//! `GET /v1/realtime`.
//!
//! Parameters: `metric` (revenue | orders | page_views | events; default revenue),
//! `by` (region | event_type | source | currency; optional), `interval` (1m | 1h | 1d;
//! default 1m), `from` and `to` (RFC 3339; default the last hour).

use crate::{parse_time, ReportState};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use tidemark_core::bucket::Interval;
use tidemark_core::realtime::{Metric, RealtimeQuery, Series};

#[derive(Debug, Deserialize)]
pub struct Params {
    metric: Option<String>,
    by: Option<String>,
    interval: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Why a realtime request was not answered; each variant decides its status.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("{message}")]
    BadParameter { field: &'static str, message: String },
    #[error(transparent)]
    Search(#[from] tidemark_core::ports::SearchError),
    #[error(transparent)]
    Result(#[from] tidemark_core::ports::UnreadableAnswer),
}

impl IntoResponse for RealtimeError {
    fn into_response(self) -> Response {
        match &self {
            RealtimeError::BadParameter { field, message } => {
                (StatusCode::BAD_REQUEST, Json(json!({"error": message, "field": field}))).into_response()
            }
            RealtimeError::Search(error) if error.is_retryable() => {
                tracing::warn!(%error, "realtime query failed");
                (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": self.to_string()}))).into_response()
            }
            RealtimeError::Search(_) => {
                (StatusCode::BAD_REQUEST, Json(json!({"error": self.to_string(), "field": "query"}))).into_response()
            }
            RealtimeError::Result(_) => {
                (StatusCode::BAD_GATEWAY, Json(json!({"error": self.to_string()}))).into_response()
            }
        }
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> RealtimeError {
    RealtimeError::BadParameter { field, message: message.into() }
}

pub async fn get_realtime(
    State(state): State<ReportState>,
    Query(params): Query<Params>,
) -> Result<Json<Series>, RealtimeError> {
    let metric =
        params.metric.as_deref().unwrap_or("revenue").parse::<Metric>().map_err(|message| bad("metric", message))?;
    let interval =
        params.interval.as_deref().unwrap_or("1m").parse::<Interval>().map_err(|message| bad("interval", message))?;
    let to = parse_time("to", params.to.as_deref(), state.clock.now()).map_err(|(f, m)| bad(f, m))?;
    let from = parse_time("from", params.from.as_deref(), to - Duration::hours(1)).map_err(|(f, m)| bad(f, m))?;
    let query = RealtimeQuery { metric, by: params.by.filter(|by| !by.is_empty()), interval, from, to };
    query.validate().map_err(|refused| bad("query", refused.to_string()))?;
    let response = state.index.search(&query.search_request()).await?;
    query.series(&response).map(Json).map_err(RealtimeError::Result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router;
    use async_trait::async_trait;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};
    use tidemark_core::clock::SystemClock;
    use tidemark_core::event::Event;
    use tidemark_core::ports::search::{IndexOutcome, SearchError, SearchIndex};
    use tidemark_core::search::{Query, SearchRequest, SearchResponse};
    use tower::ServiceExt;

    /// Answers a fixed aggregation and remembers the request it was asked.
    #[derive(Default)]
    struct CannedIndex(Mutex<Option<SearchRequest>>);

    #[async_trait]
    impl SearchIndex for CannedIndex {
        async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError> {
            Ok(vec![IndexOutcome::Indexed; events.len()])
        }
        async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
            *self.0.lock().unwrap() = Some(request.clone());
            Ok(SearchResponse {
                total: 2,
                aggregations: json!({"over_time": {"buckets": [{"key": 1_795_611_600_000.0_f64, "doc_count": 2,
                    "value": {"value": 20.0}, "group": {"buckets": [{"key": "EU", "doc_count": 2, "value": {"value": 20.0}}]}}]}}),
            })
        }
        async fn delete_matching(&self, _query: &Query) -> Result<u64, SearchError> {
            Ok(0)
        }
    }

    async fn get(uri: &str, index: Arc<CannedIndex>) -> (StatusCode, serde_json::Value) {
        let app = router(ReportState {
            index,
            clock: Arc::new(SystemClock),
            batch: None,
            no_pipeline: Arc::from("no pipeline"),
            jobs: None,
            keys: None,
        });
        let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// A fresh deployment has no pipeline file: real time still answers, the report
    /// list is empty and says how to add one, and a report is not found with that text.
    #[tokio::test]
    async fn without_a_pipeline_file_the_report_routes_say_how_to_add_one() {
        let index = Arc::new(CannedIndex::default());
        let (status, body) = get("/v1/reports", Arc::clone(&index)).await;
        assert_eq!((status, &body["reports"]), (StatusCode::OK, &json!([])));
        assert_eq!(body["note"], "no pipeline");
        let (status, body) = get("/v1/reports/sales", Arc::clone(&index)).await;
        assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &json!("no pipeline")));
        let realtime = "/v1/realtime?metric=revenue&interval=1m&from=2026-11-25T13:00:00Z&to=2026-11-25T14:00:00Z";
        let (status, _) = get(realtime, index).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn answers_a_series() {
        let index = Arc::new(CannedIndex::default());
        let (status, body) = get(
            "/v1/realtime?metric=revenue&by=region&interval=1m&from=2026-11-25T13:00:00Z&to=2026-11-25T14:00:00Z",
            Arc::clone(&index),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 20.0);
        assert_eq!(body["points"][0]["groups"]["EU"], 20.0);
        let asked = index.0.lock().unwrap().clone().unwrap();
        assert_eq!(asked.aggs["over_time"]["date_histogram"]["fixed_interval"], "1m");
    }

    /// On AWS the same routes serve browsers under `/ui/`, behind the admin tokens:
    /// `/ui` sends to `/ui/`, a page without a token to the login form, and the
    /// dashboard's relative requests (`/ui/v1/...`) answer once the token is there.
    #[tokio::test]
    async fn the_browser_routes_live_under_ui_behind_the_tokens() {
        use crate::admin::{AdminGuard, FixedTokens, Tokens};
        let state = ReportState {
            index: Arc::new(CannedIndex::default()),
            clock: Arc::new(SystemClock),
            batch: None,
            no_pipeline: Arc::from("no pipeline"),
            jobs: None,
            keys: None,
        };
        let tokens = Arc::new(FixedTokens::new(["ui-token-0123456789"])) as Tokens;
        let app = crate::browser_router(state, AdminGuard { tokens: Some(tokens), hosts: None });
        let status = |uri: &'static str, token: bool| {
            let app = app.clone();
            async move {
                let mut request = Request::get(uri);
                if token {
                    request = request.header("cookie", "tidemark_admin=ui-token-0123456789");
                }
                let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
                let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
                (response.status(), location)
            }
        };
        assert_eq!(status("/ui", false).await, (StatusCode::PERMANENT_REDIRECT, Some("/ui/".into())));
        assert_eq!(status("/ui/", false).await, (StatusCode::SEE_OTHER, Some("login".into())));
        assert_eq!(status("/ui/login", false).await.0, StatusCode::OK);
        assert_eq!(status("/ui/v1/realtime?metric=revenue", false).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(status("/ui/v1/realtime?metric=revenue", true).await.0, StatusCode::OK);
        assert_eq!(status("/ui/", true).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn bad_parameters_name_the_field() {
        let index = Arc::new(CannedIndex::default());
        let (status, body) = get("/v1/realtime?metric=profit", Arc::clone(&index)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["field"], "metric");
        let (_, body) = get("/v1/realtime?from=yesterday", Arc::clone(&index)).await;
        assert_eq!(body["field"], "from");
        let (_, body) = get("/v1/realtime?interval=5m", Arc::clone(&index)).await;
        assert_eq!(body["field"], "interval");
        let (_, body) = get("/v1/realtime?by=user_id", index).await;
        assert_eq!(body["field"], "query");
    }

    /// An IAM-signed API Gateway HTTP API (payload 2.0) request, as the report Lambda
    /// receives it, through `lambda_http`'s own conversion and the router.
    #[tokio::test]
    async fn answers_an_api_gateway_request() {
        let fixture = include_str!("../tests/fixtures/apigw-v2-realtime-iam.json");
        let send = |text: String| async move {
            let index = Arc::new(CannedIndex::default());
            let (parts, body) = lambda_http::request::from_str(&text).unwrap().into_parts();
            let app = router(ReportState {
                index: index.clone(),
                clock: Arc::new(SystemClock),
                batch: None,
                no_pipeline: Arc::from("no pipeline"),
                jobs: None,
                keys: None,
            });
            let response = app.oneshot(Request::from_parts(parts, Body::from(body.to_vec()))).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let asked = index.0.lock().unwrap().clone();
            (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap(), asked)
        };
        let (status, body, asked) = send(fixture.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["points"][0]["groups"]["EU"], 20.0);
        assert_eq!(asked.unwrap().aggs["over_time"]["date_histogram"]["fixed_interval"], "1m");
        // The same request with a bad interval: 400 naming the field, the index never asked.
        let (status, body, asked) = send(fixture.replace("interval=1m", "interval=fortnight")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["field"], "interval");
        assert!(asked.is_none());
    }
}
