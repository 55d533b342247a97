//! A job Lambda's cold start and invocation: the pipeline file and the stores its job
//! names ([`Job::ports`]) opened once, the schedule the template gave it checked against
//! the file's, then each event run through the domain's [`job::run`].

use std::sync::Arc;

use serde_json::Value;
use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::{Clock, SystemClock};
use tidemark_core::job::{self, eventbridge_expression, Job, JobPorts, JobRunError, Port, RealtimePorts, RunHistory};

pub use crate::settings::STALE_AFTER;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::{Notifier, ObjectStore, SearchIndex, Warehouse};
use tidemark_sources::Connectors;

use super::{answer, AwsSources, JobFailure, JobRequest, LogProgress, RequestError};
use crate::config::{AwsClients, AwsConfigError};
use crate::secrets;
use crate::settings::Settings;

/// What one job's function holds between invocations.
pub struct JobEnv {
    pub job: Job,
    pub pipeline: Arc<Pipeline>,
    pub clock: Arc<dyn Clock>,
    pub raw_retention: RawRetention,
    pub sources: Option<Arc<dyn SourceFactory>>,
    pub interim: Option<Arc<dyn ObjectStore>>,
    pub warehouse: Option<Arc<dyn Warehouse>>,
    pub kv: Option<(Arc<dyn KvStore>, KvLayout)>,
    pub index: Option<Arc<dyn SearchIndex>>,
    /// analyze: the anomaly topic, when `TIDEMARK_NOTIFY_TOPIC_ARN` is set.
    pub notifier: Option<Arc<dyn Notifier>>,
    /// The job history in the events table (`TIDEMARK_KV_TABLE`), where every run is
    /// recorded; `None` where the table is not set (a manual stack without one).
    pub history: Option<RunHistory>,
    /// The EventBridge expression the template schedules this function with
    /// (`TIDEMARK_SCHEDULE`); `None` where nothing schedules it (tests, a manual stack).
    pub schedule: Option<String>,
}

impl JobEnv {
    /// Cold start: settings, the pipeline file and only the stores `job` needs.
    pub async fn load(job: Job) -> Result<Self, AwsConfigError> {
        let settings = Settings::from_env()?;
        let clients = AwsClients::load(&settings.endpoint).await;
        let mut env = JobEnv {
            job,
            pipeline: Arc::new(settings.pipeline(&clients).await?),
            clock: Arc::new(SystemClock),
            raw_retention: settings.raw_retention,
            sources: None,
            interim: None,
            warehouse: None,
            kv: None,
            index: None,
            notifier: None,
            history: None,
            schedule: settings.schedule.clone(),
        };
        env.history = settings.history(&clients)?;
        if job == Job::Analyze {
            env.notifier = settings.notifier(&clients).map(|n| Arc::new(n) as Arc<dyn Notifier>);
        }
        for port in job.ports() {
            match port {
                Port::Sources => {
                    let connectors = Connectors::new(".").with_vars(secrets::source_vars(&clients).await?);
                    env.sources = Some(Arc::new(AwsSources { connectors, s3: clients.s3.clone() }));
                }
                Port::Interim => env.interim = Some(Arc::new(settings.interim(&clients)?.0)),
                Port::Warehouse => env.warehouse = Some(Arc::new(settings.warehouse(&clients)?)),
                Port::Kv => env.kv = Some((Arc::new(settings.kv(&clients)?), settings.kv_layout())),
                Port::Index => env.index = Some(Arc::new(settings.search(&clients)?)),
            }
        }
        Ok(env)
    }

    /// The pipeline file owns the schedules: a function whose schedule is not the file's
    /// refuses to run, saying which parameter to deploy with, rather than run at a time
    /// nobody chose.
    fn check_schedule(&self) -> Result<(), JobFailure> {
        let Some(deployed) = &self.schedule else { return Ok(()) };
        let (job, cron) = (self.job, self.pipeline.schedule.cron(self.job));
        let mismatch = |reason: String| {
            tracing::error!(%job, reason, "schedule mismatch");
            Err(JobFailure::Schedule { job: job.name(), reason })
        };
        match eventbridge_expression(cron) {
            Ok(wanted) if &wanted == deployed => Ok(()),
            Ok(wanted) => mismatch(format!(
                "the pipeline file's schedule.{} is {cron:?} ({wanted}) but this function is scheduled {deployed}; \
                 deploy with --parameter-overrides {}=\"{wanted}\", or change the file",
                job.schedule_key(),
                job.schedule_parameter()
            )),
            Err(e) => mismatch(format!("the pipeline file's schedule.{}: {e}", job.schedule_key())),
        }
    }

    fn ports<'a>(&'a self, progress: &'a LogProgress) -> JobPorts<'a> {
        JobPorts {
            pipeline: &self.pipeline,
            clock: self.clock.as_ref(),
            progress,
            raw_retention: self.raw_retention,
            sources: self.sources.as_deref(),
            interim: self.interim.as_deref(),
            warehouse: self.warehouse.as_deref(),
            realtime: self.kv.as_ref().map(|(kv, layout)| RealtimePorts { kv: kv.as_ref(), layout }),
            index: self.index.as_deref(),
            notifier: self.notifier.as_deref(),
        }
    }
}

/// One invocation: the event's options, the schedule check, the run recorded in the
/// history (a run the console began is carried out under its id), the summaries.
pub async fn handle(env: &JobEnv, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    env.check_schedule()?;
    request.options.check(env.job).map_err(|e| RequestError { field: e.field.to_owned(), reason: e.rule })?;
    let progress = LogProgress::default();
    let ports = env.ports(&progress);
    let Some(history) = &env.history else {
        let result = job::run(env.job, &request.options, request.scheduled_at, &ports).await;
        return finish(env.job, result);
    };
    let run = match &request.run_id {
        Some(id) => history.adopt(env.job, id).await,
        None => history.begin(env.job, &request.options, request.trigger).await,
    }
    .map_err(|e| JobFailure::run(env.job.name(), e))?;
    let (result, recorded) = job::run_recorded(history, run, request.scheduled_at, &ports).await;
    if let Err(error) = recorded {
        tracing::error!(job = env.job.name(), %error, "recording the end of the run failed");
    }
    finish(env.job, result)
}

fn finish(job: Job, result: Result<job::JobOutcome, JobRunError>) -> Result<Value, JobFailure> {
    match result {
        Ok(outcome) => answer(job.name(), &outcome),
        Err(JobRunError::Options(e)) => Err(RequestError { field: e.field.to_owned(), reason: e.rule }.into()),
        Err(e) => Err(JobFailure::run(job.name(), e)),
    }
}
