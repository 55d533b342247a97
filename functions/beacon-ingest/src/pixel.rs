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
use std::borrow::Cow;
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
    let (event, key) = event_from_query(request.uri().query().unwrap_or(""));
    let source = match ingestor.authenticate(write_key(request.headers(), key.as_deref())) {
        Ok(source) => source,
        Err(error) => return gif(status_of(&error), None),
    };
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

/// The event a query string describes, and its write key (`wk`). One pass over the
/// query straight into the event's JSON object: no intermediate list of owned pairs.
fn event_from_query(query: &str) -> (Value, Option<String>) {
    let mut event = Map::new();
    let mut keys = Map::new();
    let mut properties = Map::new();
    let mut write_key = None;
    for (name, value) in query_pairs(query) {
        match name.as_ref() {
            "wk" => {
                // The first one counts, as a header's would.
                write_key.get_or_insert_with(|| value.into_owned());
                continue;
            }
            "cb" => continue,
            _ => {}
        }
        if name == "occurred_at" && !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
            if let Ok(millis) = value.parse::<i64>() {
                event.insert(name.into_owned(), Value::from(millis));
                continue;
            }
        }
        // Scalar fields of the model by name; `keys` and `properties` are objects.
        if CLIENT_FIELDS.contains(&name.as_ref()) && name != "keys" && name != "properties" {
            event.insert(name.into_owned(), Value::String(value.into_owned()));
        } else if let Some(key) = name.strip_prefix("k.") {
            keys.insert(key.to_owned(), Value::String(value.into_owned()));
        } else {
            let property = name.strip_prefix("p.").unwrap_or(&name).to_owned();
            properties.insert(property, Value::String(value.into_owned()));
        }
    }
    if !keys.is_empty() {
        event.insert("keys".to_owned(), Value::Object(keys));
    }
    if !properties.is_empty() {
        event.insert("properties".to_owned(), Value::Object(properties));
    }
    (Value::Object(event), write_key)
}

/// The query's pairs exactly as `form_urlencoded::parse` decodes them. A beacon's
/// parameters rarely need decoding (no `%` or `+`), and those are borrowed as they
/// stand: the crate runs every pair through percent-decoding and a lossy UTF-8 pass,
/// which came to about 4,800 instructions per pixel query (callgrind, BENCHMARKS.md).
/// A pair that does need decoding goes through `form_urlencoded` itself.
fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        if pair.bytes().any(|byte| byte == b'%' || byte == b'+') {
            // One non-empty pair without `&` parses into exactly one item.
            form_urlencoded::parse(pair.as_bytes()).next().unwrap_or_default()
        } else {
            match pair.split_once('=') {
                Some((name, value)) => (Cow::Borrowed(name), Cow::Borrowed(value)),
                None => (Cow::Borrowed(pair), Cow::Borrowed("")),
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The shortcut decodes every query as the crate does, escapes and all.
        #[test]
        fn query_pairs_match_form_urlencoded(query in "([a-z=&%+._]|%[0-9A-Fa-f]{2}|%[0-9A-Z]|é|\\PC){0,40}") {
            let ours: Vec<_> = query_pairs(&query).collect();
            let theirs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn query_pairs_decode_escapes_and_keep_bare_names() {
        let pairs: Vec<_> = query_pairs("a=1&&url=%2Fhome+page&flag&=x&b=c=d").collect();
        let expected = [("a", "1"), ("url", "/home page"), ("flag", ""), ("", "x"), ("b", "c=d")];
        assert_eq!(pairs.len(), expected.len());
        for ((name, value), (want_name, want_value)) in pairs.iter().zip(expected) {
            assert_eq!((name.as_ref(), value.as_ref()), (want_name, want_value));
        }
    }
}
