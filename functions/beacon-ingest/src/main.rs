//! The beacon-ingest Lambda behind API Gateway: the same router as `tidemark up`, with
//! Kinesis as the stream and write keys from Secrets Manager and those made in the
//! console (the events table), re-read every minute.

use std::sync::Arc;

use tidemark_aws::settings::Settings;
use tidemark_aws::{secrets, AwsClients};
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::Ingestor;
use tidemark_core::validate::ValidationLimits;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::load(&settings.endpoint).await;
    let stream = settings.stream(&clients)?;
    let configured = secrets::write_keys(&clients).await?;
    let registry = settings.key_registry(&clients)?;
    let refresh = secrets::KeyRefresh::from_env(&clients, configured.clone()).with_registry(registry);
    let write_keys = refresh.initial(configured).await;
    let ingestor =
        Arc::new(Ingestor::new(Arc::new(stream), write_keys, ValidationLimits::default(), Arc::new(SystemClock)));
    let router = tidemark_beacon_ingest::router(Arc::clone(&ingestor));
    let refresh = Arc::new(refresh);
    lambda_http::run(router.layer(axum::middleware::from_fn(move |request, next: axum::middleware::Next| {
        let (refresh, ingestor) = (Arc::clone(&refresh), Arc::clone(&ingestor));
        async move {
            refresh.refresh_if_stale(&ingestor).await;
            next.run(request).await
        }
    })))
    .await
}
