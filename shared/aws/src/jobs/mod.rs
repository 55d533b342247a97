//! What the scheduled job Lambdas (one per [`tidemark_core::job::Job`]) share: their cold
//! start and invocation, the scheduled event they are invoked with, progress as log
//! lines, the source readers on AWS, and how a failure ends the invocation.
//!
//! A job that fails returns an error: EventBridge Scheduler retries the invocation (the
//! template allows two retries) and then parks the event in the jobs DLQ. Every job is
//! idempotent (extract resumes by cursor, loads are keyed by their input runs, compact
//! replaces its day), so a retry never doubles anything.

pub mod env;
pub mod progress;
pub mod request;
pub mod sources;

pub use env::{handle, JobEnv};
pub use progress::LogProgress;
pub use request::{JobRequest, RequestError};
pub use sources::AwsSources;

/// Why an invocation failed: the event asked for something invalid, or the job did.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{job} failed: {message}")]
    Run { job: &'static str, message: String },
    /// The template's schedule for this function is not the pipeline file's.
    #[error("{job} refuses to run: {reason}")]
    Schedule { job: &'static str, reason: String },
}

impl JobFailure {
    pub fn run(job: &'static str, error: impl std::fmt::Display) -> Self {
        tracing::error!(job, error = %error, "job failed");
        JobFailure::Run { job, message: error.to_string() }
    }
}

/// What Lambda records for a failed invocation: the kind, then the message.
impl From<JobFailure> for lambda_runtime::Diagnostic {
    fn from(failure: JobFailure) -> Self {
        let error_type = match failure {
            JobFailure::Request(_) => "Tidemark.InvalidRequest",
            JobFailure::Run { .. } => "Tidemark.JobFailed",
            JobFailure::Schedule { .. } => "Tidemark.ScheduleMismatch",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: failure.to_string() }
    }
}

/// The invocation's answer: the job's summaries as JSON (also logged, so that a
/// scheduled run leaves its figures in CloudWatch Logs).
pub fn answer<T: serde::Serialize>(job: &'static str, summaries: &T) -> Result<serde_json::Value, JobFailure> {
    let value = serde_json::to_value(summaries).map_err(|e| JobFailure::run(job, e))?;
    tracing::info!(job, summary = %value, "job finished");
    Ok(value)
}
