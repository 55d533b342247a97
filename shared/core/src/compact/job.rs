//! The realtime-compact job for one day.

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::records;
use crate::batch::extract::{put_manifest, ExtractError};
use crate::batch::load::{LoadError, LoadJob, LoadSummary};
use crate::batch::manifest::{self, Manifest, PartInfo};
use crate::batch::pipeline::{Pipeline, SourceDef, SourceKind};
use crate::batch::progress::Progress;
use crate::bucket::HourBucket;
use crate::clock::Clock;
use crate::kv_key::KvLayout;
use crate::merge::read_bucket;
use crate::ports::kv::{KvError, KvStore};
use crate::ports::{ObjectStore, ObjectStoreError, Warehouse};

#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("day {0} has not ended yet: compact closed days only")]
    DayNotClosed(NaiveDate),
    #[error("reading the key-value store: {0}")]
    Kv(#[from] KvError),
    #[error("writing the interim store: {0}")]
    Store(#[from] ObjectStoreError),
    #[error(transparent)]
    Manifest(#[from] ExtractError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// What one realtime source's compaction of one day did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CompactSummary {
    pub day: NaiveDate,
    pub source: String,
    /// Events of the day read from the key-value store.
    pub events: u64,
    pub run_id: Option<String>,
    pub loads: Vec<LoadSummary>,
    pub elapsed_ms: u64,
}

pub struct Compactor<'a> {
    pub pipeline: &'a Pipeline,
    pub store: &'a dyn ObjectStore,
    pub warehouse: &'a dyn Warehouse,
    pub kv: &'a dyn KvStore,
    pub layout: &'a KvLayout,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
}

impl Compactor<'_> {
    /// Compacts `day` (UTC) for every realtime source and loads the tables reading them.
    /// A pipeline without a realtime source has nothing to compact: no summaries, not an
    /// error, so the nightly schedule of a batch-only pipeline does not fail every night.
    pub async fn run(&self, day: NaiveDate) -> Result<Vec<CompactSummary>, CompactError> {
        let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or(CompactError::DayNotClosed(day))?;
        let end = start + Duration::days(1);
        if end > self.clock.now() {
            return Err(CompactError::DayNotClosed(day));
        }
        let sources: Vec<&SourceDef> =
            self.pipeline.sources.iter().filter(|s| s.kind == SourceKind::Realtime).collect();
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        self.warehouse.ensure_tables(&self.pipeline.tables).await.map_err(LoadError::from)?;
        let lines = self.day_records(start, end).await?;
        let mut out = Vec::new();
        for source in sources {
            let started = Instant::now();
            let run_id = self.write_run(source, &lines, start, end).await?;
            let job = LoadJob {
                pipeline: self.pipeline,
                store: self.store,
                warehouse: self.warehouse,
                clock: self.clock,
                progress: self.progress,
            };
            let mut loads = Vec::new();
            for table in self.pipeline.tables.iter().filter(|t| t.source == source.name) {
                loads.push(job.run(table).await?);
            }
            out.push(CompactSummary {
                day,
                source: source.name.clone(),
                events: lines.len() as u64,
                run_id,
                loads,
                elapsed_ms: started.elapsed().as_millis() as u64,
            });
        }
        Ok(out)
    }

    /// The day's stream records, hour by hour in time order, unchanged.
    async fn day_records(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<Vec<u8>>, CompactError> {
        self.progress.start("read real-time day", None);
        let mut lines = Vec::new();
        let mut hour = HourBucket::of(start);
        while hour.start() < end {
            let items = read_bucket(self.kv, self.layout, hour).await?;
            self.progress.advance(items.len() as u64);
            lines.extend(items.into_iter().map(|item| item.value));
            hour = HourBucket::of(hour.end());
        }
        self.progress.finish(&format!("{} events", lines.len()));
        Ok(lines)
    }

    /// Writes the records as one run of `source`, parts first and the manifest last,
    /// as batch-extract does. No events: no run.
    async fn write_run(
        &self,
        source: &SourceDef,
        lines: &[Vec<u8>],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Option<String>, CompactError> {
        if lines.is_empty() {
            return Ok(None);
        }
        let extracted_at = self.clock.now();
        let run_id = manifest::run_id(extracted_at);
        let prefix = Manifest::prefix(&source.name, &run_id);
        let mut parts = Vec::new();
        for chunk in lines.chunks(source.part_rows) {
            let mut body = Vec::with_capacity(chunk.iter().map(|l| l.len() + 1).sum());
            for line in chunk {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            let key = format!("{prefix}part-{:05}.jsonl", parts.len());
            let info = PartInfo {
                key: key.clone(),
                rows: chunk.len() as u64,
                bytes: body.len() as u64,
                sha256: manifest::sha256_hex(&body),
            };
            self.store.put(&key, body).await?;
            parts.push(info);
        }
        let m = Manifest {
            source: source.name.clone(),
            run_id: run_id.clone(),
            kind: SourceKind::Realtime,
            mode: source.mode,
            rows: lines.len() as u64,
            checksum: manifest::combine(&parts),
            parts,
            columns: records::columns(&source.fields),
            cursor_from: Some(serde_json::Value::String(start.to_rfc3339())),
            cursor_to: Some(serde_json::Value::String(end.to_rfc3339())),
            offset_from: None,
            offset_to: None,
            extracted_at,
            elapsed_ms: 0,
            compacted: None,
        };
        put_manifest(self.store, &m).await?;
        Ok(Some(run_id))
    }
}
