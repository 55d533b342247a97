//! stream-store: a batch of Kinesis records in, the events written as time-bucketed
//! key-value items (a duplicate delivery lands on the same key and is absorbed); the
//! records that failed for a reason that may pass out as `batchItemFailures`, the ones
//! that never can parked with their payload (`tidemark_aws::dead_letters`).

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use tidemark_aws::{dead_letters, kinesis_event};
use tidemark_core::clock::Clock;
use tidemark_core::consume::store_batch;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::{KvStore, ObjectStore};

pub async fn handle(
    event: KinesisEvent,
    kv: &dyn KvStore,
    layout: &KvLayout,
    parking: &dyn ObjectStore,
    clock: &dyn Clock,
) -> KinesisEventResponse {
    let records = kinesis_event::records(&event);
    let outcome = store_batch(&records, kv, layout).await;
    kinesis_event::log_failures("stream-store", &outcome);
    dead_letters::settle("stream-store", &records, outcome, parking, clock).await
}
