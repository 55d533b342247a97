//! How each ingest outcome answers over HTTP.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tidemark_core::ingest::{IngestError, IngestReport};

/// Status for a request-level failure: who should act, and whether a retry helps.
pub fn status_of(error: &IngestError) -> StatusCode {
    match error {
        IngestError::Unauthorized => StatusCode::UNAUTHORIZED,
        IngestError::TooManyEvents | IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Malformed(_) | IngestError::Empty => StatusCode::BAD_REQUEST,
        IngestError::SlowBody { .. } => StatusCode::REQUEST_TIMEOUT,
        IngestError::Paused(_) => StatusCode::SERVICE_UNAVAILABLE,
        IngestError::Stream(stream) if stream.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
        IngestError::Stream(_) => StatusCode::BAD_REQUEST,
    }
}

pub fn error_response(error: &IngestError) -> Response {
    let status = status_of(error);
    let body = Json(json!({ "error": error.to_string(), "retryable": status == StatusCode::SERVICE_UNAVAILABLE }));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return (status, [(header::RETRY_AFTER, "1")], body).into_response();
    }
    (status, body).into_response()
}

/// A body refused before it was read whole: the rest is still on the connection, so
/// the answer closes it and says so (`Connection: close`, RFC 9112 §9.6). Without it a
/// client returns the connection to its pool, and its next request meets the close.
pub fn refused_unread(error: &IngestError) -> Response {
    let mut response = error_response(error);
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

/// 200 when every valid event is in the stream; 503 (retry the `failed` ones) otherwise.
pub fn report_response(report: IngestReport) -> Response {
    if report.failed > 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(report)).into_response();
    }
    (StatusCode::OK, Json(report)).into_response()
}
