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
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_replays_do_not_double_count() {
    let server = Emulator::osmem();
    contract::search::replays_do_not_double_count(&index(&server, "replay").await).await;
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_keeps_one_document_per_source_and_id() {
    let server = Emulator::osmem();
    contract::search::one_document_per_source_and_id(&index(&server, "idem").await).await;
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_aggregations_match_the_events() {
    let server = Emulator::osmem();
    contract::search::aggregations_match_the_events(&index(&server, "aggs").await).await;
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_filters_and_metrics() {
    let server = Emulator::osmem();
    contract::search::filters_and_metrics(&index(&server, "filters").await).await;
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_deletes_remove_exactly_what_matches() {
    let server = Emulator::osmem();
    contract::search::deletes_remove_exactly_what_matches(&index(&server, "forget").await).await;
}

/// Small `_bulk` bodies: many round trips, the same documents.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_bulk_chunks_by_size() {
    let server = Emulator::osmem();
    let index = index(&server, "chunks").await.with_max_bulk_bytes(2_000);
    contract::search::replays_do_not_double_count(&index).await;
}

/// Serverless search collections take no lifecycle policy: stream-index drops the daily
/// indices whose day ended before the retention's cutoff, and nothing newer.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn opensearch_drops_the_daily_indices_past_the_retention() {
    use chrono::{Duration, TimeZone, Utc};
    use tidemark_core::contract::sample_event;
    use tidemark_core::event::EventType;
    use tidemark_core::ports::SearchIndex;
    use tidemark_core::search::{Query, SearchRequest};

    let server = Emulator::osmem();
    let index = index(&server, "expiry").await;
    let day = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let events: Vec<_> = (0..4)
        .map(|d| sample_event(&format!("e{d}"), EventType::PageView, day + Duration::days(d), "EU", None))
        .collect();
    index.index_events(&events).await.unwrap();
    let all = SearchRequest { query: Query::MatchAll, aggs: Default::default() };
    assert_eq!(index.search(&all).await.unwrap().total, 4);
    // Cut off at 06:00 on the 22nd: the 20th and the 21st have ended, the 22nd has not.
    let cutoff = Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap();
    assert_eq!(index.drop_daily_indices(cutoff, 30).await.unwrap(), 2);
    assert_eq!(index.search(&all).await.unwrap().total, 2);
    assert_eq!(index.drop_daily_indices(cutoff, 30).await.unwrap(), 0, "dropping again finds none");
}
