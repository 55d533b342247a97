//! The batch-extract job for one source: pull what is new since the last complete run
//! into `raw/<source>/<run_id>/` unchanged, then write the manifest last.
//!
//! The latest manifest is the only state: a crash before it is written leaves the last
//! run as it was, and the next run covers the same range again.

use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use super::manifest::{self, Manifest, PartInfo};
use super::pipeline::{ExtractMode, SourceDef};
use super::progress::Progress;
use crate::clock::Clock;
use crate::ports::{ExtractFrom, ObjectStore, ObjectStoreError, SourceError, SourceReader};

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    #[error("source {source_name}: manifest {key} is unreadable: {message}")]
    Manifest { source_name: String, key: String, message: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtractSummary {
    pub source: String,
    /// The new run, or `None` when there was nothing new.
    pub run_id: Option<String>,
    pub rows: u64,
    pub parts: usize,
    pub bytes: u64,
    pub elapsed_ms: u64,
    pub note: String,
}

/// The latest complete run of `source`, if any.
pub async fn latest_manifest(store: &dyn ObjectStore, source: &str) -> Result<Option<Manifest>, ExtractError> {
    let manifests = manifests(store, source).await?;
    match manifests.last() {
        Some(key) => read_manifest(store, source, key).await.map(Some),
        None => Ok(None),
    }
}

/// Manifest keys of every complete run of `source`, oldest first.
pub async fn manifests(store: &dyn ObjectStore, source: &str) -> Result<Vec<String>, ExtractError> {
    let mut keys: Vec<String> =
        store.list(&format!("raw/{source}/")).await?.into_iter().filter(|k| k.ends_with("/manifest.json")).collect();
    keys.sort();
    Ok(keys)
}

/// The runs that hold `source`'s data, oldest first: every complete run, except those
/// a compacted run replaces (left behind when compaction stopped before deleting them).
pub async fn runs(store: &dyn ObjectStore, source: &str) -> Result<Vec<Manifest>, ExtractError> {
    let mut all = Vec::new();
    for key in manifests(store, source).await? {
        all.push(read_manifest(store, source, &key).await?);
    }
    let covered = all.iter().filter(|m| m.compacted.is_some()).map(|m| m.through().to_owned()).max();
    let mut live: Vec<Manifest> = match covered {
        Some(through) => {
            let newest = manifest::compacted_run_id(&through);
            all.into_iter().filter(|m| m.run_id == newest || m.run_id.as_str() > through.as_str()).collect()
        }
        None => all,
    };
    live.sort_by(|a, b| a.through().cmp(b.through()));
    Ok(live)
}

pub async fn read_manifest(store: &dyn ObjectStore, source: &str, key: &str) -> Result<Manifest, ExtractError> {
    let bad =
        |message: String| ExtractError::Manifest { source_name: source.to_string(), key: key.to_string(), message };
    let bytes = store.get(key).await?.ok_or_else(|| bad("missing".into()))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))
}

/// Writes a run's manifest, last: its presence marks the run complete.
pub async fn put_manifest(store: &dyn ObjectStore, m: &Manifest) -> Result<(), ExtractError> {
    let key = Manifest::key(&m.source, &m.run_id);
    let body = serde_json::to_vec_pretty(m).map_err(|e| ExtractError::Manifest {
        source_name: m.source.clone(),
        key: key.clone(),
        message: e.to_string(),
    })?;
    Ok(store.put(&key, body).await?)
}

pub async fn extract_source(
    source: &SourceDef,
    reader: &dyn SourceReader,
    store: &dyn ObjectStore,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ExtractSummary, ExtractError> {
    let started = Instant::now();
    let previous = latest_manifest(store, &source.name).await?;
    let from = match (&previous, source.mode) {
        (Some(m), ExtractMode::Incremental) => ExtractFrom {
            cursor: m.cursor_to.clone().or_else(|| m.cursor_from.clone()),
            offset: m.offset_to.unwrap_or(0),
            part_rows: source.part_rows,
        },
        _ => ExtractFrom { cursor: None, offset: 0, part_rows: source.part_rows },
    };
    let extracted_at = clock.now();
    let run_id = manifest::run_id(extracted_at);
    let prefix = Manifest::prefix(&source.name, &run_id);
    progress.start(&format!("extract {}", source.name), None);

    let mut extraction = reader.extract(from.clone()).await?;
    let mut parts: Vec<PartInfo> = Vec::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let (mut cursor_to, mut offset_to) = (None, None);
    while let Some(part) = extraction.parts.next().await {
        let part = part?;
        let key = format!("{prefix}part-{:05}.{}", parts.len(), source.kind.extension());
        let info = PartInfo {
            key: key.clone(),
            rows: part.rows,
            bytes: part.bytes.len() as u64,
            sha256: manifest::sha256_hex(&part.bytes),
        };
        store.put(&key, part.bytes).await?;
        rows += info.rows;
        bytes += info.bytes;
        cursor_to = part.cursor_to.or(cursor_to);
        offset_to = part.offset_to.or(offset_to);
        progress.advance(info.rows);
        parts.push(info);
    }
    let checksum = manifest::combine(&parts);
    let mut summary = ExtractSummary {
        source: source.name.clone(),
        run_id: None,
        rows,
        parts: parts.len(),
        bytes,
        elapsed_ms: started.elapsed().as_millis() as u64,
        note: String::new(),
    };
    let unchanged = source.mode == ExtractMode::Snapshot && previous.as_ref().is_some_and(|m| m.checksum == checksum);
    if rows == 0 || unchanged {
        for p in &parts {
            store.delete(&p.key).await?;
        }
        summary.note = if unchanged {
            format!("unchanged since run {}", previous.map(|m| m.run_id).unwrap_or_default())
        } else {
            "no new rows".into()
        };
        progress.finish(&summary.note);
        return Ok(summary);
    }
    let m = Manifest {
        source: source.name.clone(),
        run_id: run_id.clone(),
        kind: source.kind,
        mode: source.mode,
        rows,
        checksum,
        parts,
        columns: extraction.columns,
        cursor_from: from.cursor,
        cursor_to,
        offset_from: (!source.kind.is_database()).then_some(from.offset),
        offset_to,
        extracted_at,
        elapsed_ms: summary.elapsed_ms,
        compacted: None,
    };
    put_manifest(store, &m).await?;
    summary.run_id = Some(run_id);
    summary.note = format!("{} rows in {} parts", summary.rows, summary.parts);
    progress.finish(&summary.note);
    Ok(summary)
}
