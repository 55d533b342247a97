//! Jobs on this machine, each run recorded in the job history in the key-value store:
//! `tidemark job run`, the scheduler in `tidemark up` and the console's Run now all start
//! them here, so that one history shows them all and a second run of a job is refused
//! while one runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tidemark_core::batch::Progress;
use tidemark_core::clock::SystemClock;
use tidemark_core::job::{
    self, BeginError, Job, JobLauncher, JobOptions, JobOutcome, JobRun, JobRunError, LaunchError, LiveProgress,
    ProgressSnapshot, RealtimePorts, RunHistory, Trigger,
};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::SearchIndex;

use crate::batch::{print_outcome, BatchEnv};
use crate::progress::BarProgress;

#[derive(Debug, thiserror::Error)]
pub enum LocalRunError {
    #[error(transparent)]
    Begin(#[from] BeginError),
    #[error(transparent)]
    Run(#[from] JobRunError),
}

/// What a local run needs: the batch stores, the real-time stores where they are open,
/// and the history.
#[derive(Clone)]
pub struct LocalJobs {
    env: BatchEnv,
    kv: Arc<dyn KvStore>,
    layout: KvLayout,
    /// The search index, where this process holds it (the jobs that need it refuse
    /// without).
    index: Option<Arc<dyn SearchIndex>>,
    history: RunHistory,
    /// Runs in progress in this process, by run id.
    live: Arc<Mutex<HashMap<String, Arc<LiveProgress>>>>,
}

impl LocalJobs {
    /// One process holds a data directory, so a lock left in its history is from one
    /// that stopped: locks are not timed out but released at start ([`RunHistory::recover`]).
    pub fn new(env: BatchEnv, kv: Arc<dyn KvStore>, layout: KvLayout, index: Option<Arc<dyn SearchIndex>>) -> Self {
        let history = RunHistory::new(Arc::clone(&kv), Arc::new(SystemClock), None);
        Self { env, kv, layout, index, history, live: Arc::default() }
    }

    pub fn history(&self) -> &RunHistory {
        &self.history
    }

    pub fn pipeline(&self) -> &tidemark_core::batch::Pipeline {
        &self.env.pipeline
    }

    /// Marks the runs a stopped process left as interrupted.
    pub async fn recover(&self) {
        match self.history.recover().await {
            Ok(runs) => runs.iter().for_each(|r| tracing::warn!(job = %r.job, run = %r.id, "run marked interrupted")),
            Err(error) => tracing::error!(%error, "reading the job history at start"),
        }
    }

    /// Runs `job` now, in this task, recorded with `trigger`.
    pub async fn run(&self, job: Job, options: &JobOptions, trigger: Trigger) -> Result<JobOutcome, LocalRunError> {
        options.check(job).map_err(JobRunError::from)?;
        let run = self.history.begin(job, options, trigger).await?;
        Ok(self.execute(run).await?)
    }

    async fn execute(&self, run: JobRun) -> Result<JobOutcome, JobRunError> {
        let (id, job) = (run.id.clone(), run.job);
        let progress = Arc::new(LiveProgress::new(Arc::new(BarProgress::new())));
        self.live_runs().insert(id.clone(), Arc::clone(&progress));
        let realtime = RealtimePorts { kv: self.kv.as_ref(), layout: &self.layout };
        let ports = self.env.ports(progress.as_ref() as &dyn Progress, Some(realtime), self.index.as_deref());
        let (result, recorded) = job::run_recorded(&self.history, run, Utc::now(), &ports).await;
        self.live_runs().remove(&id);
        if let Err(error) = recorded {
            tracing::error!(%job, run = %id, %error, "recording the end of the run failed");
        }
        result
    }

    fn live_runs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LiveProgress>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl JobLauncher for LocalJobs {
    async fn launch(&self, job: Job, options: JobOptions) -> Result<JobRun, LaunchError> {
        options.check(job)?;
        let run = self.history.begin(job, &options, Trigger::Console).await?;
        let jobs = self.clone();
        let begun = run.clone();
        tokio::spawn(async move {
            match jobs.execute(run).await {
                Ok(outcome) => print_outcome(&outcome),
                Err(error) => tracing::error!(%job, %error, "run started from the console failed"),
            }
        });
        Ok(begun)
    }

    fn progress(&self, run_id: &str) -> Option<ProgressSnapshot> {
        self.live_runs().get(run_id).map(|live| live.snapshot())
    }
}
