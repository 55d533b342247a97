//! stream-store: a batch of Kinesis records in, the events written as time-bucketed
//! key-value items (a duplicate delivery lands on the same key and is absorbed), the
//! records that failed out as `batchItemFailures`.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use tidemark_aws::kinesis_event;
use tidemark_core::consume::store_batch;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::KvStore;

pub async fn handle(event: KinesisEvent, kv: &dyn KvStore, layout: &KvLayout) -> KinesisEventResponse {
    let records = kinesis_event::records(&event);
    let outcome = store_batch(&records, kv, layout).await;
    kinesis_event::log_failures("stream-store", &outcome);
    kinesis_event::response(&outcome)
}
