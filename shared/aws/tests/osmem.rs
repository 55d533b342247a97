//! The search port contract over the OpenSearch adapter, against `osmem-server` (an
//! in-memory server of the OpenSearch API) on loopback: the same suites, hence the same
//! aggregation requests and answers, as the tantivy adapter.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use tidemark_aws::emulator::Emulator;
use tidemark_aws::{OpenSearchIndex, SearchAuth};
use tidemark_core::contract;

async fn index(server: &Emulator, prefix: &str) -> OpenSearchIndex {
    let index = OpenSearchIndex::connect(&server.url(), SearchAuth::None, prefix).unwrap();
    index.ensure_template().await.unwrap();
    index.ensure_template().await.unwrap();
    index
}

#[tokio::test]
async fn opensearch_replays_do_not_double_count() {
    let Some(server) = Emulator::osmem() else { return };
    contract::search::replays_do_not_double_count(&index(&server, "replay").await).await;
}

#[tokio::test]
async fn opensearch_keeps_one_document_per_source_and_id() {
    let Some(server) = Emulator::osmem() else { return };
    contract::search::one_document_per_source_and_id(&index(&server, "idem").await).await;
}

#[tokio::test]
async fn opensearch_aggregations_match_the_events() {
    let Some(server) = Emulator::osmem() else { return };
    contract::search::aggregations_match_the_events(&index(&server, "aggs").await).await;
}

#[tokio::test]
async fn opensearch_filters_and_metrics() {
    let Some(server) = Emulator::osmem() else { return };
    contract::search::filters_and_metrics(&index(&server, "filters").await).await;
}

#[tokio::test]
async fn opensearch_deletes_remove_exactly_what_matches() {
    let Some(server) = Emulator::osmem() else { return };
    contract::search::deletes_remove_exactly_what_matches(&index(&server, "forget").await).await;
}

/// Small `_bulk` bodies: many round trips, the same documents.
#[tokio::test]
async fn opensearch_bulk_chunks_by_size() {
    let Some(server) = Emulator::osmem() else { return };
    let index = index(&server, "chunks").await.with_max_bulk_bytes(2_000);
    contract::search::replays_do_not_double_count(&index).await;
}
