//! The adapters' failure handling on the SDK's own mocks (aws-smithy-mocks): partial
//! failures, throttling, unprocessed items, conditional-check failures, pagination.
//! SDK-level retries are switched off so that each rule sees exactly the adapter's calls.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryError, QueryOutput};
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ResourceNotFoundException};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsOutput};
use aws_sdk_kinesis::types::error::ProvisionedThroughputExceededException;
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use tidemark_aws::retry::RetryPolicy;
use tidemark_aws::{DynamoKv, KinesisStream, S3ObjectStore, WriteMode};
use tidemark_core::kv_key::{KvItem, KvKey};
use tidemark_core::ports::{EventStream, KvError, KvStore, ObjectStore, PutItemOutcome, PutOutcome, StreamRecordIn};

/// What the SDK's deserializer attaches to a real error response: its code.
fn throttling_meta(message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code("ProvisionedThroughputExceededException")
        .message(message)
        .build()
}

fn records(n: usize) -> Vec<StreamRecordIn> {
    (0..n).map(|i| StreamRecordIn { partition_key: format!("k{i}"), data: format!("r{i}").into_bytes() }).collect()
}

fn stored(seq: usize) -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder().shard_id("shardId-000000000000").sequence_number(seq.to_string()).build()
}

fn throttled() -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder()
        .error_code("ProvisionedThroughputExceededException")
        .error_message("Rate exceeded for shard shardId-000000000000")
        .build()
}

#[tokio::test]
async fn kinesis_resends_only_the_failed_entries() {
    let first =
        mock!(aws_sdk_kinesis::Client::put_records).match_requests(|req| req.records().len() == 3).then_output(|| {
            PutRecordsOutput::builder()
                .failed_record_count(1)
                .records(stored(1))
                .records(throttled())
                .records(stored(3))
                .build()
                .unwrap()
        });
    let second = mock!(aws_sdk_kinesis::Client::put_records)
        .match_requests(|req| req.records().len() == 1 && req.records()[0].data().as_ref() == b"r1")
        .then_output(|| PutRecordsOutput::builder().failed_record_count(0).records(stored(2)).build().unwrap());
    let client = mock_client!(aws_sdk_kinesis, RuleMode::Sequential, [&first, &second], |c| c
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled()));
    let stream = KinesisStream::new(client, "events").with_retry(RetryPolicy::immediate(3));

    let outcomes = stream.put_records(records(3)).await.unwrap();
    let seqs: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            PutOutcome::Stored { sequence_number, .. } => sequence_number.as_str(),
            PutOutcome::Failed { reason, .. } => panic!("{reason}"),
        })
        .collect();
    assert_eq!(seqs, vec!["1", "2", "3"], "each record keeps its own position, in request order");
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
}

#[tokio::test]
async fn kinesis_reports_what_stays_throttled_as_retryable() {
    let partial = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(|req| {
        // The first record always goes through; the second never does.
        let mut out = PutRecordsOutput::builder().failed_record_count(1);
        for r in req.records() {
            out = out.records(if r.data().as_ref() == b"r0" { stored(7) } else { throttled() });
        }
        out.build().unwrap()
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&partial], |c| c
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled()));
    let stream = KinesisStream::new(client, "events").with_retry(RetryPolicy::immediate(4));
    let outcomes = stream.put_records(records(2)).await.unwrap();
    assert!(matches!(outcomes[0], PutOutcome::Stored { .. }));
    assert!(
        matches!(&outcomes[1], PutOutcome::Failed { retryable: true, reason } if reason.contains("Rate exceeded")),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(partial.num_calls(), 5, "the first attempt and four retries");
}

#[tokio::test]
async fn kinesis_throttled_calls_make_the_stream_unavailable() {
    let throttle = mock!(aws_sdk_kinesis::Client::put_records).then_error(|| {
        PutRecordsError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(throttling_meta("slow down"))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&throttle], |c| c
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled()));
    let stream = KinesisStream::new(client, "events").with_retry(RetryPolicy::immediate(2));
    let err = stream.put_records(records(600)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("slow down"), "{err}");
    assert_eq!(throttle.num_calls(), 6, "600 records are two calls, tried three times each");
}

fn item(sk: &str) -> KvItem {
    KvItem { key: KvKey { pk: "events#2026-11-25T13#0".into(), sk: sk.into() }, value: sk.as_bytes().to_vec() }
}

fn dynamo(rules: &[&aws_smithy_mocks::Rule], mode: RuleMode) -> aws_sdk_dynamodb::Client {
    mock_client!(aws_sdk_dynamodb, mode, rules, |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()))
}

#[tokio::test]
async fn dynamodb_conditional_check_failure_is_a_duplicate() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_compute_response(|req| {
        assert_eq!(req.condition_expression(), Some("attribute_not_exists(pk)"));
        match req.item().and_then(|i| i.get("sk")) {
            Some(AttributeValue::S(sk)) if sk == "seen" => MockResponse::Error(
                PutItemError::ConditionalCheckFailedException(ConditionalCheckFailedException::builder().build()),
            ),
            _ => MockResponse::Output(PutItemOutput::builder().build()),
        }
    });
    let kv = DynamoKv::new(dynamo(&[&put], RuleMode::MatchAny), "events").with_retry(RetryPolicy::immediate(1));
    let outcomes = kv.put_items(vec![item("new"), item("seen"), item("new")]).await.unwrap();
    assert_eq!(outcomes, vec![PutItemOutcome::Stored, PutItemOutcome::Duplicate, PutItemOutcome::Duplicate]);
    assert_eq!(put.num_calls(), 2, "a key repeated in one call is written once");
}

#[tokio::test]
async fn dynamodb_missing_table_is_not_retried() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder().message("Requested resource not found").build(),
        )
    });
    let kv = DynamoKv::new(dynamo(&[&put], RuleMode::MatchAny), "missing").with_retry(RetryPolicy::immediate(5));
    let err = kv.put_items(vec![item("a")]).await.unwrap_err();
    assert!(matches!(&err, KvError::Rejected(m) if m.contains("Requested resource not found")), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn dynamodb_unprocessed_items_are_resent() {
    let first = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .match_requests(|req| req.request_items().is_some_and(|r| r["events"].len() == 25))
        .then_compute_output(|req| {
            // Hand back the last two writes as unprocessed.
            let writes = &req.request_items().unwrap()["events"];
            BatchWriteItemOutput::builder().unprocessed_items("events", writes[23..].to_vec()).build()
        });
    let second = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .match_requests(|req| {
            let writes = &req.request_items().unwrap()["events"];
            let sks: Vec<_> = writes
                .iter()
                .map(|w| w.put_request().unwrap().item().get("sk").unwrap().as_s().unwrap().clone())
                .collect();
            sks == vec!["s23".to_string(), "s24".to_string()]
        })
        .then_output(|| BatchWriteItemOutput::builder().build());
    let kv = DynamoKv::new(dynamo(&[&first, &second], RuleMode::Sequential), "events")
        .with_mode(WriteMode::Batch)
        .with_retry(RetryPolicy::immediate(3));
    let items: Vec<KvItem> = (0..25).map(|n| item(&format!("s{n}"))).collect();
    let outcomes = kv.put_items(items).await.unwrap();
    assert_eq!(outcomes.len(), 25);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn dynamodb_unprocessed_forever_is_unavailable() {
    let stuck = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(|req| {
        BatchWriteItemOutput::builder().set_unprocessed_items(req.request_items().cloned()).build()
    });
    let kv = DynamoKv::new(dynamo(&[&stuck], RuleMode::MatchAny), "events")
        .with_mode(WriteMode::Batch)
        .with_retry(RetryPolicy::immediate(2));
    let err = kv.put_items(vec![item("a")]).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(stuck.num_calls(), 3);
}

fn row(sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S("p".into())),
        ("sk".to_string(), AttributeValue::S(sk.into())),
        ("v".to_string(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(sk.as_bytes()))),
    ])
}

#[tokio::test]
async fn dynamodb_query_follows_last_evaluated_key_and_retries_throttling() {
    let page1 = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|req| req.exclusive_start_key().is_none())
        .then_output(|| {
            QueryOutput::builder()
                .items(row("a"))
                .items(row("b"))
                .set_last_evaluated_key(Some(HashMap::from([("sk".to_string(), AttributeValue::S("b".into()))])))
                .build()
        });
    let throttled = mock!(aws_sdk_dynamodb::Client::query).then_error(|| {
        QueryError::ProvisionedThroughputExceededException(
            aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException::builder()
                .message("hot")
                .meta(throttling_meta("hot"))
                .build(),
        )
    });
    let page2 = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|req| req.exclusive_start_key().is_some_and(|k| k["sk"].as_s().is_ok_and(|s| s == "b")))
        .then_output(|| QueryOutput::builder().items(row("c")).build());
    let kv = DynamoKv::new(dynamo(&[&page1, &throttled, &page2], RuleMode::Sequential), "events")
        .with_retry(RetryPolicy::immediate(2));
    let items = kv.query_partition("p").await.unwrap();
    let sks: Vec<&str> = items.iter().map(|i| i.key.sk.as_str()).collect();
    assert_eq!(sks, vec!["a", "b", "c"]);
    assert_eq!(items[2].value, b"c".to_vec());
}

#[tokio::test]
async fn s3_missing_object_is_none() {
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get]);
    let store = S3ObjectStore::new(client, "bucket", "interim/");
    assert_eq!(store.get("raw/none/manifest.json").await.unwrap(), None);
    assert!(store.get("../escape").await.is_err(), "keys are checked before any call");
    assert_eq!(get.num_calls(), 1);
}

fn multipart_rules(fail_part: Option<i32>) -> [aws_smithy_mocks::Rule; 4] {
    let create = mock!(aws_sdk_s3::Client::create_multipart_upload)
        .then_output(|| CreateMultipartUploadOutput::builder().upload_id("up-1").build());
    let part = mock!(aws_sdk_s3::Client::upload_part).then_compute_response(move |req| {
        let n = req.part_number().unwrap();
        if Some(n) == fail_part {
            MockResponse::Error(aws_sdk_s3::operation::upload_part::UploadPartError::unhandled("connection reset"))
        } else {
            MockResponse::Output(UploadPartOutput::builder().e_tag(format!("\"etag-{n}\"")).build())
        }
    });
    let complete = mock!(aws_sdk_s3::Client::complete_multipart_upload)
        .match_requests(|req| {
            let parts = req.multipart_upload().unwrap().parts();
            let numbers: Vec<i32> = parts.iter().map(|p| p.part_number().unwrap()).collect();
            req.upload_id() == Some("up-1")
                && numbers == vec![1, 2, 3]
                && parts.iter().all(|p| p.e_tag() == Some(&format!("\"etag-{}\"", p.part_number().unwrap())))
        })
        .then_output(|| CompleteMultipartUploadOutput::builder().build());
    let abort = mock!(aws_sdk_s3::Client::abort_multipart_upload)
        .match_requests(|req| req.upload_id() == Some("up-1"))
        .then_output(|| AbortMultipartUploadOutput::builder().build());
    [create, part, complete, abort]
}

/// 20 MiB go up as three parts of at most 8 MiB, completed with every part's ETag in order.
#[tokio::test]
async fn s3_large_objects_go_up_in_parts() {
    let [create, part, complete, abort] = multipart_rules(None);
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&create, &part, &complete, &abort]);
    let store = S3ObjectStore::new(client, "bucket", "");
    store.put("raw/big/part-0.csv", vec![7u8; 20 * 1024 * 1024]).await.unwrap();
    assert_eq!((create.num_calls(), part.num_calls(), complete.num_calls(), abort.num_calls()), (1, 3, 1, 0));
}

/// A failed part aborts the upload, so no half-object and no orphaned parts remain.
#[tokio::test]
async fn s3_a_failed_part_aborts_the_upload() {
    let [create, part, complete, abort] = multipart_rules(Some(2));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&create, &part, &complete, &abort], |c| c
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()));
    let store = S3ObjectStore::new(client, "bucket", "");
    let err = store.put("raw/big/part-0.csv", vec![7u8; 20 * 1024 * 1024]).await.unwrap_err();
    assert!(err.to_string().contains("raw/big/part-0.csv"), "{err}");
    assert_eq!((complete.num_calls(), abort.num_calls()), (0, 1));
}

/// The console's stream figures: one `GetMetricData` call naming the stream, both
/// consumer functions and the three queues as the template names them; each figure the
/// newest value of its query, and none where CloudWatch has none.
#[tokio::test]
async fn stream_figures_come_from_one_get_metric_data_call() {
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::types::{MetricDataResult, ScanBy};
    use tidemark_aws::stream_health::StreamHealth;
    let named = |q: &aws_sdk_cloudwatch::types::MetricDataQuery| {
        let stat = q.metric_stat().unwrap();
        let metric = stat.metric().unwrap();
        let dimension = &metric.dimensions()[0];
        format!(
            "{} {} {}={} {}",
            q.id().unwrap(),
            metric.metric_name().unwrap(),
            dimension.name().unwrap(),
            dimension.value().unwrap(),
            stat.stat().unwrap()
        )
    };
    let read = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(move |req| {
            let queries: Vec<String> = req.metric_data_queries().iter().map(named).collect();
            assert_eq!(
                queries,
                [
                    "incoming IncomingRecords StreamName=tidemark-events-dev Sum",
                    "age0 IteratorAge FunctionName=tidemark-stream-index-dev Maximum",
                    "errors0 Errors FunctionName=tidemark-stream-index-dev Sum",
                    "age1 IteratorAge FunctionName=tidemark-stream-store-dev Maximum",
                    "errors1 Errors FunctionName=tidemark-stream-store-dev Sum",
                    "depth0 ApproximateNumberOfMessagesVisible QueueName=tidemark-stream-index-dlq-dev Maximum",
                    "depth1 ApproximateNumberOfMessagesVisible QueueName=tidemark-stream-store-dlq-dev Maximum",
                    "depth2 ApproximateNumberOfMessagesVisible QueueName=tidemark-jobs-dlq-dev Maximum",
                ]
            );
            assert_eq!(req.scan_by(), Some(&ScanBy::TimestampDescending), "newest first");
            true
        })
        .then_output(|| {
            let result = |id: &str, values: &[f64]| {
                values.iter().fold(MetricDataResult::builder().id(id), |b, v| b.values(*v)).build()
            };
            GetMetricDataOutput::builder()
                .metric_data_results(result("incoming", &[1_200.0, 600.0]))
                .metric_data_results(result("age0", &[61_000.0, 1_000.0]))
                .metric_data_results(result("errors0", &[0.0]))
                .metric_data_results(result("age1", &[]))
                .metric_data_results(result("depth2", &[3.0]))
                .build()
        });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&read]);
    let health =
        StreamHealth::new(client, "tidemark-events-dev", "tidemark-{consumer}-dev", "tidemark-{queue}-dlq-dev");
    let figures = health.read(chrono::Utc::now()).await.unwrap();
    assert_eq!(figures.incoming_per_second, Some(20.0), "the newest minute's sum, per second");
    assert_eq!(figures.consumers["stream-index"].iterator_age_ms, Some(61_000.0));
    assert_eq!(figures.consumers["stream-index"].errors, Some(0.0));
    assert_eq!(figures.consumers["stream-store"].iterator_age_ms, None, "no value is not a zero");
    assert_eq!(figures.dead_letter_queues["jobs"].depth, Some(3.0));
    assert_eq!(figures.dead_letter_queues["stream-index"].depth, None);
    assert_eq!(figures.dead_letter_queues["jobs"].queue, "tidemark-jobs-dlq-dev");
}
