//! The port contract suites over the AWS adapters, against `moto_server` on loopback
//! (Kinesis, DynamoDB, S3), the same suites the embedded adapters pass; and secrets
//! re-read from Secrets Manager after their TTL.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use aws_sdk_kinesis::types::ShardIteratorType;
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{provision, DynamoKv, KinesisStream, S3ObjectStore, WriteMode};
use tidemark_core::contract;
use tidemark_core::ports::{EventStream, KvStore, ObjectStore, PutItemOutcome, PutOutcome, StreamRecordIn};

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn kinesis_stream_contract_and_records_readable() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::stream(&clients, "contract").await.unwrap();
    let stream = KinesisStream::new(clients.kinesis.clone(), "contract");
    contract::stream::put_answers_every_record(&stream).await;
    contract::stream::empty_put_is_a_no_op(&stream).await;

    // What was acknowledged can be read back from the shard it was stored on.
    let outcomes = stream
        .put_records(vec![StreamRecordIn { partition_key: "p".into(), data: b"{\"hello\":1}".to_vec() }])
        .await
        .unwrap();
    let PutOutcome::Stored { shard_id, sequence_number } = &outcomes[0] else { panic!("{outcomes:?}") };
    let iterator = clients
        .kinesis
        .get_shard_iterator()
        .stream_name("contract")
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(sequence_number)
        .send()
        .await
        .unwrap();
    let got = clients.kinesis.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(got.records()[0].data().as_ref(), b"{\"hello\":1}");
    assert_eq!(got.records()[0].partition_key(), Some("p"));
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn kinesis_rejects_oversize_records_but_stores_the_rest() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::stream(&clients, "limits").await.unwrap();
    let stream = KinesisStream::new(clients.kinesis.clone(), "limits");
    let records = vec![
        StreamRecordIn { partition_key: "a".into(), data: vec![b'x'; 100] },
        StreamRecordIn { partition_key: "b".into(), data: vec![b'x'; 1024 * 1024] },
        StreamRecordIn { partition_key: "c".into(), data: vec![b'x'; 100] },
    ];
    let outcomes = stream.put_records(records).await.unwrap();
    assert!(matches!(outcomes[0], PutOutcome::Stored { .. }));
    assert!(
        matches!(&outcomes[1], PutOutcome::Failed { retryable: false, reason } if reason.contains("1048576 bytes per record"))
    );
    assert!(matches!(outcomes[2], PutOutcome::Stored { .. }));
}

async fn kv(moto: &Emulator, table: &str, mode: WriteMode) -> DynamoKv {
    let clients = moto.clients().await;
    provision::kv_table(&clients, table).await.unwrap();
    DynamoKv::new(clients.dynamodb, table).with_mode(mode).with_retention(Some(std::time::Duration::from_secs(86_400)))
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn dynamodb_kv_contract() {
    let moto = Emulator::moto();
    contract::kv::duplicates_are_absorbed(&kv(&moto, "kv-dup", WriteMode::Conditional).await).await;
    contract::kv::partitions_are_exact_and_sorted(&kv(&moto, "kv-sorted", WriteMode::Conditional).await).await;
    contract::kv::bucket_reads_merge_write_shards(&kv(&moto, "kv-bucket", WriteMode::Conditional).await).await;
    contract::kv::items_are_read_by_key(&kv(&moto, "kv-get", WriteMode::Conditional).await).await;
    contract::kv::scans_see_everything_once_and_deletes_remove(&kv(&moto, "kv-scan", WriteMode::Conditional).await)
        .await;
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn dynamodb_batch_mode_stores_and_reads_back() {
    let moto = Emulator::moto();
    let store = kv(&moto, "kv-batch", WriteMode::Batch).await;
    contract::kv::partitions_are_exact_and_sorted(&store).await;
    contract::kv::bucket_reads_merge_write_shards(&store).await;
}

/// More than one page of a partition (DynamoDB pages at 1 MB): pagination keeps
/// every item, in order.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn dynamodb_query_paginates() {
    let moto = Emulator::moto();
    let store = kv(&moto, "kv-pages", WriteMode::Batch).await;
    let items: Vec<_> = (0..300)
        .map(|n| tidemark_core::kv_key::KvItem {
            key: tidemark_core::kv_key::KvKey { pk: "big".into(), sk: format!("{n:05}") },
            value: vec![b'v'; 8 * 1024],
        })
        .collect();
    let outcomes = store.put_items(items).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == PutItemOutcome::Stored));
    let read = store.query_partition("big").await.unwrap();
    assert_eq!(read.len(), 300);
    assert!(read.windows(2).all(|w| w[0].key.sk < w[1].key.sk));
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn s3_object_store_contract_and_multipart() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::bucket(&clients, "tidemark-interim").await.unwrap();
    let store = S3ObjectStore::new(clients.s3.clone(), "tidemark-interim", "contract");
    contract::object_store::put_get_list_delete(&store).await;
    contract::object_store::rejects_keys_that_escape(&store).await;

    // 12 MiB in one PutObject, read back byte for byte. (Multipart is tested on the SDK's
    // mocks: moto answers CompleteMultipartUpload with a root element the Rust SDK's XML
    // parser does not accept, `CompleteMultipartUploadResponse` instead of `...Result`.)
    let big: Vec<u8> = (0..12 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    store.put("raw/big/part-0.csv", big.clone()).await.unwrap();
    assert_eq!(store.get("raw/big/part-0.csv").await.unwrap().unwrap(), big);

    // More keys than one ListObjectsV2 page (1,000).
    for n in 0..1_005 {
        store.put(&format!("many/{n:04}"), vec![1]).await.unwrap();
    }
    let keys = store.list("many/").await.unwrap();
    assert_eq!(keys.len(), 1_005);
    assert_eq!(keys[0], "many/0000");
}

/// A write key revoked in Secrets Manager stops working once the TTL has passed, and
/// the new key works; during a rotation both keys of the list work. Admin tokens too.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn revoked_secrets_stop_working_after_the_ttl() {
    use std::sync::Arc;
    use std::time::Duration;
    use tidemark_aws::secrets::{KeyRefresh, SecretTokens};
    use tidemark_core::ingest::Ingestor;
    use tidemark_core::secret::{digest, SecretSet};
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    let put = |id: &'static str, value: &'static str| {
        let clients = clients.clone();
        async move {
            let created = clients.secrets.create_secret().name(id).secret_string(value).send().await;
            if created.is_err() {
                clients.secrets.put_secret_value().secret_id(id).secret_string(value).send().await.unwrap();
            }
        }
    };
    put("keys", r#"{"write_keys": "old-key-1234=web"}"#).await;
    let keys = tidemark_aws::secrets::parse_write_keys(r#"{"write_keys": "old-key-1234=web"}"#).unwrap();
    let stream = Arc::new(KinesisStream::new(clients.kinesis.clone(), "unused"));
    let ingestor = Ingestor::new(stream, keys, Default::default(), Arc::new(tidemark_core::clock::SystemClock));
    // Long enough that a put and a refresh on a busy machine fit inside one TTL.
    let ttl = Duration::from_millis(1_500);
    let refresh = KeyRefresh::new(&clients, "keys", ttl);
    put("keys", r#"{"write_keys": "old-key-1234=web, new-key-5678=web"}"#).await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    refresh.refresh_if_stale(&ingestor).await;
    assert!(ingestor.authenticate(Some("old-key-1234")).is_ok() && ingestor.authenticate(Some("new-key-5678")).is_ok());
    put("keys", r#"{"write_keys": "new-key-5678=web"}"#).await;
    refresh.refresh_if_stale(&ingestor).await;
    assert!(ingestor.authenticate(Some("old-key-1234")).is_ok(), "within the TTL the old key still works");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    refresh.refresh_if_stale(&ingestor).await;
    assert!(ingestor.authenticate(Some("old-key-1234")).is_err(), "revoked");
    assert_eq!(ingestor.authenticate(Some("new-key-5678")).unwrap(), "web");

    put("tokens", r#"{"tokens": "token-one-0123456789"}"#).await;
    let tokens = SecretTokens::with_ttl(&clients, "tokens", Duration::from_millis(50));
    assert_eq!(tokens.digests().await.unwrap(), vec![digest("token-one-0123456789")]);
    put("tokens", r#"{"tokens": "token-two-0123456789"}"#).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(tokens.digests().await.unwrap(), vec![digest("token-two-0123456789")], "re-read after the TTL");
}

/// A write key made in the console (kept in DynamoDB, without the TTL its events carry)
/// is accepted by a beacon function's ingestor at its next refresh; revoked, it is
/// refused at the one after. The configured key stays throughout.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn console_write_keys_reach_the_beacon_function_at_its_next_refresh() {
    use std::sync::Arc;
    use std::time::Duration;
    use tidemark_aws::secrets::KeyRefresh;
    use tidemark_core::clock::SystemClock;
    use tidemark_core::ingest::{Ingestor, WriteKeys};
    use tidemark_core::key_registry::KeyRegistry;
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::kv_table(&clients, "console-keys").await.unwrap();
    let kv = DynamoKv::new(clients.dynamodb.clone(), "console-keys").with_retention(Some(Duration::from_secs(3600)));
    let registry = KeyRegistry::new(Arc::new(kv), Arc::new(SystemClock));
    let configured = WriteKeys::parse("configured-key-1=web").unwrap();
    let stream = Arc::new(KinesisStream::new(clients.kinesis.clone(), "unused"));
    let ingestor = Ingestor::new(stream, configured.clone(), Default::default(), Arc::new(SystemClock));
    let refresh = KeyRefresh::from_env(&clients, configured).with_registry(Some(registry.clone()));

    let made = registry.create("app", None).await.unwrap();
    assert!(ingestor.authenticate(Some(&made.secret)).is_err(), "not before the refresh");
    ingestor.replace_write_keys(refresh.read().await.unwrap());
    assert_eq!(ingestor.authenticate(Some(&made.secret)).unwrap(), "app");
    let items = clients.dynamodb.scan().table_name("console-keys").send().await.unwrap();
    let item = &items.items()[0];
    assert!(item["pk"].as_s().unwrap().starts_with("tidemark#permanent#"));
    assert!(!item.contains_key("expires_at"), "a write key does not expire with the events: {item:?}");

    registry.revoke(&made.key.id).await.unwrap();
    ingestor.replace_write_keys(refresh.read().await.unwrap());
    assert!(ingestor.authenticate(Some(&made.secret)).is_err(), "revoked");
    assert_eq!(ingestor.authenticate(Some("configured-key-1")).unwrap(), "web");
}

/// At a beacon function's cold start the console's keys join the configured ones, which
/// were just read; when the console's cannot be read (here: no such table) the
/// configured ones serve alone rather than none.
#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn cold_start_keys_are_the_configured_and_the_consoles_or_the_configured_alone() {
    use std::sync::Arc;
    use std::time::Duration;
    use tidemark_aws::secrets::KeyRefresh;
    use tidemark_core::clock::SystemClock;
    use tidemark_core::ingest::{Ingestor, WriteKeys};
    use tidemark_core::key_registry::KeyRegistry;
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::kv_table(&clients, "cold-start-keys").await.unwrap();
    let registry = |table: &str| {
        let kv = DynamoKv::new(clients.dynamodb.clone(), table).with_retention(Some(Duration::from_secs(3600)));
        KeyRegistry::new(Arc::new(kv), Arc::new(SystemClock))
    };
    let made = registry("cold-start-keys").create("app", None).await.unwrap();
    let configured = WriteKeys::parse("configured-key-1=web").unwrap();
    let stream = Arc::new(KinesisStream::new(clients.kinesis.clone(), "unused"));
    let ingestor_with = |keys| Ingestor::new(stream.clone(), keys, Default::default(), Arc::new(SystemClock));

    let refresh = KeyRefresh::from_env(&clients, configured.clone()).with_registry(Some(registry("cold-start-keys")));
    let ingestor = ingestor_with(refresh.initial(configured.clone()).await);
    assert_eq!(ingestor.authenticate(Some(&made.secret)).unwrap(), "app");
    assert_eq!(ingestor.authenticate(Some("configured-key-1")).unwrap(), "web");

    let refresh = KeyRefresh::from_env(&clients, configured.clone()).with_registry(Some(registry("no-such-table")));
    let ingestor = ingestor_with(refresh.initial(configured).await);
    assert!(ingestor.authenticate(Some(&made.secret)).is_err());
    assert_eq!(ingestor.authenticate(Some("configured-key-1")).unwrap(), "web");
}
