//! The realtime-compact Lambda: a closed day's real-time events (by default the day before the
//! schedule fired) read from the key-value store, written as a run of the realtime
//! source and loaded through the same rules as batch data. Running it again for the
//! same day replaces that day.
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
    let env = JobEnv::load(Job::RealtimeCompact).await?;
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
