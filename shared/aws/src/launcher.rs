//! Run now on AWS: the report function begins the run in the job history (refusing a
//! second while one runs), then invokes the job's function asynchronously with the run's
//! id; the function carries out that run and records how it ended. An invocation Lambda
//! does not accept ends the run at once as failed, with the reason.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::json;
use tidemark_core::job::{
    Job, JobLauncher, JobOptions, JobOutcome, JobRun, JobRunError, LaunchError, ProgressSnapshot, RunHistory, Trigger,
};

/// The placeholder for the job's name in [`LambdaLauncher`]'s function pattern.
pub const JOB_PLACEHOLDER: &str = "{job}";

pub struct LambdaLauncher {
    client: aws_sdk_lambda::Client,
    /// The job functions' name with `{job}` for the job (`tidemark-{job}-prod`), as the
    /// template names them (`TIDEMARK_JOB_FUNCTIONS`).
    functions: String,
    history: RunHistory,
}

impl LambdaLauncher {
    pub fn new(client: aws_sdk_lambda::Client, functions: String, history: RunHistory) -> Self {
        Self { client, functions, history }
    }

    fn function(&self, job: Job) -> String {
        self.functions.replace(JOB_PLACEHOLDER, job.name())
    }
}

#[async_trait::async_trait]
impl JobLauncher for LambdaLauncher {
    async fn launch(&self, job: Job, options: JobOptions) -> Result<JobRun, LaunchError> {
        options.check(job)?;
        let run = self.history.begin(job, &options, Trigger::Console).await?;
        let mut payload = serde_json::to_value(&options).unwrap_or_else(|_| json!({}));
        payload["run_id"] = json!(run.id);
        let sent = self
            .client
            .invoke()
            .function_name(self.function(job))
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(run),
            Err(error) => {
                let reason = aws_sdk_lambda::error::DisplayErrorContext(error).to_string();
                let failed: Result<JobOutcome, JobRunError> = Err(JobRunError::NotStarted(reason.clone()));
                if let Err(error) = self.history.finish(run, &failed).await {
                    tracing::error!(%job, %error, "recording a run that did not start");
                }
                Err(LaunchError::Start(reason))
            }
        }
    }

    /// The function's log has its progress; the history has its start and end.
    fn progress(&self, _run_id: &str) -> Option<ProgressSnapshot> {
        None
    }
}
