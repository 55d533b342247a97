//! The stream-index Lambda: tracing, settings and the OpenSearch client once, then run.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tidemark_aws::{settings, AwsClients, Endpoint};
use tidemark_core::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let endpoint = Endpoint::from_env()?;
    let clients = AwsClients::load(&endpoint).await;
    let index = settings::search(&endpoint, &clients)?;
    index.ensure_template().await?;
    if let Some(days) = settings::search_retention_days(&endpoint)? {
        index.ensure_retention(days).await?;
    }
    let (parking, _) = settings::interim(&clients)?;
    let (index, parking) = (&index, &parking);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(tidemark_stream_index::handle(event.payload, index, parking, &SystemClock).await)
    }))
    .await
}
