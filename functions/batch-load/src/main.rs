//! The batch-load Lambda: tracing, settings, the pipeline file and the Redshift client
//! once at cold start, then run.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::{settings, AwsClients, Endpoint};
use tidemark_batch_load::{handle, Env};
use tidemark_core::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let endpoint = Endpoint::from_env()?;
    let clients = AwsClients::load(&endpoint).await;
    let (store, _) = settings::interim(&clients)?;
    let env = Env {
        pipeline: Arc::new(settings::pipeline(&clients).await?),
        store: Arc::new(store),
        warehouse: Arc::new(settings::warehouse(&clients)?),
        clock: Arc::new(SystemClock),
        raw_retention: settings::raw_retention()?,
    };
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
