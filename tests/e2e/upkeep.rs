//! Keeping the local stack in shape: retention with an injected clock (every store
//! shrinks as configured, nothing a consumer has not finished goes), dead letters
//! listed, shown and redriven over HTTP, and health that tells the truth while the disk
//! is at its high-water mark (ingest answers 503 before a store fails).

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tidemark::consumers::{STREAM_INDEX, STREAM_STORE};
use tidemark::retention::{self, Retention, Stores};
use tidemark::Stack;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::event::Event;
use tidemark_core::ports::stream::{EventStream, StreamRecordIn};
use tidemark_core::ports::KvStore;

use crate::support::{self, client, post_batch};

fn event(id: &str, at: chrono::DateTime<Utc>) -> Value {
    json!({"event_id": id, "event_type": "page_view", "anonymous_id": "a", "region": "EU",
           "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
}

fn stores(stack: &Stack, dir: &std::path::Path) -> Stores {
    Stores {
        log: stack.log().clone(),
        kv: stack.kv().clone(),
        index: stack.index().clone(),
        layout: stack.layout().clone(),
        interim: tidemark_local::DirObjectStore::new(dir.join("interim")),
    }
}

async fn kv_items(stack: &Stack) -> usize {
    let mut count = 0;
    for hours_back in 0..24 * 8 {
        let bucket = tidemark_core::bucket::HourBucket::of(Utc::now() - Duration::hours(hours_back));
        for pk in stack.layout().partitions(bucket) {
            count += stack.kv().query_partition(&pk).await.unwrap().len();
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_shrinks_every_store_but_never_what_a_consumer_still_needs() {
    let dir = tempfile::tempdir().unwrap();
    let stack = support::start(dir.path()).await;
    let client = client();
    let now = Utc::now();
    let old: Vec<Value> = (0..30).map(|n| event(&format!("old-{n}"), now - Duration::days(6))).collect();
    let new: Vec<Value> = (0..20).map(|n| event(&format!("new-{n}"), now - Duration::minutes(5))).collect();
    post_batch(&client, stack.http_addr(), &old).await;
    post_batch(&client, stack.http_addr(), &new).await;
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();
    assert_eq!((stack.index().num_docs(), kv_items(&stack).await), (50, 50));

    // A day later, with events kept eight days: no event is old enough yet.
    let keep = Retention {
        log: Duration::hours(1),
        events: Duration::days(8),
        dead_letters: Duration::days(1),
        raw: RawRetention::default(),
    };
    let removed = retention::apply(&stores(&stack, dir.path()), keep, now + Duration::days(1)).await.unwrap();
    assert_eq!((removed.kv_items, removed.index_documents), (0, 0));
    let shards = stack.log().shard_count() as u64;
    assert_eq!(removed.log_records, 50 - shards.min(50), "the log keeps only each shard's newest record");

    // Three days on, the six-day-old events are past eight days and expire from the
    // key-value store and the index; the recent ones stay.
    let removed = retention::apply(&stores(&stack, dir.path()), keep, now + Duration::days(3)).await.unwrap();
    assert_eq!((removed.kv_items, removed.index_documents), (30 * 2, 30), "events and their markers");
    assert_eq!((stack.index().num_docs(), kv_items(&stack).await), (20, 20));
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_keeps_what_consumers_have_not_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.run_consumers = false;
    let stack = tidemark::Stack::start(config).await.unwrap();
    let events: Vec<Value> = (0..10).map(|n| event(&format!("e{n}"), Utc::now())).collect();
    post_batch(&client(), stack.http_addr(), &events).await;
    let far = Retention {
        log: Duration::hours(1),
        events: Duration::days(2),
        dead_letters: Duration::days(1),
        raw: RawRetention::default(),
    };
    let removed = retention::apply(&stores(&stack, dir.path()), far, Utc::now() + Duration::days(30)).await.unwrap();
    assert_eq!(removed.log_records, 0, "no consumer has read anything: nothing is trimmed");
    let records: usize =
        (0..stack.log().shard_count()).map(|s| stack.log().read(s, None, usize::MAX).unwrap().len()).sum();
    assert_eq!(records, 10);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_and_redriven_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let stack = support::start(dir.path()).await;
    let client = client();
    stack
        .log()
        .put_records(vec![StreamRecordIn { partition_key: "poison".into(), data: b"{\"not\": \"an event\"}".to_vec() }])
        .await
        .unwrap();
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();
    let base = format!("http://{}/v1/dead-letters", stack.admin_addr());
    let listed: Value = client.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["consumers"][STREAM_INDEX]["count"], 1, "{listed}");
    let sequence = listed["consumers"][STREAM_INDEX]["letters"][0]["sequence_number"].as_str().unwrap().to_owned();
    let shown: Value =
        client.get(format!("{base}/{STREAM_INDEX}/{sequence}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["payload"], json!({"not": "an event"}));
    assert!(shown["reason"].as_str().unwrap().contains("not an event"));
    let stats: Value =
        client.get(format!("http://{}/v1/stats", stack.admin_addr())).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["index"]["consumer"]["dead_letters"], 1, "a dead letter is never silent");

    // A poison record fails again and stays; a good one parked by an outage goes through.
    let again: Value =
        client.post(format!("{base}/{STREAM_INDEX}/redrive")).send().await.unwrap().json().await.unwrap();
    assert_eq!((again["redriven"].as_u64(), again["still_failing"].as_array().map(Vec::len)), (Some(0), Some(1)));
    let good = Event::from_record_bytes(
        &serde_json::to_vec(&json!({
        "event_id": "parked-good", "event_type": "page_view", "occurred_at": Utc::now().to_rfc3339(),
        "received_at": Utc::now().to_rfc3339(), "source": "web", "region": "EU", "anonymous_id": "a"}))
        .unwrap(),
    )
    .unwrap();
    stack.log().park(STREAM_STORE, 0, 999_999, &good.to_record_bytes(), "key-value store unavailable").unwrap();
    let sequence = tidemark_local::event_log::sequence_number(0, 999_999);
    let url = format!("{base}/{STREAM_STORE}/redrive?sequence={sequence}");
    let answer = client.post(url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["redriven"], 1, "{answer}");
    assert!(stack.log().dead_letters(STREAM_STORE).unwrap().iter().all(|l| l.seq != 999_999), "left the list");
    let unknown = client.post(format!("{base}/nobody/redrive")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_ingest_and_health_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.disk_min_free = u64::MAX;
    let stack = tidemark::Stack::start(config).await.unwrap();
    let client = client();
    let answer = client
        .post(format!("http://{}/v1/events", stack.http_addr()))
        .header("x-tidemark-write-key", support::WRITE_KEY)
        .json(&event("e1", Utc::now()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    assert!(answer.text().await.unwrap().contains("disk nearly full"));
    for addr in [stack.http_addr(), stack.admin_addr()] {
        let health = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 503);
        let body: Value = health.json().await.unwrap();
        assert!(body["reasons"][0].as_str().unwrap().contains("disk nearly full"), "{body}");
    }
    stack.shutdown().await.unwrap();

    let other_dir = tempfile::tempdir().unwrap();
    let healthy = support::start(other_dir.path()).await;
    let body: Value =
        client.get(format!("http://{}/healthz", healthy.http_addr())).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    healthy.shutdown().await.unwrap();
}
