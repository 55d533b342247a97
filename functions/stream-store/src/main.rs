//! The stream-store Lambda: tracing, settings and the DynamoDB client once, then run.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tidemark_aws::settings::Settings;
use tidemark_aws::AwsClients;
use tidemark_core::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::load(&settings.endpoint).await;
    let kv = settings.kv(&clients)?;
    let layout = settings.kv_layout();
    let (parking, _) = settings.interim(&clients)?;
    let (kv, layout, parking) = (&kv, &layout, &parking);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(tidemark_stream_store::handle(event.payload, kv, layout, parking, &SystemClock).await)
    }))
    .await
}
