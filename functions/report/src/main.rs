//! The report Lambda behind API Gateway: the same router as `tidemark up`, with
//! OpenSearch as the index and Redshift as the warehouse, on IAM-signed routes for
//! programs and under `/ui/` behind the admin tokens for people in a browser. Reports come
//! from the pipeline file in the interim bucket, read once at cold start; without one the
//! real-time routes answer and the report routes say how to add it. The function only
//! reads the warehouse: its database role has `SELECT` and nothing else. The console's
//! Run now begins a run in the job history and invokes the job's function to carry it out;
//! write keys made and revoked in the console go to the events table; the stream's
//! figures come from CloudWatch, and parked records are redriven onto the stream.

use std::sync::Arc;

use tidemark_aws::secrets::SecretTokens;
use tidemark_aws::settings::Settings;
use tidemark_aws::AwsClients;
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::WriteKeys;
use tidemark_report::admin::AdminGuard;
use tidemark_report::jobs::JobsConsole;
use tidemark_report::on_aws::{self, AwsConsole};
use tidemark_report::write_keys::KeysConsole;
use tidemark_report::{BatchReports, ReportState};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::load(&settings.endpoint).await;
    let index = settings.search(&clients)?;
    let (pipeline, location) = settings.pipeline_if_present(&clients).await?;
    // Run now and the job history, when the template names the job functions.
    let jobs = match (&pipeline, settings.history(&clients)?, settings.launcher(&clients)?) {
        (Some(pipeline), Some(history), Some(launcher)) => {
            Some(JobsConsole { history, launcher: Arc::new(launcher), schedule: Arc::new(pipeline.schedule.clone()) })
        }
        _ => None,
    };
    let batch = match pipeline {
        // Read only: the jobs create the tables and grant this function's database role
        // SELECT; before the first load the report is real time alone.
        Some(pipeline) => Some(BatchReports {
            reports: Arc::new(pipeline.reports),
            analyses: Arc::new(pipeline.analyses),
            warehouse: Arc::new(settings.warehouse(&clients)?),
            // The quarantined rows (the role may read `quarantine/` and nothing else there).
            interim: Some(Arc::new(settings.interim(&clients)?.0)),
        }),
        None => None,
    };
    let no_pipeline = format!(
        "no pipeline file at {location}, so no reports yet: check one with `tidemark pipeline check FILE`, \
         upload it with `tidemark pipeline push FILE --bucket BUCKET` (or `aws s3 cp FILE {location}`); \
         new instances of the report function read it"
    );
    let state = ReportState {
        index: Arc::new(index),
        clock: Arc::new(SystemClock),
        batch,
        no_pipeline: Arc::from(no_pipeline),
        jobs,
        // Write keys made here; the beacon function reads them with its secret within a
        // minute. The secret's own keys are not this function's to read, so not listed.
        keys: settings.key_registry(&clients)?.map(|registry| KeysConsole {
            registry,
            configured: Arc::new(WriteKeys::default()),
            ingestor: None,
        }),
    };
    // Stream figures from CloudWatch, parked records and redrive, settings.
    let console = AwsConsole {
        interim: Arc::new(settings.interim(&clients)?.0),
        stream: Arc::new(settings.stream(&clients)?),
        health: settings.stream_health(&clients),
        settings: Arc::new(settings.view()),
        clock: Arc::new(SystemClock),
    };
    let tokens = settings
        .admin_tokens_secret
        .ok_or("TIDEMARK_ADMIN_TOKENS_SECRET: set it to the admin tokens secret (the template does)")?;
    let guard = AdminGuard { tokens: Some(Arc::new(SecretTokens::new(&clients, tokens))), hosts: None };
    lambda_http::run(tidemark_report::lambda_router(state, on_aws::router(console), guard)).await
}
