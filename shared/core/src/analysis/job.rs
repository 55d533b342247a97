//! The analyze job: every `[[analysis]]` of the pipeline file (or one, `--only`) run
//! against the warehouse and the index, its results replacing that run's rows in the
//! result tables, and what it found happening now sent to the notifier. One analysis
//! failing does not stop the others; the job then fails naming each that did.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::batch::Pipeline;
use crate::clock::Clock;
use crate::ports::notify::{Notice, Notifier};
use crate::ports::warehouse::{Warehouse, WarehouseError};
use crate::ports::SearchIndex;
use crate::report::ReportError;

use super::def::AnalysisDef;
use super::segments::SegmentError;
use super::tables::run_id;
use super::{entities, profile, series, Anomaly};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("no analysis named {0:?} in the pipeline file")]
    Unknown(String),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Segments(#[from] SegmentError),
    #[error("table {table} has more than {max} entities; raise max_entities or segment a smaller table")]
    TooManyEntities { table: String, max: usize },
    #[error("{} of {} analyses failed: {}", failed.len(), total, failed.iter().map(|(n, e)| format!("{n}: {e}")).collect::<Vec<_>>().join("; "))]
    Failed { total: usize, failed: Vec<(String, String)> },
}

/// What one analysis's run wrote and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalysisSummary {
    pub analysis: String,
    pub kind: &'static str,
    pub run_id: String,
    /// Result rows written (forecast buckets, profiled columns, labelled entities).
    pub rows: u64,
    /// Anomalies found, of every phase.
    pub anomalies: usize,
    /// What is happening now: the sentences of the recent anomalies.
    pub now: Vec<String>,
    /// Groups, columns or entities left out, each with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Anomalies sent to the notifier (new ones only).
    pub notified: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<String>,
    pub seconds: f64,
}

/// What a kind's run hands back to the job: its summary and the recent anomalies
/// not notified before.
pub(super) struct Found {
    pub summary: AnalysisSummary,
    pub new_recent: Vec<Anomaly>,
}

pub struct Analyzer<'a> {
    pub pipeline: &'a Pipeline,
    pub warehouse: &'a dyn Warehouse,
    pub index: &'a dyn SearchIndex,
    pub clock: &'a dyn Clock,
    pub notifier: Option<&'a dyn Notifier>,
}

/// The run's time and id, shared by every row it writes.
#[derive(Debug, Clone)]
pub(super) struct RunStamp {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl Analyzer<'_> {
    pub async fn run(&self, only: Option<&str>) -> Result<Vec<AnalysisSummary>, AnalysisError> {
        if let Some(name) = only {
            if self.pipeline.analysis(name).is_none() {
                return Err(AnalysisError::Unknown(name.to_owned()));
            }
        }
        let chosen: Vec<&AnalysisDef> =
            self.pipeline.analyses.iter().filter(|a| only.is_none_or(|name| a.name() == name)).collect();
        let mut summaries = Vec::new();
        let mut failed = Vec::new();
        for def in &chosen {
            match self.one(def).await {
                Ok(summary) => summaries.push(summary),
                Err(e) => failed.push((def.name().to_owned(), e.to_string())),
            }
        }
        if failed.is_empty() {
            Ok(summaries)
        } else {
            Err(AnalysisError::Failed { total: chosen.len(), failed })
        }
    }

    async fn one(&self, def: &AnalysisDef) -> Result<AnalysisSummary, AnalysisError> {
        let started = Instant::now();
        let at = self.clock.now();
        let stamp = RunStamp { at, id: run_id(def.name(), at) };
        let found = match def {
            AnalysisDef::Forecast(f) => series::run(f, true, self, &stamp).await?,
            AnalysisDef::Anomaly(f) => series::run(f, false, self, &stamp).await?,
            AnalysisDef::Profile(p) => profile::run(p, self.pipeline, self.warehouse, &stamp).await?,
            AnalysisDef::Segments(s) => entities::run(s, self.warehouse, &stamp).await?,
        };
        let mut summary = found.summary;
        (summary.analysis, summary.kind, summary.run_id) = (def.name().to_owned(), def.kind(), stamp.id.clone());
        if let (Some(notifier), false) = (self.notifier, found.new_recent.is_empty()) {
            let notice = Notice { analysis: def.name().to_owned(), run_id: stamp.id, anomalies: found.new_recent };
            match notifier.notify(&notice).await {
                Ok(()) => summary.notified = notice.anomalies.len(),
                Err(e) => summary.notify_error = Some(e.to_string()),
            }
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}
