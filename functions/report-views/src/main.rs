//! The report-views Lambda: tracing, settings, the pipeline file and the OpenSearch and
//! Redshift clients once at cold start, then run.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::{settings, AwsClients, Endpoint};
use tidemark_core::clock::SystemClock;
use tidemark_report_views::{handle, Env};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let endpoint = Endpoint::from_env()?;
    let clients = AwsClients::load(&endpoint).await;
    let env = Env {
        pipeline: Arc::new(settings::pipeline(&clients).await?),
        warehouse: Arc::new(settings::warehouse(&clients)?),
        index: Arc::new(settings::search(&endpoint, &clients)?),
        clock: Arc::new(SystemClock),
    };
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
