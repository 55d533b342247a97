//! The batch side on this machine: the pipeline file, the interim store under
//! `<data>/interim`, the DuckDB warehouse at `<data>/warehouse.duckdb`, and the
//! `batch-extract` / `batch-load` jobs with their summaries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tidemark_core::analysis::AnalysisSummary;
use tidemark_core::batch::extract::ExtractSummary;
use tidemark_core::batch::jobs::{self, BatchLoad, JobError};
use tidemark_core::batch::load::LoadSummary;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::batch::{Pipeline, Progress};
use tidemark_core::compact::{CompactError, CompactSummary, Compactor};
use tidemark_core::job::{JobOutcome, JobPorts, RealtimePorts};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::{Notifier, SearchIndex};
use tidemark_core::reconcile::{ReconcileError, ReconcileSummary, Reconciler};
use tidemark_core::report::views::{self, ViewRefresh};
use tidemark_core::report::ReportError;
use tidemark_core::SystemClock;
use tidemark_local::{DirObjectStore, DuckWarehouse};
use tidemark_sources::Connectors;

use crate::progress::BarProgress;

/// Everything a batch job needs, opened once.
#[derive(Clone)]
pub struct BatchEnv {
    pub pipeline: Arc<Pipeline>,
    /// Where the pipeline was read from (the console checks the file again).
    pub pipeline_path: PathBuf,
    pub store: Arc<DirObjectStore>,
    pub warehouse: DuckWarehouse,
    pub connectors: Connectors,
    /// How long raw runs are kept; batch-load compacts the state loads read before then.
    pub raw_retention: RawRetention,
    /// Where analyze sends what it finds (`TIDEMARK_NOTIFY_WEBHOOK`).
    pub notifier: Option<Arc<dyn Notifier>>,
}

impl BatchEnv {
    pub fn open(pipeline_path: &Path, data_dir: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(pipeline_path)
            .with_context(|| format!("reading the pipeline file {} (TIDEMARK_PIPELINE)", pipeline_path.display()))?;
        let pipeline = Pipeline::parse(&text).with_context(|| format!("in {}", pipeline_path.display()))?;
        crate::schedule::validate(&pipeline.schedule).with_context(|| format!("in {}", pipeline_path.display()))?;
        let base = pipeline_path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let warehouse = DuckWarehouse::open(&data_dir.join("warehouse.duckdb"))
            .context("opening the warehouse (is another tidemark process using this data directory?)")?;
        Ok(BatchEnv {
            pipeline: Arc::new(pipeline),
            pipeline_path: pipeline_path.to_path_buf(),
            store: Arc::new(DirObjectStore::new(data_dir.join("interim"))),
            warehouse,
            connectors: Connectors::new(base),
            raw_retention: RawRetention::default(),
            notifier: None,
        })
    }

    /// The raw retention `tidemark up` or `tidemark job run` was given.
    pub fn with_raw_retention(self, raw_retention: RawRetention) -> Self {
        Self { raw_retention, ..self }
    }

    pub fn with_notifier(self, notifier: Option<Arc<dyn Notifier>>) -> Self {
        Self { notifier, ..self }
    }

    pub async fn extract(&self, only: Option<&str>) -> Result<Vec<ExtractSummary>, JobError> {
        let progress = BarProgress::new();
        jobs::batch_extract(&self.pipeline, only, &self.connectors, self.store.as_ref(), &SystemClock, &progress).await
    }

    pub async fn load(&self, only: Option<&str>) -> Result<BatchLoad, JobError> {
        let progress = BarProgress::new();
        let (store, raw) = (self.store.as_ref(), self.raw_retention);
        jobs::batch_load_job(&self.pipeline, only, store, &self.warehouse, &SystemClock, &progress, raw).await
    }
}

impl BatchEnv {
    /// This machine's stores as a job sees them (see [`crate::jobs::LocalJobs`], which
    /// runs and records jobs): `realtime` and `index` where they are open (the jobs that
    /// need them refuse without).
    pub fn ports<'a>(
        &'a self,
        progress: &'a dyn Progress,
        realtime: Option<RealtimePorts<'a>>,
        index: Option<&'a dyn SearchIndex>,
    ) -> JobPorts<'a> {
        JobPorts {
            pipeline: &self.pipeline,
            clock: &SystemClock,
            progress,
            raw_retention: self.raw_retention,
            sources: Some(&self.connectors),
            interim: Some(self.store.as_ref()),
            warehouse: Some(&self.warehouse),
            realtime,
            index,
            notifier: self.notifier.as_deref(),
        }
    }
}

/// A run's summary as a person reads it.
pub fn print_outcome(outcome: &JobOutcome) {
    match outcome {
        JobOutcome::Extract(summaries) => print_extract(summaries),
        JobOutcome::Load(load) => print_batch_load(load),
        JobOutcome::Compact(summaries) => print_compact(summaries),
        JobOutcome::Reconcile(summaries) => print_reconcile(summaries),
        JobOutcome::Views(refreshed) => print_views(refreshed),
        JobOutcome::Analyze(summaries) => print_analyses(summaries),
    }
}

impl BatchEnv {
    /// Compares real time (the key-value store) with batch for the covered buckets.
    pub async fn reconcile(
        &self,
        kv: &dyn KvStore,
        layout: &KvLayout,
        only: Option<&str>,
        lookback: chrono::Duration,
    ) -> Result<Vec<ReconcileSummary>, ReconcileError> {
        Reconciler { pipeline: &self.pipeline, warehouse: &self.warehouse, kv, layout, clock: &SystemClock, lookback }
            .run(only)
            .await
    }
}

impl BatchEnv {
    /// realtime-compact: the closed `day` of real-time events into the warehouse.
    pub async fn compact(
        &self,
        kv: &dyn KvStore,
        layout: &KvLayout,
        day: chrono::NaiveDate,
    ) -> Result<Vec<CompactSummary>, CompactError> {
        let progress = BarProgress::new();
        Compactor {
            pipeline: &self.pipeline,
            store: self.store.as_ref(),
            warehouse: &self.warehouse,
            kv,
            layout,
            clock: &SystemClock,
            progress: &progress,
        }
        .run(day)
        .await
    }
}

impl BatchEnv {
    /// report-views: every report's BI view, with its real-time rollup from `index`.
    pub async fn refresh_views(&self, index: &dyn SearchIndex) -> Result<Vec<ViewRefresh>, ReportError> {
        views::refresh(&self.pipeline, &self.warehouse, index, &SystemClock).await
    }
}

fn print_views(refreshed: &[ViewRefresh]) {
    for v in refreshed {
        println!(
            "view {} (report {}): {} real-time rollup rows for {} .. {}",
            v.view,
            v.report,
            v.rollup_rows,
            v.from.format("%Y-%m-%d %H:%M"),
            v.to.format("%Y-%m-%d %H:%M")
        );
    }
}

pub fn print_analyses(summaries: &[AnalysisSummary]) {
    if summaries.is_empty() {
        println!("analyze: the pipeline file declares no [[analysis]]");
    }
    for s in summaries {
        println!(
            "analysis {} ({}): {} rows, {} anomalies, {} notified, {:.2} s, run {}",
            s.analysis, s.kind, s.rows, s.anomalies, s.notified, s.seconds, s.run_id
        );
        s.now.iter().for_each(|line| println!("  {line}"));
        s.skipped.iter().for_each(|line| println!("  skipped {line}"));
        if let Some(e) = &s.notify_error {
            println!("  notifying failed: {e}");
        }
    }
}

pub fn print_compact(summaries: &[CompactSummary]) {
    if summaries.is_empty() {
        println!("realtime-compact: nothing to compact, the pipeline file declares no source with kind = \"realtime\"");
    }
    for s in summaries {
        println!(
            "realtime-compact {} source {}: {} events, run {}, {:.2} s",
            s.day,
            s.source,
            s.events,
            s.run_id.as_deref().unwrap_or("- (no events)"),
            s.elapsed_ms as f64 / 1000.0
        );
        if !s.loads.is_empty() {
            print_load(&s.loads);
        }
    }
}

pub fn print_reconcile(summaries: &[ReconcileSummary]) {
    for s in summaries {
        let window = match (s.from, s.to) {
            (Some(from), Some(to)) => format!("{} .. {}", from.format("%Y-%m-%d %H:%M"), to.format("%Y-%m-%d %H:%M")),
            _ => "-".to_owned(),
        };
        println!("report {}: {window}: {}", s.report, s.note);
        println!(
            "  missing in real time: {}, missing in batch: {}, values differ: {}",
            s.missing_in_realtime, s.missing_in_batch, s.mismatched
        );
        for line in &s.lines {
            println!("  {line}");
        }
    }
}

/// The end-of-run summary a person reads.
fn print_extract(summaries: &[ExtractSummary]) {
    println!(
        "{:<16} {:<22} {:>10} {:>6} {:>12} {:>10} {:>12}",
        "source", "run", "rows", "parts", "bytes", "seconds", "rows/s"
    );
    for s in summaries {
        let secs = s.elapsed_ms as f64 / 1000.0;
        let rate = if secs > 0.0 { (s.rows as f64 / secs).round() } else { 0.0 };
        println!(
            "{:<16} {:<22} {:>10} {:>6} {:>12} {:>10.2} {:>12}   {}",
            s.source,
            s.run_id.as_deref().unwrap_or("-"),
            s.rows,
            s.parts,
            s.bytes,
            secs,
            rate,
            s.note
        );
    }
}

/// batch-load's tables, then any raw state it compacted.
fn print_batch_load(load: &BatchLoad) {
    print_load(&load.tables);
    for c in &load.raw_compacted {
        println!(
            "raw {}: {} runs compacted into {} ({} rows), {} runs removed",
            c.source, c.runs, c.run_id, c.rows, c.removed_runs
        );
    }
}

fn print_load(summaries: &[LoadSummary]) {
    println!(
        "{:<16} {:>6} {:>10} {:>10} {:>10} {:>11} {:>10} {:>22}",
        "table", "runs", "rows in", "loaded", "discarded", "quarantined", "seconds", "watermark"
    );
    for s in summaries {
        println!(
            "{:<16} {:>6} {:>10} {:>10} {:>10} {:>11} {:>10.2} {:>22}   {}",
            s.table,
            s.extract_runs,
            s.rows_in,
            s.rows_loaded,
            s.rows_discarded,
            s.rows_quarantined,
            s.elapsed_ms as f64 / 1000.0,
            s.high_water.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            s.note
        );
        if let Some(q) = &s.quarantine_key {
            println!("{:<16} quarantined rows: interim/{q}", "");
        }
    }
}
