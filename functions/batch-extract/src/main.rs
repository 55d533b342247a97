//! The batch-extract Lambda: every primary source (or the one the event names) pulled into the
//! interim store, unchanged, from where its last run stopped: databases through their
//! connectors, file sources from S3.
//!
//! The job itself is the domain's (`tidemark_core::job`); this screen opens what it
//! needs at cold start and serves the scheduled events.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::jobs::{handle, JobEnv};
use tidemark_core::job::Job;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let env = JobEnv::load(Job::BatchExtract).await?;
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
