//! The console's AWS side on the emulators: a record a consumer function parked, listed
//! with its payload and redriven onto the Kinesis stream; a failed CloudWatch read
//! answered as one; the settings shown without a secret.

use std::sync::Arc;

use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::settings::Settings;
use tidemark_aws::{dead_letters, provision, KinesisStream, S3ObjectStore};
use tidemark_core::clock::SystemClock;
use tidemark_core::consume::{BatchOutcome, RecordFailure, StreamRecord};
use tidemark_report::on_aws::{self, AwsConsole};

const POISON: &[u8] = b"{\"event_type\": \"page_view\", \"nested\": {\"too\": \"deep\"}}";

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn dead_letters_redrive_and_settings_on_aws() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::stream(&clients, "console-events").await.unwrap();
    provision::bucket(&clients, "console-interim").await.unwrap();
    let interim = Arc::new(S3ObjectStore::new(clients.s3.clone(), "console-interim", ""));
    let settings = Settings::from_vars(|var| match var {
        "TIDEMARK_STREAM_NAME" => Some("console-events".into()),
        "TIDEMARK_CONSUMER_FUNCTIONS" => Some("tidemark-{consumer}-test".into()),
        "TIDEMARK_DEAD_LETTER_QUEUES" => Some("tidemark-{queue}-dlq-test".into()),
        "TIDEMARK_ADMIN_TOKENS_SECRET" => Some("tidemark-admin-tokens-test".into()),
        _ => None,
    })
    .unwrap();
    let console = AwsConsole {
        interim: interim.clone(),
        stream: Arc::new(KinesisStream::new(clients.kinesis.clone(), "console-events")),
        health: settings.stream_health(&clients),
        settings: Arc::new(settings.view()),
        clock: Arc::new(SystemClock),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, on_aws::router(console)).await.unwrap() });
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{base}{path}"));
        async move {
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.json::<Value>().await.unwrap())
        }
    };

    // moto does not answer the SDK's CloudWatch protocol (RPC v2 CBOR): the figures are
    // checked on the SDK's mocks (`shared/aws/tests/mocks.rs`); here, that a failed read
    // is answered as such, naming the service, not as an empty panel.
    let (status, stats) = get("/v1/stats").await;
    assert_eq!(status, 503, "{stats}");
    assert!(stats["error"].as_str().unwrap().starts_with("CloudWatch"), "{stats}");

    // A record the index refused, parked by the consumer function as it parks them.
    let record =
        StreamRecord { shard_id: "shardId-000000000000".into(), sequence_number: "4960".into(), data: POISON.into() };
    let outcome = BatchOutcome {
        failures: vec![RecordFailure {
            sequence_number: "4960".into(),
            retryable: false,
            reason: "mapper_parsing_exception".into(),
        }],
        ..BatchOutcome::default()
    };
    dead_letters::settle("stream-index", &[record], outcome, interim.as_ref(), &SystemClock).await;
    let (status, listed) = get("/v1/dead-letters").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["consumers"]["stream-index"]["count"], 1);
    assert_eq!(listed["consumers"]["stream-store"]["count"], 0);
    let letter = &listed["consumers"]["stream-index"]["letters"][0];
    assert_eq!(
        (letter["sequence_number"].as_str(), letter["reason"].as_str()),
        (Some("4960"), Some("mapper_parsing_exception"))
    );
    let (status, shown) = get("/v1/dead-letters/stream-index/4960").await;
    assert_eq!(status, 200);
    assert_eq!(shown["payload"]["nested"], json!({"too": "deep"}));
    assert_eq!(get("/v1/dead-letters/stream-index/1").await.0, 404);
    assert_eq!(get("/v1/dead-letters/no-such-consumer/4960").await.0, 404);

    // Redrive: the record is back on the stream, byte for byte, and leaves the list.
    let redrive = http.post(format!("{base}/v1/dead-letters/stream-index/redrive")).send().await.unwrap();
    assert_eq!(redrive.status(), 200);
    let answer: Value = redrive.json().await.unwrap();
    assert_eq!((answer["redriven"].as_u64(), answer["still_failing"].as_array().map(Vec::len)), (Some(1), Some(0)));
    let on_stream = tidemark_aws::emulator::read_stream(&clients, "console-events").await.unwrap();
    assert_eq!(on_stream.len(), 1);
    assert_eq!(on_stream[0].1.data().as_ref(), POISON);
    assert_eq!(
        on_stream[0].1.sequence_number(),
        answer["back_on_the_stream"][0]["new_sequence_number"].as_str().unwrap()
    );
    assert_eq!(get("/v1/dead-letters").await.1["consumers"]["stream-index"]["count"], 0);
    let again = http.post(format!("{base}/v1/dead-letters/stream-index/redrive")).send().await.unwrap();
    assert_eq!(again.status(), 404, "nothing left to redrive");

    let (status, shown) = get("/v1/settings").await;
    assert_eq!(status, 200);
    assert_eq!((shown["deployment"].as_str(), shown["stream"]["name"].as_str()), (Some("aws"), Some("console-events")));
    assert_eq!(shown["admin_tokens_secret"], "tidemark-admin-tokens-test", "the secret by name");
}
