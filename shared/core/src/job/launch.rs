//! Run now: how a deployment starts a job in the background when an operator asks (the
//! console, `POST /v1/jobs/{job}/runs`). Locally a task in `tidemark up`; on AWS an
//! asynchronous invocation of the job's function, which carries out the run the launcher
//! began in the history ([`super::RunHistory::adopt`]).

use super::{BeginError, Job, JobOptions, JobRun, OptionError, ProgressSnapshot};

#[async_trait::async_trait]
pub trait JobLauncher: Send + Sync {
    /// Starts `job` in the background, recorded in the history (which refuses a second
    /// concurrent run), and returns the run as begun.
    async fn launch(&self, job: Job, options: JobOptions) -> Result<JobRun, LaunchError>;

    /// Where a run this deployment is running stands, if it can tell (a Lambda's
    /// progress is in its log, not here).
    fn progress(&self, run_id: &str) -> Option<ProgressSnapshot>;
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Options(#[from] OptionError),
    #[error(transparent)]
    Begin(#[from] BeginError),
    /// The deployment could not start it (the invocation failed); the run is recorded
    /// as failed with this reason.
    #[error("starting the run: {0}")]
    Start(String),
}
