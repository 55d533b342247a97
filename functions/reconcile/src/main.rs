//! The reconcile Lambda: every report's (or the one the event names) buckets compared between real
//! time (the key-value store) and batch (the warehouse) for `lookback_days` back from
//! the tidemark (default 7, as the local scheduler), the results stored in the warehouse.
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
    let env = JobEnv::load(Job::Reconcile).await?;
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
