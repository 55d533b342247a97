//! The jobs as the console sees them: `GET /v1/jobs` (every job with its schedule, next
//! time, running run and last run), `GET /v1/jobs/{job}/runs` (its history, newest
//! first), `GET /v1/jobs/{job}/runs/{id}`, and `POST /v1/jobs/{job}/runs` (Run now, with
//! the job's options as JSON; `202` with the run, `409` while one runs).
//!
//! The history is the one every run writes ([`RunHistory`]); how a run is started is the
//! deployment's ([`JobLauncher`]): a task in `tidemark up`, an asynchronous invocation of
//! the job's Lambda on AWS.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::batch::pipeline::Schedule;
use tidemark_core::job::{BeginError, Job, JobLauncher, JobOptions, JobRun, LaunchError, RunHistory, RunStatus};
use tidemark_core::ports::KvError;

use crate::ReportState;

/// What the job routes read and start.
#[derive(Clone)]
pub struct JobsConsole {
    pub history: RunHistory,
    pub launcher: Arc<dyn JobLauncher>,
    /// The pipeline file's `[schedule]` (every default without one).
    pub schedule: Arc<Schedule>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job is called {0:?}: see GET /v1/jobs")]
    UnknownJob(String),
    #[error("no run {id} of {job}")]
    UnknownRun { job: Job, id: String },
    /// No pipeline file, so no jobs: the text says how this deployment gets one.
    #[error("{0}")]
    NoJobs(Arc<str>),
    #[error("body: {0}")]
    Body(String),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("reading the job history: {0}")]
    Store(#[from] KvError),
}

impl IntoResponse for JobsError {
    fn into_response(self) -> Response {
        let (status, field, running) = match &self {
            JobsError::UnknownJob(_) => (StatusCode::NOT_FOUND, Some("job"), None),
            JobsError::UnknownRun { .. } | JobsError::NoJobs(_) => (StatusCode::NOT_FOUND, None, None),
            JobsError::Body(_) => (StatusCode::BAD_REQUEST, None, None),
            JobsError::Launch(LaunchError::Options(e)) => (StatusCode::BAD_REQUEST, Some(e.field), None),
            JobsError::Launch(LaunchError::Begin(BeginError::Running(run))) => {
                (StatusCode::CONFLICT, None, serde_json::to_value(run).ok())
            }
            JobsError::Launch(_) | JobsError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, None, None),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "job route failed");
        }
        (status, Json(json!({"error": self.to_string(), "field": field, "running": running}))).into_response()
    }
}

impl ReportState {
    fn jobs(&self) -> Result<&JobsConsole, JobsError> {
        self.jobs.as_ref().ok_or_else(|| JobsError::NoJobs(Arc::clone(&self.no_pipeline)))
    }
}

fn job_named(name: &str) -> Result<Job, JobsError> {
    Job::from_name(name).ok_or_else(|| JobsError::UnknownJob(name.to_owned()))
}

/// The next time `cron` fires after `now`, if it reads.
fn next_time(cron: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    croner::Cron::from_str(cron).ok()?.find_next_occurrence(&now, false).ok()
}

/// A run as JSON, with its live progress while it runs.
fn run_json(console: &JobsConsole, run: &JobRun, now: DateTime<Utc>) -> JsonValue {
    let mut value = serde_json::to_value(run).unwrap_or_default();
    value["seconds"] = json!(run.seconds(now));
    if let Some(progress) = console.launcher.progress(&run.id) {
        value["progress"] = json!(progress);
    }
    value
}

pub async fn list_jobs(State(state): State<ReportState>) -> Result<Json<JsonValue>, JobsError> {
    let console = state.jobs()?;
    let now = state.clock.now();
    let mut jobs = Vec::new();
    for job in Job::ALL {
        let cron = console.schedule.cron(job);
        // The run holding the lock is always the newest (none can begin while it runs),
        // and `runs` shows it as running only while it holds the lock.
        let last = console.history.runs(job, 1).await?.into_iter().next();
        let running = last.as_ref().filter(|r| r.status == RunStatus::Running);
        jobs.push(json!({
            "job": job,
            "summary": job.summary(),
            "schedule": cron,
            "next_run": next_time(cron, now),
            "options": {"only": job.only_selects(), "day": job.takes_day(), "lookback_days": job.takes_lookback()},
            "running": running.map(|r| run_json(console, r, now)),
            "last": last.as_ref().map(|r| run_json(console, r, now)),
        }));
    }
    Ok(Json(json!({ "jobs": jobs })))
}

#[derive(Debug, Deserialize)]
pub struct RunsParams {
    limit: Option<usize>,
}

pub async fn list_runs(
    State(state): State<ReportState>,
    Path(job): Path<String>,
    Query(params): Query<RunsParams>,
) -> Result<Json<JsonValue>, JobsError> {
    let (console, job) = (state.jobs()?, job_named(&job)?);
    let limit = params.limit.unwrap_or(50).clamp(1, tidemark_core::job::history::KEEP_RUNS);
    let now = state.clock.now();
    let runs = console.history.runs(job, limit).await?;
    Ok(Json(json!({ "job": job, "runs": runs.iter().map(|r| run_json(console, r, now)).collect::<Vec<_>>() })))
}

pub async fn get_run(
    State(state): State<ReportState>,
    Path((job, id)): Path<(String, String)>,
) -> Result<Json<JsonValue>, JobsError> {
    let (console, job) = (state.jobs()?, job_named(&job)?);
    let run = console.history.run(job, &id).await?.ok_or(JobsError::UnknownRun { job, id })?;
    Ok(Json(run_json(console, &run, state.clock.now())))
}

/// Run now. The body is the job's options (`{}` for none); an option the job does not
/// take is refused with its field, like `tidemark job run`'s flags.
pub async fn start_run(
    State(state): State<ReportState>,
    Path(job): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, JobsError> {
    let (console, job) = (state.jobs()?, job_named(&job)?);
    let options: JobOptions = if body.iter().all(u8::is_ascii_whitespace) {
        JobOptions::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| JobsError::Body(e.to_string()))?
    };
    // Every launcher checks the options before it records anything.
    let run = console.launcher.launch(job, options).await?;
    tracing::info!(%job, run = %run.id, "run started from the console");
    let answer = run_json(console, &run, state.clock.now());
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}
