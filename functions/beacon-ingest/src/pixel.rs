//! `GET /v1/p.gif`: the pixel beacon.
//!
//! Query parameters map onto the event: the model's own fields by name, `k.<name>`
//! into business `keys`, `p.<name>` and any other parameter into `properties`;
//! `wk` is the write key and `cb` a cache-buster, both dropped. The answer is always
//! the 1×1 GIF (so a page never shows a broken image); the status and the
//! `X-Tidemark-Rejected` header say what happened.

use crate::auth::write_key;
use crate::response::status_of;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use std::sync::Arc;
use tidemark_core::ingest::{EventResult, Ingestor};
use tidemark_core::validate::CLIENT_FIELDS;

/// The smallest transparent 1×1 GIF (43 bytes).
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Takes the whole request rather than a `HeaderMap` extractor, which would clone the
/// headers on this, the hottest route.
pub async fn get_pixel(State(ingestor): State<Arc<Ingestor>>, request: Request) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.uri().query().unwrap_or("")).unwrap_or_default();
    let key = pairs.iter().find(|(name, _)| name == "wk").map(|(_, value)| value.as_str());
    let source = match ingestor.authenticate(write_key(request.headers(), key)) {
        Ok(source) => source,
        Err(error) => return gif(status_of(&error), None),
    };
    let event = event_from_params(pairs);
    match ingestor.ingest(&source, vec![Ok(event)]).await {
        Ok(report) => match report.results.into_iter().next() {
            Some(EventResult::Accepted { .. }) => gif(StatusCode::OK, None),
            Some(EventResult::Rejected { field, rule, .. }) => {
                gif(StatusCode::BAD_REQUEST, Some(format!("{field}:{rule}")))
            }
            Some(EventResult::Failed { .. }) | None => gif(StatusCode::SERVICE_UNAVAILABLE, None),
        },
        Err(error) => gif(status_of(&error), None),
    }
}

fn event_from_params(pairs: Vec<(String, String)>) -> Value {
    let mut event = Map::new();
    let mut keys = Map::new();
    let mut properties = Map::new();
    for (name, value) in pairs {
        if name == "wk" || name == "cb" {
            continue;
        }
        if name == "occurred_at" && !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
            if let Ok(millis) = value.parse::<i64>() {
                event.insert(name, Value::from(millis));
                continue;
            }
        }
        // Scalar fields of the model by name; `keys` and `properties` are objects.
        if CLIENT_FIELDS.contains(&name.as_str()) && name != "keys" && name != "properties" {
            event.insert(name, Value::String(value));
        } else if let Some(key) = name.strip_prefix("k.") {
            keys.insert(key.to_owned(), Value::String(value));
        } else {
            let property = name.strip_prefix("p.").unwrap_or(&name).to_owned();
            properties.insert(property, Value::String(value));
        }
    }
    if !keys.is_empty() {
        event.insert("keys".to_owned(), Value::Object(keys));
    }
    if !properties.is_empty() {
        event.insert("properties".to_owned(), Value::Object(properties));
    }
    Value::Object(event)
}

/// Static header values: no parsing or copying per request on this hot path.
fn gif(status: StatusCode, rejected: Option<String>) -> Response {
    let mut response = Response::new(Body::from(PIXEL_GIF));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    // Cache-Control alone: HTTP/1.0's Pragma and Expires would only add bytes to every answer.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"));
    // An <img> needs no CORS; this lets a page also fetch() the pixel and read its status.
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Some(value) = rejected.and_then(|text| HeaderValue::from_str(&text).ok()) {
        headers.insert("x-tidemark-rejected", value);
    }
    response
}
