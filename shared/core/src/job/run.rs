//! Running a job: its options checked, the ports it needs taken from what the deployment
//! opened, and the domain function that does its work called. The one dispatch for the
//! CLI, the local scheduler and the Lambdas.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Job, JobOptions, JobRun, OptionError, Port, RunHistory};
use crate::analysis::{AnalysisError, AnalysisSummary, Analyzer};
use crate::batch::extract::ExtractSummary;
use crate::batch::jobs::{batch_extract, batch_load_job, BatchLoad, JobError, SourceFactory};
use crate::batch::raw_retention::RawRetention;
use crate::batch::{Pipeline, Progress};
use crate::clock::Clock;
use crate::compact::{CompactError, CompactSummary, Compactor};
use crate::kv_key::KvLayout;
use crate::ports::kv::{KvError, KvStore};
use crate::ports::{Notifier, ObjectStore, SearchIndex, Warehouse};
use crate::reconcile::{ReconcileError, ReconcileSummary, Reconciler};
use crate::report::views::{self, ViewRefresh};
use crate::report::ReportError;

/// The real-time key-value store with the layout its keys were written in.
#[derive(Clone, Copy)]
pub struct RealtimePorts<'a> {
    pub kv: &'a dyn KvStore,
    pub layout: &'a KvLayout,
}

/// What a deployment opened for a job; a port the job does not need may be `None`
/// ([`Job::ports`] says which it needs).
#[derive(Clone, Copy)]
pub struct JobPorts<'a> {
    pub pipeline: &'a Pipeline,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
    /// batch-load compacts the raw state loads read before this retention expires it.
    pub raw_retention: RawRetention,
    pub sources: Option<&'a dyn SourceFactory>,
    pub interim: Option<&'a dyn ObjectStore>,
    pub warehouse: Option<&'a dyn Warehouse>,
    pub realtime: Option<RealtimePorts<'a>>,
    pub index: Option<&'a dyn SearchIndex>,
    /// Where analyze sends the anomalies it finds; none: they are only written.
    pub notifier: Option<&'a dyn Notifier>,
}

/// What a run did, per job; serialised as the job's own summaries.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum JobOutcome {
    Extract(Vec<ExtractSummary>),
    Load(BatchLoad),
    Compact(Vec<CompactSummary>),
    Reconcile(Vec<ReconcileSummary>),
    Views(Vec<ViewRefresh>),
    Analyze(Vec<AnalysisSummary>),
}

#[derive(Debug, thiserror::Error)]
pub enum JobRunError {
    #[error(transparent)]
    Options(#[from] OptionError),
    #[error("{job} needs {}, which this deployment did not open for it", port.name())]
    Missing { job: Job, port: Port },
    #[error(transparent)]
    Batch(#[from] JobError),
    #[error(transparent)]
    Compact(#[from] CompactError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Views(#[from] ReportError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The deployment could not start the run (its function's invocation failed).
    #[error("the run did not start: {0}")]
    NotStarted(String),
}

fn need<T>(job: Job, port: Port, given: Option<T>) -> Result<T, JobRunError> {
    given.ok_or(JobRunError::Missing { job, port })
}

/// Runs `job` once. `scheduled_at` is when its schedule fired (or now, for a run started
/// by hand): the defaults that depend on a day follow it, not the wall clock.
pub async fn run(
    job: Job,
    options: &JobOptions,
    scheduled_at: DateTime<Utc>,
    ports: &JobPorts<'_>,
) -> Result<JobOutcome, JobRunError> {
    options.check(job)?;
    let (pipeline, clock, progress, only) = (ports.pipeline, ports.clock, ports.progress, options.only.as_deref());
    Ok(match job {
        Job::BatchExtract => {
            let sources = need(job, Port::Sources, ports.sources)?;
            let interim = need(job, Port::Interim, ports.interim)?;
            JobOutcome::Extract(batch_extract(pipeline, only, sources, interim, clock, progress).await?)
        }
        Job::BatchLoad => {
            let interim = need(job, Port::Interim, ports.interim)?;
            let warehouse = need(job, Port::Warehouse, ports.warehouse)?;
            let raw = ports.raw_retention;
            JobOutcome::Load(batch_load_job(pipeline, only, interim, warehouse, clock, progress, raw).await?)
        }
        Job::RealtimeCompact => {
            let realtime = need(job, Port::Kv, ports.realtime)?;
            let compactor = Compactor {
                pipeline,
                store: need(job, Port::Interim, ports.interim)?,
                warehouse: need(job, Port::Warehouse, ports.warehouse)?,
                kv: realtime.kv,
                layout: realtime.layout,
                clock,
                progress,
            };
            JobOutcome::Compact(compactor.run(options.compact_day(scheduled_at)).await?)
        }
        Job::Reconcile => {
            let realtime = need(job, Port::Kv, ports.realtime)?;
            let reconciler = Reconciler {
                pipeline,
                warehouse: need(job, Port::Warehouse, ports.warehouse)?,
                kv: realtime.kv,
                layout: realtime.layout,
                clock,
                lookback: options.lookback(),
            };
            JobOutcome::Reconcile(reconciler.run(only).await?)
        }
        Job::ReportViews => {
            let warehouse = need(job, Port::Warehouse, ports.warehouse)?;
            let index = need(job, Port::Index, ports.index)?;
            JobOutcome::Views(views::refresh(pipeline, warehouse, index, clock).await?)
        }
        Job::Analyze => {
            let analyzer = Analyzer {
                pipeline,
                warehouse: need(job, Port::Warehouse, ports.warehouse)?,
                index: need(job, Port::Index, ports.index)?,
                clock,
                notifier: ports.notifier,
            };
            JobOutcome::Analyze(analyzer.run(only).await?)
        }
    })
}

/// Runs `run` (begun in `history`, which refused a concurrent one) and records how it
/// ended. A failure to record the end is logged by the caller's error, not lost: the
/// job's own result is returned either way, and the run shows as interrupted.
pub async fn run_recorded(
    history: &RunHistory,
    run: JobRun,
    scheduled_at: DateTime<Utc>,
    ports: &JobPorts<'_>,
) -> (Result<JobOutcome, JobRunError>, Result<JobRun, KvError>) {
    let result = self::run(run.job, &run.options, scheduled_at, ports).await;
    let recorded = history.finish(run, &result).await;
    (result, recorded)
}
