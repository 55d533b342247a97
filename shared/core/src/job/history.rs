//! The record of every job run, written by the run itself so that the CLI, the local
//! scheduler, the console and the job Lambdas all show up in one history. It lives in
//! the key-value store (fjall locally, DynamoDB on AWS), which every deployment already
//! has and which gives the one thing the history needs besides storage: a put-if-absent,
//! so that a second run of the same job is refused while one runs.
//!
//! - **Lock**: one item per running job (`tidemark#job-lock` / the job's name) holding
//!   the run; taken with put-if-absent, removed when the run ends. A lock older than
//!   [`RunHistory::stale_after`] (a Lambda cannot run longer than 15 minutes) or left by
//!   a process that stopped ([`RunHistory::recover`]) is taken over, and its run is
//!   marked interrupted.
//! - **Runs**: one item per run under `tidemark#job-runs#<job>`, sorted by start; the
//!   latest [`KEEP_RUNS`] per job are kept, so the history cannot grow without bound.
//!
//! The keys never start with the event stream's name, so event retention, compaction and
//! forgetting (which skips what does not decode as an event) leave them alone.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::{Job, JobOptions, JobOutcome, JobRunError};
use crate::clock::Clock;
use crate::event::millis_rfc3339;
use crate::kv_key::{KvItem, KvKey};
use crate::ports::kv::{KvError, KvStore, PutItemOutcome};

/// Runs kept per job; older ones are removed when a run ends.
pub const KEEP_RUNS: usize = 200;

/// Longest summary kept with a run (its JSON); a larger one is replaced by a note, so
/// that an item stays well under DynamoDB's 400 KB.
const MAX_SUMMARY_BYTES: usize = 32 * 1024;

const LOCK_PK: &str = "tidemark#job-lock";

fn runs_pk(job: Job) -> String {
    format!("tidemark#job-runs#{}", job.name())
}

/// Who or what started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// Its cron time (the local scheduler, EventBridge).
    Schedule,
    /// `tidemark job run`.
    Cli,
    /// Run now, in the console or `POST /v1/jobs/{job}/runs`.
    Console,
    /// An invocation by hand (`aws lambda invoke` with an event that names no trigger).
    Invoke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    /// The process running it stopped (or its Lambda timed out) before it ended.
    Interrupted,
}

/// One run of a job, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub id: String,
    pub job: Job,
    pub trigger: Trigger,
    pub options: JobOptions,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// Rows (or events) the run moved, by the job's own measure ([`JobOutcome::rows`]).
    pub rows: Option<u64>,
    pub error: Option<String>,
    /// The job's summaries, as its answer prints them.
    pub summary: Option<serde_json::Value>,
}

impl JobRun {
    /// A run's record while it runs, and the one that replaces it when it ends: written
    /// before the first is removed, so a reader never finds the run missing (the store
    /// has no overwrite); a reader that finds both keeps the later.
    fn key_at(&self, ended: bool) -> KvKey {
        let at = millis_rfc3339::format(&self.started_at);
        KvKey { pk: runs_pk(self.job), sk: format!("{at}#{}#{}", self.id, u8::from(ended)) }
    }

    fn item(&self, key: KvKey) -> KvItem {
        // A run is plain data: serialising it cannot fail.
        KvItem { key, value: serde_json::to_vec(self).unwrap_or_default() }
    }

    fn decode(value: &[u8]) -> Option<JobRun> {
        serde_json::from_slice(value).ok()
    }

    /// Seconds from start to end, or to `now` while it runs.
    pub fn seconds(&self, now: DateTime<Utc>) -> f64 {
        (self.finished_at.unwrap_or(now) - self.started_at).num_milliseconds() as f64 / 1000.0
    }
}

impl JobOutcome {
    /// What the run moved, for the history's rows column: rows extracted, rows loaded,
    /// events compacted, buckets compared, rollup rows written, analysis rows written.
    pub fn rows(&self) -> u64 {
        match self {
            JobOutcome::Extract(s) => s.iter().map(|s| s.rows).sum(),
            JobOutcome::Load(load) => load.tables.iter().map(|t| t.rows_loaded).sum(),
            JobOutcome::Compact(s) => s.iter().map(|s| s.events).sum(),
            JobOutcome::Reconcile(s) => s.iter().map(|s| s.buckets as u64).sum(),
            JobOutcome::Views(s) => s.iter().map(|s| s.rollup_rows as u64).sum(),
            JobOutcome::Analyze(s) => s.iter().map(|s| s.rows).sum(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    /// The same job is running; the caller refuses (`409` on the console's route).
    #[error("{} is already running: run {} started {} by {:?}", .0.job, .0.id, .0.started_at.to_rfc3339(), .0.trigger)]
    Running(Box<JobRun>),
    /// A run handed over to carry out ([`RunHistory::adopt`]) no longer holds its lock.
    #[error("run {id} of {job} holds no lock: it was interrupted or has run already")]
    NotBegun { job: Job, id: String },
    #[error("recording the run: {0}")]
    Store(#[from] KvError),
}

/// The job history over a key-value store.
#[derive(Clone)]
pub struct RunHistory {
    kv: Arc<dyn KvStore>,
    clock: Arc<dyn Clock>,
    /// A lock older than this belongs to a run that can no longer be running; `None`
    /// where only [`RunHistory::recover`] at start decides that (one local process).
    stale_after: Option<Duration>,
}

impl RunHistory {
    pub fn new(kv: Arc<dyn KvStore>, clock: Arc<dyn Clock>, stale_after: Option<Duration>) -> Self {
        Self { kv, clock, stale_after }
    }

    /// Records the start of a run of `job`, or refuses while another runs.
    pub async fn begin(&self, job: Job, options: &JobOptions, trigger: Trigger) -> Result<JobRun, BeginError> {
        let run = JobRun {
            id: uuid::Uuid::now_v7().to_string(),
            job,
            trigger,
            options: options.clone(),
            started_at: self.clock.now(),
            finished_at: None,
            status: RunStatus::Running,
            rows: None,
            error: None,
            summary: None,
        };
        let lock = run.item(lock_key(job));
        if self.kv.put_items(vec![lock.clone()]).await?.first() == Some(&PutItemOutcome::Duplicate) {
            let holder = self.running(job).await?;
            match holder {
                Some(holder) if !self.is_stale(&holder) => return Err(BeginError::Running(Box::new(holder))),
                holder => {
                    if let Some(holder) = holder {
                        self.interrupt(holder).await?;
                    }
                    if self.kv.put_items(vec![lock]).await?.first() == Some(&PutItemOutcome::Duplicate) {
                        let holder = self.running(job).await?.unwrap_or_else(|| run.clone());
                        return Err(BeginError::Running(Box::new(holder)));
                    }
                }
            }
        }
        self.kv.put_items(vec![run.item(run.key_at(false))]).await?;
        Ok(run)
    }

    /// The run `id` of `job` that another process began (the console, which then invoked
    /// this job's function), to be carried out here and finished with [`Self::finish`].
    pub async fn adopt(&self, job: Job, id: &str) -> Result<JobRun, BeginError> {
        match self.running(job).await? {
            Some(run) if run.id == id => Ok(run),
            _ => Err(BeginError::NotBegun { job, id: id.to_owned() }),
        }
    }

    /// Records how `run` ended, releases its lock and trims the job's history.
    pub async fn finish(&self, mut run: JobRun, result: &Result<JobOutcome, JobRunError>) -> Result<JobRun, KvError> {
        run.finished_at = Some(self.clock.now());
        match result {
            Ok(outcome) => {
                run.status = RunStatus::Succeeded;
                run.rows = Some(outcome.rows());
                run.summary = serde_json::to_value(outcome).ok().map(bounded_summary);
            }
            Err(error) => {
                run.status = RunStatus::Failed;
                run.error = Some(error.to_string());
            }
        }
        self.replace(&run).await?;
        self.kv.delete_items(vec![lock_key(run.job)]).await?;
        self.trim(run.job).await?;
        Ok(run)
    }

    /// The run holding `job`'s lock, if one does.
    pub async fn running(&self, job: Job) -> Result<Option<JobRun>, KvError> {
        let value = self.kv.get_items(vec![lock_key(job)]).await?.into_iter().next().flatten();
        Ok(value.as_deref().and_then(JobRun::decode))
    }

    /// The latest `limit` runs of `job`, newest first. A run recorded as running that
    /// holds no lock is shown as interrupted: whatever ran it stopped before it ended.
    pub async fn runs(&self, job: Job, limit: usize) -> Result<Vec<JobRun>, KvError> {
        let holder = self.running(job).await?.map(|run| run.id);
        let items = self.kv.query_partition(&runs_pk(job)).await?;
        // In key order a run's ended record follows its running one: keep the last.
        let mut runs: Vec<JobRun> = Vec::new();
        for run in items.iter().filter_map(|item| JobRun::decode(&item.value)) {
            match runs.last_mut() {
                Some(last) if last.id == run.id => *last = run,
                _ => runs.push(run),
            }
        }
        Ok(runs
            .into_iter()
            .rev()
            .map(|mut run| {
                if run.status == RunStatus::Running && holder.as_deref() != Some(run.id.as_str()) {
                    run.status = RunStatus::Interrupted;
                }
                run
            })
            .take(limit)
            .collect())
    }

    /// One run of `job` by id.
    pub async fn run(&self, job: Job, id: &str) -> Result<Option<JobRun>, KvError> {
        Ok(self.runs(job, KEEP_RUNS).await?.into_iter().find(|run| run.id == id))
    }

    /// At the start of the only process that runs jobs on these stores: every lock left
    /// is from a process that stopped; its runs are marked interrupted and the locks
    /// released. Returns the runs marked.
    pub async fn recover(&self) -> Result<Vec<JobRun>, KvError> {
        let mut marked = Vec::new();
        for item in self.kv.query_partition(LOCK_PK).await? {
            match JobRun::decode(&item.value) {
                Some(run) => marked.push(self.interrupt(run).await?),
                None => self.kv.delete_items(vec![item.key]).await?,
            }
        }
        Ok(marked)
    }

    fn is_stale(&self, run: &JobRun) -> bool {
        self.stale_after.is_some_and(|after| self.clock.now() - run.started_at > after)
    }

    async fn interrupt(&self, mut run: JobRun) -> Result<JobRun, KvError> {
        run.status = RunStatus::Interrupted;
        run.finished_at = Some(self.clock.now());
        run.error = Some("the process running it stopped before it ended".to_owned());
        self.replace(&run).await?;
        self.kv.delete_items(vec![lock_key(run.job)]).await?;
        Ok(run)
    }

    /// Records that `run` ended: its ended record is written, then its running one
    /// removed ([`JobRun::key_at`]). One writer per run (its own job or the process
    /// that takes its stale lock over).
    async fn replace(&self, run: &JobRun) -> Result<(), KvError> {
        self.kv.put_items(vec![run.item(run.key_at(true))]).await?;
        self.kv.delete_items(vec![run.key_at(false)]).await
    }

    async fn trim(&self, job: Job) -> Result<(), KvError> {
        let items = self.kv.query_partition(&runs_pk(job)).await?;
        // Ended runs have one record each; a run still going may have two for a moment.
        if items.len() > KEEP_RUNS {
            let old = items.len() - KEEP_RUNS;
            self.kv.delete_items(items.into_iter().take(old).map(|item| item.key).collect()).await?;
        }
        Ok(())
    }
}

fn lock_key(job: Job) -> KvKey {
    KvKey { pk: LOCK_PK.to_owned(), sk: job.name().to_owned() }
}

fn bounded_summary(summary: serde_json::Value) -> serde_json::Value {
    let size = serde_json::to_vec(&summary).map_or(usize::MAX, |bytes| bytes.len());
    if size <= MAX_SUMMARY_BYTES {
        summary
    } else {
        serde_json::json!({ "note": format!("summary of {size} bytes not kept; the job's log has it") })
    }
}

#[cfg(test)]
mod tests;
