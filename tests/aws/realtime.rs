use std::collections::{BTreeMap, HashSet};
use std::future::IntoFuture;
use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{provision, AwsClients, DynamoKv, KinesisStream, OpenSearchIndex, SearchAuth};
use tidemark_core::bucket::{HourBucket, Interval};
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::{Ingestor, WriteKeys};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::merge::read_bucket;
use tidemark_core::ports::SearchIndex;
use tidemark_core::realtime::{Metric, RealtimeQuery};
use tidemark_core::validate::ValidationLimits;

const KEY: &str = "aws-test-key";

struct Sent {
    /// event_id -> (hour, region, amount) of every distinct valid event.
    events: BTreeMap<String, (DateTime<Utc>, String, Option<f64>)>,
}

/// 1,200 events over five past hours in 100-event batches, every tenth sent twice (a
/// client retry), plus bad events and pixels.
async fn send(base: &str, start: DateTime<Utc>) -> Sent {
    let http = reqwest::Client::new();
    let regions = ["EU", "US", "APAC"];
    let mut sent = Sent { events: BTreeMap::new() };
    let mut batch = Vec::new();
    for n in 0..1_200i64 {
        // Out of order on purpose: later events may arrive first.
        let at = start + Duration::seconds((n * 7_919) % (5 * 3_600));
        let region = regions[(n % 3) as usize];
        let id = format!("aws-{n}");
        let mut event = json!({
            "event_id": id, "event_type": "page_view", "anonymous_id": format!("a{}", n % 40),
            "occurred_at": at.to_rfc3339_opts(SecondsFormat::Millis, true), "region": region,
        });
        let amount = (n % 4 == 0).then_some((n % 97) as f64 + 0.5);
        if let Some(a) = amount {
            event["event_type"] = json!("purchase");
            event["order_id"] = json!(format!("o{n}"));
            event["amount"] = json!(a);
            event["currency"] = json!("EUR");
        }
        sent.events.insert(id, (at.duration_trunc(Duration::hours(1)).unwrap(), region.to_string(), amount));
        batch.push(event.clone());
        if n % 10 == 0 {
            batch.push(event);
        }
        if batch.len() >= 100 {
            batch.push(json!({"event_type": "teleport", "region": "EU"}));
            post(&http, base, std::mem::take(&mut batch)).await;
        }
    }
    post(&http, base, batch).await;
    for n in 0..20 {
        let at = (start + Duration::minutes(n)).to_rfc3339_opts(SecondsFormat::Millis, true);
        let url = format!(
            "{base}/v1/p.gif?wk={KEY}&event_type=page_view&event_id=px{n}&anonymous_id=p{n}&region=US&occurred_at={at}"
        );
        let answer = http.get(url).send().await.unwrap();
        let status = answer.status();
        assert_eq!(status, 200, "{:?}", answer.headers().get("x-tidemark-rejected"));
        sent.events.insert(format!("px{n}"), (start.duration_trunc(Duration::hours(1)).unwrap(), "US".into(), None));
    }
    sent
}

async fn post(http: &reqwest::Client, base: &str, batch: Vec<Value>) {
    let answer =
        http.post(format!("{base}/v1/events")).header("x-tidemark-write-key", KEY).json(&batch).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
}

/// Reads every record of the stream, shard by shard, into trigger payloads of at most
/// 500 records, shaped as the Lambda event source mapping delivers them.
async fn trigger_payloads(clients: &AwsClients, stream: &str) -> Vec<KinesisEvent> {
    let records = tidemark_aws::emulator::read_stream(clients, stream).await.unwrap();
    let mut by_shard: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (shard_id, r) in records {
        by_shard.entry(shard_id.clone()).or_default().push(json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r.partition_key(),
                "sequenceNumber": r.sequence_number(),
                "data": base64(r.data().as_ref()),
                "approximateArrivalTimestamp": 1_764_075_900.0,
            },
            "eventSource": "aws:kinesis",
            "eventID": format!("{shard_id}:{}", r.sequence_number()),
            "eventName": "aws:kinesis:record",
            "eventVersion": "1.0",
            "awsRegion": "us-east-1",
            "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"),
        }));
    }
    by_shard
        .values()
        .flat_map(|records| records.chunks(500))
        .map(|chunk| serde_json::from_value(json!({ "Records": chunk })).unwrap())
        .collect()
}

/// Record data as the Lambda service delivers it: base64 text.
fn base64(data: &[u8]) -> Value {
    let mut encoded = aws_lambda_events::encodings::Base64Data::default();
    encoded.0 = data.to_vec();
    serde_json::to_value(encoded).unwrap()
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn beacons_through_kinesis_into_opensearch_and_dynamodb() {
    let (moto, osmem) = (Emulator::moto(), Emulator::osmem());
    let clients = moto.clients().await;
    provision::stream(&clients, "events").await.unwrap();
    provision::kv_table(&clients, "events").await.unwrap();
    let index = OpenSearchIndex::connect(&osmem.url(), SearchAuth::None, "tidemark-events").unwrap();
    index.ensure_template().await.unwrap();
    let kv = DynamoKv::new(clients.dynamodb.clone(), "events");
    let layout = KvLayout::default();
    provision::bucket(&clients, "parking").await.unwrap();
    let parking = tidemark_aws::S3ObjectStore::new(clients.s3.clone(), "parking", "");

    // beacon-ingest's router on Kinesis, served on loopback.
    let stream = KinesisStream::new(clients.kinesis.clone(), "events");
    let keys = WriteKeys::new([(KEY.to_string(), "web".to_string())]).unwrap();
    let ingestor = Ingestor::new(Arc::new(stream), keys, ValidationLimits::default(), Arc::new(SystemClock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, tidemark_beacon_ingest::router(Arc::new(ingestor))).into_future());

    let start = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(6);
    let sent = send(&base, start).await;
    server.abort();

    // The consumers, as Lambda would run them; then a full redelivery.
    let payloads = trigger_payloads(&clients, "events").await;
    let delivered: usize = payloads.iter().map(|p| p.records.len()).sum();
    assert_eq!(delivered, sent.events.len() + 120, "every accepted event, client retries included, is in the stream");
    for round in 0..2 {
        for payload in &payloads {
            let indexed = tidemark_stream_index::handle(payload.clone(), &index, &parking, &SystemClock).await;
            assert!(indexed.batch_item_failures.is_empty(), "round {round}: index failures");
            let stored = tidemark_stream_store::handle(payload.clone(), &kv, &layout, &parking, &SystemClock).await;
            assert!(stored.batch_item_failures.is_empty(), "round {round}: store failures");
        }
    }
    assert!(
        tidemark_core::ports::ObjectStore::list(&parking, "dead-letters/").await.unwrap().is_empty(),
        "nothing parked"
    );

    // OpenSearch: revenue per hour per region, and the count, exactly as sent.
    let query = RealtimeQuery {
        metric: Metric::Revenue,
        by: Some("region".into()),
        interval: Interval::Hour,
        from: start,
        to: start + Duration::hours(6),
    };
    let series = query.series(&index.search(&query.search_request()).await.unwrap()).unwrap();
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (hour, region, amount) in sent.events.values() {
        if let Some(a) = amount {
            *expected.entry((hour.to_rfc3339_opts(SecondsFormat::Millis, true), region.clone())).or_default() += a;
        }
    }
    let mut got: BTreeMap<(String, String), f64> = BTreeMap::new();
    for point in &series.points {
        for (region, value) in &point.groups {
            if *value != 0.0 {
                got.insert((point.start.clone(), region.clone()), *value);
            }
        }
    }
    assert_eq!(got.len(), expected.len());
    for (k, v) in &expected {
        assert!((got[k] - v).abs() < 1e-6, "{k:?}: {} != {v}", got[k]);
    }
    let all = tidemark_core::search::SearchRequest::from_json(&json!({"size": 0})).unwrap();
    assert_eq!(index.search(&all).await.unwrap().total as usize, sent.events.len());

    // DynamoDB: each hour's bucket holds exactly that hour's distinct events, in time order.
    let hours: HashSet<DateTime<Utc>> = sent.events.values().map(|(h, _, _)| *h).collect();
    for hour in hours {
        let items = read_bucket(&kv, &layout, HourBucket::of(hour)).await.unwrap();
        let expected = sent.events.values().filter(|(h, _, _)| *h == hour).count();
        assert_eq!(items.len(), expected, "bucket {hour}");
        assert!(items.windows(2).all(|w| w[0].key.sk <= w[1].key.sk));
    }
}
