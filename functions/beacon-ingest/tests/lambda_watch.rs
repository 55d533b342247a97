//! The real beacon-ingest binary, started as Lambda starts `bootstrap`, on the runtime API
//! of `cargo lambda watch` and a Kinesis stream in moto: events, a bad event, a wrong key
//! and a pixel over HTTP through the function-URL emulation, then the stream read back.
//! With `TIDEMARK_SAM_BUILD_DIR` set to a `sam build` output, the `bootstrap` SAM built
//! is started instead of the test build's binary (CI does both).
//! Ignored unless run with `--include-ignored`: it needs cargo-lambda and moto.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::provision;

const KEY: &str = "lambda-watch-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn the_beacon_binary_takes_events_over_http_into_kinesis() {
    let (moto, api) = (Emulator::moto(), Emulator::lambda_api());
    let clients = moto.clients().await;
    provision::stream(&clients, "beacons").await.unwrap();
    let mut function = api.function(
        &Emulator::function_binary("BeaconIngestFunction", Path::new(env!("CARGO_BIN_EXE_beacon-ingest"))),
        &[
            ("TIDEMARK_AWS_ENDPOINT", moto.url()),
            ("TIDEMARK_STREAM_NAME", "beacons".into()),
            ("TIDEMARK_WRITE_KEYS", format!("{KEY}=web")),
        ],
    );
    let http = reqwest::Client::new();
    let base = format!("{}/lambda-url/_", api.url());
    let batch = json!([
        {"event_id": "lw-1", "event_type": "purchase", "anonymous_id": "a1", "order_id": "o1",
         "amount": 12.5, "currency": "EUR", "region": "EU"},
        {"event_type": "teleport", "region": "EU"},
    ]);

    // The first invocation waits for the cold start.
    let started = Instant::now();
    let answer = loop {
        assert!(function.running(), "beacon-ingest exited at cold start");
        let sent = http.post(format!("{base}/v1/events")).header("x-tidemark-write-key", KEY).json(&batch).send().await;
        match sent {
            Ok(answer) if answer.status() != 502 && answer.status() != 504 => break answer,
            _ if started.elapsed() < Duration::from_secs(60) => tokio::time::sleep(Duration::from_millis(250)).await,
            other => panic!("no answer from the function: {other:?}"),
        }
    };
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!((body["accepted"].as_u64(), body["rejected"].as_u64()), (Some(1), Some(1)), "{body}");
    assert_eq!(body["results"][1]["field"], "event_type", "{body}");

    let wrong = http.post(format!("{base}/v1/events")).header("x-tidemark-write-key", "nope").json(&batch).send();
    assert_eq!(wrong.await.unwrap().status(), 401);

    let pixel = http
        .get(format!("{base}/v1/p.gif?wk={KEY}&event_type=page_view&event_id=lw-px&anonymous_id=a2&region=US"))
        .send()
        .await
        .unwrap();
    assert_eq!(pixel.status(), 200);
    assert_eq!(pixel.headers()["content-type"], "image/gif");
    assert!(pixel.headers()["cache-control"].to_str().unwrap().starts_with("no-store"));
    assert!(pixel.bytes().await.unwrap().starts_with(b"GIF89a"));

    // Exactly the two accepted events are in the stream.
    let records = tidemark_aws::emulator::read_stream(&clients, "beacons").await.unwrap();
    let mut ids: Vec<String> = records
        .iter()
        .map(|(_, r)| {
            serde_json::from_slice::<Value>(r.data().as_ref()).unwrap()["event_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["lw-1", "lw-px"]);
}
