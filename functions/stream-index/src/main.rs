//! The stream-index Lambda: tracing, settings and the OpenSearch client once, then run.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tidemark_aws::settings::{SearchExpiry, Settings};
use tidemark_aws::AwsClients;
use tidemark_core::clock::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::load(&settings.endpoint).await;
    let index = settings.search(&clients)?;
    index.ensure_template().await?;
    match settings.search_expiry() {
        Some(SearchExpiry::IsmPolicy { days }) => index.ensure_retention(days).await?,
        Some(SearchExpiry::DropDailyIndices { days }) => {
            // A month of days past the retention: containers live hours, not weeks.
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
            let dropped = index.drop_daily_indices(before, 30).await?;
            tracing::info!(dropped, days, "daily indices past the retention dropped");
        }
        None => {}
    }
    let (parking, _) = settings.interim(&clients)?;
    let (index, parking) = (&index, &parking);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(tidemark_stream_index::handle(event.payload, index, parking, &SystemClock).await)
    }))
    .await
}
