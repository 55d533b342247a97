//! stream-index: a batch of Kinesis records in, the events bulk-indexed (document id =
//! `event_id`), the records that failed out as `batchItemFailures`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use tidemark_aws::kinesis_event;
use tidemark_core::consume::index_batch;
use tidemark_core::ports::SearchIndex;

pub async fn handle(event: KinesisEvent, index: &dyn SearchIndex) -> KinesisEventResponse {
    let records = kinesis_event::records(&event);
    let outcome = index_batch(&records, index).await;
    kinesis_event::log_failures("stream-index", &outcome);
    kinesis_event::response(&outcome)
}
