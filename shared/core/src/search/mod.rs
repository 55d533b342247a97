//! The search request model: the subset of the Elasticsearch/OpenSearch request body
//! that Tidemark issues, so that one request runs unchanged on tantivy and OpenSearch.
//!
//! `query` is parsed into [`Query`] (each adapter translates it); `aggs` is passed
//! through as JSON, since both tantivy and OpenSearch read the same aggregation DSL.

pub mod fields;
pub mod histogram;
pub mod query;

pub use fields::{field_kind, FieldKind};
pub use query::{Query, QueryError};

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: Query,
    /// Aggregation DSL (`date_histogram`, `terms`, `sum`, `avg`, `min`, `max`,
    /// `value_count`, `stats`, ...), an object keyed by aggregation name.
    pub aggs: Map<String, Value>,
}

/// `hits.total` and the `aggregations` object, as OpenSearch answers them.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResponse {
    pub total: u64,
    pub aggregations: Value,
}

impl SearchRequest {
    /// Reads an OpenSearch-style body: `{"size": 0, "query": {...}, "aggs": {...}}`.
    pub fn from_json(body: &Value) -> Result<Self, QueryError> {
        let Value::Object(object) = body else {
            return Err(QueryError::NotAnObject("the search body"));
        };
        for key in object.keys() {
            if !matches!(key.as_str(), "size" | "query" | "aggs" | "aggregations" | "track_total_hits") {
                return Err(QueryError::UnsupportedBodyField(key.clone()));
            }
        }
        let query = match object.get("query") {
            Some(query) => Query::from_json(query)?,
            None => Query::MatchAll,
        };
        let aggs = match object.get("aggs").or_else(|| object.get("aggregations")) {
            None => Map::new(),
            Some(Value::Object(aggs)) => aggs.clone(),
            Some(_) => return Err(QueryError::NotAnObject("aggs")),
        };
        Ok(Self { query, aggs })
    }

    /// The body to send to OpenSearch.
    pub fn to_json(&self) -> Value {
        json!({ "size": 0, "track_total_hits": true, "query": self.query.to_json(), "aggs": self.aggs })
    }
}
