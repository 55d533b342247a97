//! beacon-ingest: the HTTP surface that accepts events.
//!
//! - `POST /v1/events`: a JSON array, one object, or NDJSON; per-event results.
//! - `GET /v1/p.gif`: the pixel; event fields as query parameters.
//! - `GET /v1/beacon.js`: the browser snippet that sends page views and purchases.
//!
//! One `Router` serves both deployments: `lambda_http::run(router)` in AWS and a
//! socket in `tidemark up`.

mod auth;
mod batch;
mod pixel;
mod response;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tidemark_core::ingest::Ingestor;
use tower_http::cors::{Any, CorsLayer};

pub use auth::WRITE_KEY_HEADER;
pub use pixel::PIXEL_GIF;

/// The browser snippet, served at `/v1/beacon.js`.
pub const BEACON_JS: &str = include_str!("beacon.js");

pub fn router(ingestor: Arc<Ingestor>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static(WRITE_KEY_HEADER), header::AUTHORIZATION])
        .max_age(std::time::Duration::from_secs(86_400));
    // The batch handler enforces the 1 MiB limit itself, to name it in the error.
    // Only this route needs CORS (a JSON POST with a key header is preflighted); the
    // pixel sets its one header itself and a script tag needs none, so the hottest
    // route does not pay for the layer.
    let events =
        Router::new().route("/v1/events", post(batch::post_events).layer(DefaultBodyLimit::disable())).layer(cors);
    Router::new()
        .merge(events)
        .route("/v1/p.gif", get(pixel::get_pixel))
        .route("/v1/beacon.js", get(beacon_js))
        .with_state(ingestor)
}

async fn beacon_js() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        BEACON_JS,
    )
}

#[cfg(test)]
mod tests;
