//! The real-time path end to end: HTTP batches and UDP datagrams with duplicates, bad
//! events and out-of-order times → stream → index + KV, exact per-bucket totals, then
//! a restart and a full replay that change nothing.

use crate::support::*;
use chrono::{Duration, Utc};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;
use tidemark::Stack;
use tidemark_core::bucket::{HourBucket, Interval};
use tidemark_core::event::Event;
use tidemark_core::merge::read_bucket;
use tidemark_core::ports::SearchIndex;
use tidemark_core::realtime::{Metric, RealtimeQuery};
use tidemark_local::runner::ConsumerStats;

const HTTP_EVENTS: u64 = 3_000;
const UDP_EVENTS: u64 = 1_000;

async fn index_totals(stack: &Stack, from: chrono::DateTime<Utc>) -> Totals {
    let mut totals = Totals::new();
    for metric in [Metric::Events, Metric::Orders, Metric::Revenue] {
        let query = RealtimeQuery {
            metric,
            by: Some("region".into()),
            interval: Interval::Hour,
            from,
            to: from + Duration::hours(4),
        };
        let response = stack.index().search(&query.search_request()).await.unwrap();
        for point in query.series(&response).unwrap().points {
            let hour: HourBucket =
                HourBucket::of(chrono::DateTime::parse_from_rfc3339(&point.start).unwrap().with_timezone(&Utc));
            for (region, value) in point.groups {
                let entry = totals.entry((hour, region)).or_default();
                match metric {
                    Metric::Events => entry.0 = value as u64,
                    Metric::Orders => entry.1 = value as u64,
                    _ => entry.2 = cents(value),
                }
            }
        }
    }
    totals
}

async fn kv_totals(stack: &Stack, from: chrono::DateTime<Utc>) -> Totals {
    let mut totals = Totals::new();
    let mut bucket = HourBucket::of(from);
    for _ in 0..4 {
        let items = read_bucket(stack.kv(), stack.layout(), bucket).await.unwrap();
        assert!(items.windows(2).all(|pair| pair[0].key.sk <= pair[1].key.sk), "bucket {bucket} is in time order");
        for item in items {
            let event = Event::from_record_bytes(&item.value).unwrap();
            assert!(bucket.contains(event.occurred_at), "event {} is in its own bucket", event.event_id);
            let entry = totals.entry((bucket, event.region.clone())).or_default();
            entry.0 += 1;
            if let Some(amount) = event.amount {
                entry.1 += 1;
                entry.2 += cents(amount);
            }
        }
        bucket = bucket.next();
    }
    totals
}

async fn assert_totals(stack: &Stack, from: chrono::DateTime<Utc>, expected: &Totals) {
    stack.wait_until_caught_up(StdDuration::from_secs(60)).await.unwrap();
    assert_eq!(&index_totals(stack, from).await, expected, "search index totals per hour and region");
    assert_eq!(&kv_totals(stack, from).await, expected, "key-value totals per hour and region");
    let unique: u64 = expected.values().map(|totals| totals.0).sum();
    assert_eq!(stack.index().num_docs(), unique, "one document per event_id");
}

/// Sends every datagram as fast as the socket takes them (no pacing: the receiver must
/// keep up), then waits until each has been handled one way or another.
async fn send_udp(stack: &Stack, datagrams: &[Vec<u8>]) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = stack.udp_addr().unwrap();
    let counters = stack.udp_counters();
    let handled = || counters.handled();
    let before = handled();
    for datagram in datagrams {
        socket.send_to(datagram, target).await.unwrap();
    }
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    while handled() < before + datagrams.len() as u64 {
        let drops = counters.kernel_drops();
        assert!(std::time::Instant::now() < deadline, "udp datagrams not all handled; kernel drops {drops:?}");
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    assert_eq!(counters.kernel_drops(), Some(0), "the kernel dropped nothing");
    assert_eq!(counters.shed.load(Ordering::Relaxed), 0, "nothing was shed");
}

fn consumer_counts(stats: &ConsumerStats) -> (u64, u64, u64) {
    (
        stats.written.load(Ordering::Relaxed),
        stats.duplicates.load(Ordering::Relaxed),
        stats.dead_lettered.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_udp_events_land_exactly_once_and_survive_restart_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(dir.path()).await;
    let base = Interval::Hour.floor(Utc::now()) - Duration::hours(3);
    let client = client();
    let mut expected = Totals::new();

    // HTTP: 30 batches of 100 good events, each with 10 bad ones mixed in.
    let good: Vec<Value> = (0..HTTP_EVENTS).map(|n| good_event("h", n, base)).collect();
    for event in &good {
        add_to_totals(&mut expected, event);
    }
    let mut bad_number = 0;
    for chunk in good.chunks(100) {
        let mut batch: Vec<Value> = Vec::new();
        for (position, event) in chunk.iter().enumerate() {
            batch.push(event.clone());
            if position % 10 == 9 {
                batch.push(bad_event(bad_number, base));
                bad_number += 1;
            }
        }
        let report = post_batch(&client, stack.http_addr(), &batch[..batch.len().min(500)]).await;
        assert_eq!(report["accepted"], 100);
        assert_eq!(report["rejected"], 10);
        for (result, sent) in report["results"].as_array().unwrap().iter().zip(&batch) {
            if result["status"] == "accepted" {
                assert_eq!(result["event_id"], sent["event_id"], "results keep request order");
            } else {
                assert!(result["field"].is_string() && result["rule"].is_string(), "a rejection names field and rule");
            }
        }
    }
    // Duplicate deliveries: three whole batches again, reversed (out of order too).
    let mut again: Vec<Value> = good[..300].to_vec();
    again.reverse();
    for chunk in again.chunks(100) {
        assert_eq!(post_batch(&client, stack.http_addr(), chunk).await["accepted"], 100);
    }

    // UDP: 1000 new events, 100 duplicates of HTTP ones, 50 broken, 20 with a wrong key.
    let mut datagrams = Vec::new();
    for n in 0..UDP_EVENTS {
        let mut event = good_event("u", n, base);
        add_to_totals(&mut expected, &event);
        event["wk"] = WRITE_KEY.into();
        datagrams.push(serde_json::to_vec(&event).unwrap());
    }
    for event in &good[1000..1100] {
        let mut duplicate = event.clone();
        duplicate["wk"] = WRITE_KEY.into();
        datagrams.push(serde_json::to_vec(&duplicate).unwrap());
    }
    for n in 0..50 {
        datagrams.push(format!("{{not json {n}").into_bytes());
    }
    for n in 0..20u64 {
        let mut event = good_event("x", n, base);
        event["wk"] = "wrong-key-123".into();
        datagrams.push(serde_json::to_vec(&event).unwrap());
    }
    send_udp(&stack, &datagrams).await;
    assert_eq!(stack.udp_counters().accepted.load(Ordering::Relaxed), 1_100);
    assert_eq!(stack.udp_counters().rejected.load(Ordering::Relaxed), 50);
    assert_eq!(stack.udp_counters().unauthorized.load(Ordering::Relaxed), 20);

    let counters = stack.ingestor().counters();
    assert_eq!(counters.accepted.load(Ordering::Relaxed), HTTP_EVENTS + 300 + 1_100);
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 300);

    assert_totals(&stack, base, &expected).await;
    let unique = HTTP_EVENTS + UDP_EVENTS;
    assert_eq!(
        consumer_counts(stack.consumer_stats()[1]),
        (unique, 400, 0),
        "KV: stored, duplicates absorbed, dead letters"
    );

    // The live HTTP answer agrees with the index.
    let url = format!(
        "http://{}/v1/realtime?metric=revenue&by=region&interval=1h&from={}&to={}",
        stack.admin_addr(),
        base.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (base + Duration::hours(4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let live: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    let expected_revenue: i64 = expected.values().map(|totals| totals.2).sum();
    assert_eq!(cents(live["total"].as_f64().unwrap()), expected_revenue);
    let stats: Value =
        client.get(format!("http://{}/v1/stats", stack.admin_addr())).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["index"]["documents"], unique);
    let commits = &stats["stream"]["group_commits"];
    assert_eq!(commits["records"], HTTP_EVENTS + 300 + 1_100, "one log record per accepted event, duplicates too");
    assert!(commits["groups"].as_u64().unwrap() <= commits["requests"].as_u64().unwrap());
    assert!(commits["mean_commit_micros"].as_f64().unwrap() > 0.0, "every group is synced, which takes time");
    assert!(stats["stream"]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|shard| shard["consumers"]["stream-index"]["lag"] == 0));

    // Restart: everything is still there, nothing changed.
    stack.shutdown().await.unwrap();
    let stack = start(dir.path()).await;
    assert_totals(&stack, base, &expected).await;

    // Replay the whole log into both consumers: idempotent writes change nothing.
    for shard in 0..stack.log().shard_count() {
        stack.log().reset_checkpoint(tidemark::consumers::STREAM_INDEX, shard).unwrap();
        stack.log().reset_checkpoint(tidemark::consumers::STREAM_STORE, shard).unwrap();
    }
    assert_totals(&stack, base, &expected).await;
    let replayed = HTTP_EVENTS + 300 + 1_100;
    assert_eq!(consumer_counts(stack.consumer_stats()[1]), (0, replayed, 0), "a replay only meets duplicates");
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_are_dead_lettered_and_the_rest_goes_through() {
    use tidemark_core::ports::stream::{EventStream, StreamRecordIn};
    let dir = tempfile::tempdir().unwrap();
    let stack = start(dir.path()).await;
    let base = Interval::Hour.floor(Utc::now()) - Duration::hours(1);
    let good = Event::from_record_bytes(
        &serde_json::to_vec(&serde_json::json!({
            "event_id": "fine-1", "event_type": "page_view", "occurred_at": base.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "received_at": base.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "source": "web", "region": "EU",
            "anonymous_id": "a"
        }))
        .unwrap(),
    )
    .unwrap();
    stack
        .log()
        .put_records(vec![
            StreamRecordIn { partition_key: "poison".into(), data: b"\xff not an event".to_vec() },
            StreamRecordIn { partition_key: "fine-1".into(), data: good.to_record_bytes() },
        ])
        .await
        .unwrap();
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();
    assert_eq!(stack.index().num_docs(), 1);
    for consumer in [tidemark::consumers::STREAM_INDEX, tidemark::consumers::STREAM_STORE] {
        let parked = stack.log().dead_letters(consumer).unwrap();
        assert_eq!(parked.len(), 1, "{consumer} parked the poison record");
        assert!(parked[0].reason.contains("not an event"));
        assert_eq!(parked[0].data, b"\xff not an event".to_vec(), "parked bytes are kept as they were");
    }
    stack.shutdown().await.unwrap();
}
