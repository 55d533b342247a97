//! The real stream-index binary, started as Lambda starts `bootstrap`, on the runtime API
//! of `cargo lambda watch` and OpenSearch in osmem-server, invoked with the Kinesis event
//! file: the poison record is parked in the bucket (moto), the rest is searchable.
//! With `TIDEMARK_SAM_BUILD_DIR` set to a `sam build` output, the `bootstrap` SAM built
//! is started instead of the test build's binary (CI does both).
//! Ignored unless run with `--include-ignored`: it needs cargo-lambda, moto and osmem.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{OpenSearchIndex, SearchAuth};
use tidemark_core::ports::SearchIndex;
use tidemark_core::search::SearchRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn the_stream_index_binary_answers_a_kinesis_event_file() {
    let (osmem, moto, api) = (Emulator::osmem(), Emulator::moto(), Emulator::lambda_api());
    let clients = moto.clients().await;
    tidemark_aws::provision::bucket(&clients, "watch").await.unwrap();
    let mut function = api.function(
        &Emulator::function_binary("StreamIndexFunction", Path::new(env!("CARGO_BIN_EXE_stream-index"))),
        &[
            ("TIDEMARK_SEARCH_URL", osmem.url()),
            ("TIDEMARK_SEARCH_PREFIX", "watch-events".into()),
            ("TIDEMARK_AWS_ENDPOINT", moto.url()),
            ("TIDEMARK_BUCKET", "watch".into()),
        ],
    );
    let event: Value = serde_json::from_str(include_str!("fixtures/kinesis-batch.json")).unwrap();
    let http = reqwest::Client::new();
    let invoke = format!("{}/2015-03-31/functions/_/invocations", api.url());
    let started = Instant::now();
    let answer: Value = loop {
        assert!(function.running(), "stream-index exited at cold start");
        match http.post(&invoke).json(&event).send().await {
            Ok(answer) if answer.status() == 200 => break answer.json().await.unwrap(),
            _ if started.elapsed() < Duration::from_secs(60) => tokio::time::sleep(Duration::from_millis(250)).await,
            other => panic!("no answer from the function: {other:?}"),
        }
    };
    assert_eq!(answer, json!({"batchItemFailures": []}), "the poison record is parked, not retried");
    let bucket = tidemark_aws::S3ObjectStore::new(clients.s3.clone(), "watch", "");
    let parked = tidemark_core::ports::ObjectStore::list(&bucket, "dead-letters/stream-index/").await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(parked[0].ends_with("4959068695591296412763924561834571597800427100002.json"));
    let index = OpenSearchIndex::connect(&osmem.url(), SearchAuth::None, "watch-events").unwrap();
    let body = json!({"size": 0, "aggs": {"revenue": {"sum": {"field": "amount"}}}});
    let found = index.search(&SearchRequest::from_json(&body).unwrap()).await.unwrap();
    assert_eq!(found.total, 3, "e1 (twice in the batch), e2, e3");
}
