//! report: the read side over HTTP. For now the live aggregations,
//! `GET /v1/realtime?metric=revenue&by=region&interval=1m&from=..&to=..`, answered
//! by the search index.

mod realtime;

use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tidemark_core::clock::Clock;
use tidemark_core::ports::search::SearchIndex;

#[derive(Clone)]
pub struct ReportState {
    pub index: Arc<dyn SearchIndex>,
    pub clock: Arc<dyn Clock>,
}

pub fn router(state: ReportState) -> Router {
    Router::new().route("/v1/realtime", get(realtime::get_realtime)).with_state(state)
}
