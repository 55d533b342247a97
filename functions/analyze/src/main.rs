//! The analyze Lambda: every `[[analysis]]` of the pipeline file run against Redshift
//! and the search index (forecasts with their bands, anomalies, column profiles,
//! segments), the results written to the `analysis_*` tables, and the anomalies found
//! happening now published to the SNS topic in `TIDEMARK_NOTIFY_TOPIC_ARN`.
//!
//! The job itself is the domain's (`tidemark_core::job`); this screen opens what it
//! needs at cold start and serves the scheduled events (`{"only": "NAME"}` runs one).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::jobs::{handle, JobEnv};
use tidemark_core::job::Job;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let env = JobEnv::load(Job::Analyze).await?;
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
