//! The forget Lambda: tracing, settings, the pipeline file and the store clients once
//! at cold start, then one person per invocation.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tidemark_aws::settings::Settings;
use tidemark_aws::AwsClients;
use tidemark_core::forget::{BatchStores, Stores};
use tidemark_forget::{handle, Env};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::load(&settings.endpoint).await;
    let pipeline = settings.pipeline(&clients).await?;
    let warehouse = settings.warehouse(&clients)?;
    let (interim, _) = settings.interim(&clients)?;
    let kv = settings.kv(&clients)?;
    let layout = settings.kv_layout();
    let index = settings.search(&clients)?;
    let env = Env {
        stores: Stores {
            kv: &kv,
            layout: &layout,
            index: &index,
            batch: Some(BatchStores { pipeline: &pipeline, warehouse: &warehouse, interim: &interim }),
        },
        stream_retention_hours: settings.stream_retention_hours,
    };
    let env = &env;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handle(env, &event.payload).await }))
        .await
}
