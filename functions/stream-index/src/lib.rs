//! stream-index: a batch of Kinesis records in, the events bulk-indexed (document id =
//! `event_id`), the records that failed for a reason that may pass out as `batchItemFailures`,
//! the ones that never can parked with their payload (`tidemark_aws::dead_letters`).

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use tidemark_aws::{dead_letters, kinesis_event};
use tidemark_core::clock::Clock;
use tidemark_core::consume::index_batch;
use tidemark_core::ports::{ObjectStore, SearchIndex};

pub async fn handle(
    event: KinesisEvent,
    index: &dyn SearchIndex,
    parking: &dyn ObjectStore,
    clock: &dyn Clock,
) -> KinesisEventResponse {
    let records = kinesis_event::records(&event);
    let outcome = index_batch(&records, index).await;
    kinesis_event::log_failures("stream-index", &outcome);
    dead_letters::settle("stream-index", &records, outcome, parking, clock).await
}
