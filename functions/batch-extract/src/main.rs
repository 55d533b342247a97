//! The batch-extract Lambda: tracing, settings, the pipeline file and the sources
//! secret once at cold start, then run.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::jobs::AwsSources;
use tidemark_aws::{secrets, settings, AwsClients, Endpoint};
use tidemark_batch_extract::{handle, Env};
use tidemark_core::clock::SystemClock;
use tidemark_sources::Connectors;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let endpoint = Endpoint::from_env()?;
    let clients = AwsClients::load(&endpoint).await;
    let (store, _) = settings::interim(&clients)?;
    let connectors = Connectors::new(".").with_vars(secrets::source_vars(&clients).await?);
    let env = Env {
        pipeline: Arc::new(settings::pipeline(&clients).await?),
        store: Arc::new(store),
        sources: Arc::new(AwsSources { connectors, s3: clients.s3.clone() }),
        clock: Arc::new(SystemClock),
    };
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
