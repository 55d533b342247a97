//! `POST /v1/events`.

use crate::auth::write_key;
use crate::response::{error_response, refused_unread, report_response};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use tidemark_core::ingest::{parse_batch, IngestError, Ingestor, MAX_REQUEST_BYTES};

/// How long a client may take to send a whole body (1 MiB at most): a slow sender
/// cannot hold a connection and a buffer for longer.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Deserialize)]
pub struct KeyParam {
    wk: Option<String>,
}

pub async fn post_events(
    State(ingestor): State<Arc<Ingestor>>,
    Query(params): Query<KeyParam>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source = match ingestor.authenticate(write_key(&headers, params.wk.as_deref())) {
        Ok(source) => source,
        Err(error) => return error_response(&error),
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if let Some(bytes) = declared.filter(|bytes| *bytes > MAX_REQUEST_BYTES) {
        return refused_unread(&IngestError::TooLarge { bytes });
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_REQUEST_BYTES + 1)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return refused_unread(&IngestError::TooLarge { bytes: MAX_REQUEST_BYTES + 1 }),
        Err(_) => return refused_unread(&IngestError::SlowBody { seconds: BODY_TIMEOUT.as_secs() }),
    };
    let events = match parse_batch(&bytes) {
        Ok(events) => events,
        Err(error) => return error_response(&error),
    };
    let count = events.len();
    match ingestor.ingest_batch(&source, events).await {
        Ok(report) => {
            tracing::debug!(source = %source, events = count, accepted = report.accepted, rejected = report.rejected, "batch ingested");
            report_response(report)
        }
        Err(error) => {
            tracing::warn!(source = %source, events = count, %error, "batch refused");
            error_response(&error)
        }
    }
}
