//! Opt-in: the stream, key-value and object-store contract suites against LocalStack or
//! a real AWS account, the same suites moto and the embedded adapters pass.
//!
//! - LocalStack (or any emulator): `TIDEMARK_AWS_ENDPOINT=http://127.0.0.1:4566`.
//! - A real account: `TIDEMARK_AWS_LIVE=1` plus the usual credentials and `AWS_REGION`.
//!
//! The test creates an on-demand stream, a table and a bucket named
//! `tidemark-test-<pid>-<time>` and deletes them at the end. It is ignored unless asked
//! for by name (CI runs the same suites on moto, `tests/moto.rs`, and skips this one);
//! asked for without either variable, it fails saying which to set.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use tidemark_aws::settings::Settings;
use tidemark_aws::{provision, AwsClients, DynamoKv, KinesisStream, S3ObjectStore};
use tidemark_core::contract;

async fn target() -> AwsClients {
    let endpoint = Settings::from_env().unwrap().endpoint;
    assert!(
        endpoint.url().is_some() || std::env::var_os("TIDEMARK_AWS_LIVE").is_some(),
        "set TIDEMARK_AWS_ENDPOINT (LocalStack) or TIDEMARK_AWS_LIVE=1 (a real account)"
    );
    AwsClients::load(&endpoint).await
}

#[tokio::test]
#[ignore = "needs LocalStack (TIDEMARK_AWS_ENDPOINT) or an AWS account (TIDEMARK_AWS_LIVE=1)"]
async fn contract_suites_on_localstack_or_a_real_account() {
    let clients = target().await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    let name = format!("tidemark-test-{}-{nanos}", std::process::id());
    provision::stream(&clients, &name).await.unwrap();
    provision::kv_table(&clients, &name).await.unwrap();
    provision::bucket(&clients, &name).await.unwrap();

    let stream = KinesisStream::new(clients.kinesis.clone(), &name);
    contract::stream::put_answers_every_record(&stream).await;
    contract::stream::empty_put_is_a_no_op(&stream).await;
    let kv = DynamoKv::new(clients.dynamodb.clone(), &name);
    contract::kv::duplicates_are_absorbed(&kv).await;
    contract::kv::partitions_are_exact_and_sorted(&kv).await;
    contract::kv::bucket_reads_merge_write_shards(&kv).await;
    let store = S3ObjectStore::new(clients.s3.clone(), &name, "contract");
    contract::object_store::put_get_list_delete(&store).await;

    // Leave nothing behind that costs money.
    let listed = clients.s3.list_objects_v2().bucket(&name).send().await.unwrap();
    for object in listed.contents() {
        clients.s3.delete_object().bucket(&name).key(object.key().unwrap()).send().await.unwrap();
    }
    clients.s3.delete_bucket().bucket(&name).send().await.unwrap();
    clients.dynamodb.delete_table().table_name(&name).send().await.unwrap();
    clients.kinesis.delete_stream().stream_name(&name).send().await.unwrap();
}
