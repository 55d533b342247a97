//! The scheduled jobs as functions from a request to a run summary: the same calls serve
//! `tidemark job run`, the local scheduler and the EventBridge-triggered Lambdas.

use std::sync::Arc;

use serde::Serialize;

use super::extract::{extract_source, ExtractError, ExtractSummary};
use super::load::{LoadError, LoadJob, LoadSummary};
use super::pipeline::{Pipeline, SourceDef, SourceKind};
use super::progress::Progress;
use super::raw_retention::{self, RawCompaction, RawRetention, RawRetentionError};
use crate::clock::Clock;
use crate::ports::{ObjectStore, SourceError, SourceReader, Warehouse};

/// Opens a reader for a source; the binary decides which adapter serves which kind.
pub trait SourceFactory: Send + Sync {
    fn reader(&self, source: &SourceDef) -> Result<Arc<dyn SourceReader>, SourceError>;
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no {what} named {name:?} in the pipeline file")]
    Unknown { what: &'static str, name: String },
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Raw(#[from] RawRetentionError),
    #[error("source {0:?} holds real-time events: realtime-compact fills it, batch-extract does not")]
    NotExtracted(String),
}

/// batch-extract: every source (or one), in pipeline order. Stops at the first failure;
/// sources already extracted keep their runs.
pub async fn batch_extract(
    pipeline: &Pipeline,
    only: Option<&str>,
    sources: &dyn SourceFactory,
    store: &dyn ObjectStore,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Vec<ExtractSummary>, JobError> {
    let selected: Vec<&SourceDef> = match only {
        Some(name) => {
            let source =
                pipeline.source(name).ok_or_else(|| JobError::Unknown { what: "source", name: name.into() })?;
            if source.kind == SourceKind::Realtime {
                return Err(JobError::NotExtracted(name.into()));
            }
            vec![source]
        }
        None => pipeline.sources.iter().filter(|s| s.kind != SourceKind::Realtime).collect(),
    };
    let mut out = Vec::new();
    for s in selected {
        let reader = sources.reader(s)?;
        out.push(extract_source(s, reader.as_ref(), store, clock, progress).await?);
    }
    Ok(out)
}

/// batch-load: every table (or one), in pipeline order, each in its own transaction.
pub async fn batch_load(
    pipeline: &Pipeline,
    only: Option<&str>,
    store: &dyn ObjectStore,
    warehouse: &dyn Warehouse,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Vec<LoadSummary>, JobError> {
    let tables: Vec<_> = match only {
        Some(name) => {
            vec![pipeline.table(name).ok_or_else(|| JobError::Unknown { what: "table", name: name.into() })?]
        }
        None => pipeline.tables.iter().collect(),
    };
    warehouse.ensure_tables(&pipeline.tables).await.map_err(LoadError::from)?;
    let job = LoadJob { pipeline, store, warehouse, clock, progress };
    let mut out = Vec::new();
    for t in tables {
        out.push(job.run(t).await?);
    }
    Ok(out)
}

/// What batch-load did: each table's load, then the raw compaction that followed.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLoad {
    pub tables: Vec<LoadSummary>,
    pub raw_compacted: Vec<RawCompaction>,
}

/// batch-load as scheduled (`tidemark job run`, `tidemark up`, the Lambda): the tables,
/// then the raw state that later loads read, compacted before the interim store's
/// retention would expire it.
pub async fn batch_load_job(
    pipeline: &Pipeline,
    only: Option<&str>,
    store: &dyn ObjectStore,
    warehouse: &dyn Warehouse,
    clock: &dyn Clock,
    progress: &dyn Progress,
    raw: RawRetention,
) -> Result<BatchLoad, JobError> {
    let tables = batch_load(pipeline, only, store, warehouse, clock, progress).await?;
    let raw_compacted = raw_retention::compact(pipeline, store, warehouse, clock, raw).await?;
    Ok(BatchLoad { tables, raw_compacted })
}
