//! The search index (OpenSearch | tantivy).

use crate::event::Event;
use crate::search::{Query, SearchRequest, SearchResponse};
use async_trait::async_trait;

/// What became of one document of a bulk index call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOutcome {
    Indexed,
    Failed { retryable: bool, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index unavailable: {0}")]
    Unavailable(String),
    /// The request is not one the index can answer (unknown field, bad aggregation).
    #[error("bad search request: {0}")]
    BadRequest(String),
}

impl SearchError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SearchError::Unavailable(_))
    }
}

#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Indexes events with document id = the idempotency key (`source/event_id`): a
    /// replay, or a retry with another `occurred_at`, leaves one document, never two.
    /// Returns once the batch is durable and searchable.
    async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError>;

    /// Runs an Elasticsearch/OpenSearch-style request (`query` + `aggs`).
    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError>;

    /// Removes every document `query` matches, in every index of the events, and
    /// returns how many went; searches see none of them once it returns.
    async fn delete_matching(&self, query: &Query) -> Result<u64, SearchError>;
}
