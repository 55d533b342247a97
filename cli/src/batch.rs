//! The batch side on this machine: the pipeline file, the interim store under
//! `<data>/interim`, the DuckDB warehouse at `<data>/warehouse.duckdb`, and the
//! `batch-extract` / `batch-load` jobs with their summaries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tidemark_core::batch::extract::ExtractSummary;
use tidemark_core::batch::jobs::{self, JobError};
use tidemark_core::batch::load::LoadSummary;
use tidemark_core::batch::Pipeline;
use tidemark_core::SystemClock;
use tidemark_local::{DirObjectStore, DuckWarehouse};
use tidemark_sources::Connectors;

use crate::progress::BarProgress;

/// Everything a batch job needs, opened once.
#[derive(Clone)]
pub struct BatchEnv {
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<DirObjectStore>,
    pub warehouse: DuckWarehouse,
    pub connectors: Connectors,
}

impl BatchEnv {
    pub fn open(pipeline_path: &Path, data_dir: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(pipeline_path)
            .with_context(|| format!("reading the pipeline file {} (TIDEMARK_PIPELINE)", pipeline_path.display()))?;
        let pipeline = Pipeline::parse(&text).with_context(|| format!("in {}", pipeline_path.display()))?;
        for (job, expr) in
            [("batch_extract", &pipeline.schedule.batch_extract), ("batch_load", &pipeline.schedule.batch_load)]
        {
            crate::schedule::parse_cron(expr)
                .with_context(|| format!("schedule.{job} in {}", pipeline_path.display()))?;
        }
        let base = pipeline_path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let warehouse = DuckWarehouse::open(&data_dir.join("warehouse.duckdb"))
            .context("opening the warehouse (is another tidemark process using this data directory?)")?;
        Ok(BatchEnv {
            pipeline: Arc::new(pipeline),
            store: Arc::new(DirObjectStore::new(data_dir.join("interim"))),
            warehouse,
            connectors: Connectors::new(base),
        })
    }

    pub async fn extract(&self, only: Option<&str>) -> Result<Vec<ExtractSummary>, JobError> {
        let progress = BarProgress::new();
        jobs::batch_extract(&self.pipeline, only, &self.connectors, self.store.as_ref(), &SystemClock, &progress).await
    }

    pub async fn load(&self, only: Option<&str>) -> Result<Vec<LoadSummary>, JobError> {
        let progress = BarProgress::new();
        jobs::batch_load(&self.pipeline, only, self.store.as_ref(), &self.warehouse, &SystemClock, &progress).await
    }
}

/// The end-of-run summary a person reads.
pub fn print_extract(summaries: &[ExtractSummary]) {
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

pub fn print_load(summaries: &[LoadSummary]) {
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
