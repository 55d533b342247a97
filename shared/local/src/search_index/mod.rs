//! The embedded search index: tantivy, answering the OpenSearch aggregation DSL.
//!
//! Document id = the event's idempotency key (`source/event_id`): each event is written
//! as delete-by-term + add in the same commit, so a replayed event, or a retry that
//! carries another `occurred_at`, replaces itself instead of counting twice.

mod schema;
mod translate;

use schema::EventSchema;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::AggregationCollector;
use tantivy::collector::Count;
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tidemark_core::event::Event;
use tidemark_core::ports::search::{IndexOutcome, SearchError, SearchIndex};
use tidemark_core::search::{Query, SearchRequest, SearchResponse};

/// Memory the tantivy writer may buffer before it flushes a segment.
const WRITER_HEAP_BYTES: usize = 128 * 1024 * 1024;

#[derive(Clone)]
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    schema: EventSchema,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
}

fn unavailable(error: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(error.to_string())
}

impl TantivyIndex {
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let schema = EventSchema::build();
        let directory = MmapDirectory::open(dir).map_err(unavailable)?;
        let index = Index::open_or_create(directory, schema.schema.clone()).map_err(unavailable)?;
        // Two indexing threads: this machine class has two cores.
        let writer = index.writer_with_num_threads(2, WRITER_HEAP_BYTES).map_err(unavailable)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(unavailable)?;
        Ok(Self { inner: Arc::new(Inner { schema, writer: Mutex::new(writer), reader }) })
    }

    /// Deletes every event that happened before `before` (retention); returns how
    /// many documents went.
    pub async fn expire(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, SearchError> {
        let older = tidemark_core::search::Query::Range {
            field: "occurred_at".into(),
            gte: None,
            gt: None,
            lte: None,
            lt: Some(before.timestamp_millis() as f64),
        };
        self.delete_matching(&older).await
    }

    fn delete_blocking(&self, query: &Query) -> Result<u64, SearchError> {
        let query = translate::query(&self.inner.schema, query)?;
        let before_count = self.num_docs();
        let mut writer = self.inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.delete_query(query).map_err(unavailable)?;
        writer.commit().map_err(unavailable)?;
        drop(writer);
        self.inner.reader.reload().map_err(unavailable)?;
        Ok(before_count.saturating_sub(self.num_docs()))
    }

    /// Documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Writes (id term, document) pairs as upserts and commits them.
    fn index_blocking(&self, documents: Vec<(Term, TantivyDocument)>) -> Result<Vec<IndexOutcome>, SearchError> {
        let inner = &self.inner;
        let count = documents.len();
        let mut writer = inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (id, document) in documents {
            writer.delete_term(id);
            writer.add_document(document).map_err(unavailable)?;
        }
        writer.commit().map_err(unavailable)?;
        drop(writer);
        inner.reader.reload().map_err(unavailable)?;
        Ok(vec![IndexOutcome::Indexed; count])
    }

    fn search_blocking(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let query = translate::query(&self.inner.schema, &request.query)?;
        let aggs: Aggregations = serde_json::from_value(Value::Object(request.aggs.clone()))
            .map_err(|error| SearchError::BadRequest(format!("aggs: {error}")))?;
        let collector = AggregationCollector::from_aggs(aggs, Default::default());
        let searcher = self.inner.reader.searcher();
        let (total, results) = searcher
            .search(query.as_ref(), &(Count, collector))
            .map_err(|error| SearchError::BadRequest(error.to_string()))?;
        let aggregations = serde_json::to_value(results).map_err(unavailable)?;
        Ok(SearchResponse { total: total as u64, aggregations })
    }
}

#[async_trait::async_trait]
impl SearchIndex for TantivyIndex {
    async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError> {
        let index = self.clone();
        let schema = &self.inner.schema;
        let documents = events.iter().map(|event| (schema.id_term(event), schema.document(event))).collect();
        tokio::task::spawn_blocking(move || index.index_blocking(documents)).await.map_err(unavailable)?
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let index = self.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || index.search_blocking(&request)).await.map_err(unavailable)?
    }

    async fn delete_matching(&self, query: &Query) -> Result<u64, SearchError> {
        let index = self.clone();
        let query = query.clone();
        tokio::task::spawn_blocking(move || index.delete_blocking(&query)).await.map_err(unavailable)?
    }
}
