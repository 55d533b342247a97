//! Where a request carries its write key: the `X-Tidemark-Write-Key` header, an
//! `Authorization: Bearer` header, or the `wk` query parameter (for `sendBeacon` and
//! pixels, which cannot set headers).

use axum::http::{header, HeaderMap};

pub const WRITE_KEY_HEADER: &str = "x-tidemark-write-key";

pub fn write_key<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Option<&'a str> {
    if let Some(value) = headers.get(WRITE_KEY_HEADER).and_then(|value| value.to_str().ok()) {
        return Some(value.trim());
    }
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return Some(bearer.trim());
    }
    query_key
}
