//! The primary-source port: a database query, or a file, read from where the last run
//! stopped, handed over as raw parts in the source's own format.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::batch::manifest::SourceColumn;

/// Where to resume: after `cursor` (databases) or at `offset` (files).
#[derive(Debug, Clone, Default)]
pub struct ExtractFrom {
    pub cursor: Option<serde_json::Value>,
    pub offset: u64,
    pub part_rows: usize,
}

/// One part: the raw bytes, the row count, and the position after its last row.
#[derive(Debug, Clone)]
pub struct RawPart {
    pub bytes: Vec<u8>,
    pub rows: u64,
    pub cursor_to: Option<serde_json::Value>,
    pub offset_to: Option<u64>,
}

pub struct Extraction {
    pub columns: Vec<SourceColumn>,
    pub parts: BoxStream<'static, Result<RawPart, SourceError>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source {source_name}: cannot connect: {message}")]
    Connect { source_name: String, message: String },
    #[error("source {source_name}: query failed: {message}")]
    Query { source_name: String, message: String },
    #[error("source {source_name}: {message}")]
    Read { source_name: String, message: String },
}

#[async_trait]
pub trait SourceReader: Send + Sync {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError>;
}
