//! The batch-load Lambda: every table (or the one the event names) loaded from the extracted runs
//! through its transform rules, each in its own warehouse transaction; the watermark
//! moves only with the commit. Then the raw state that later loads read is compacted
//! before the bucket's lifecycle would expire it (`raw_retention`).
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
    let env = JobEnv::load(Job::BatchLoad).await?;
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
