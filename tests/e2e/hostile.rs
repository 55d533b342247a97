//! Hostile input against the local stack, read as an attacker would send it.
//!
//! - Text that breaks SQL literals (quotes, backslashes, a statement after a quote,
//!   placeholders, control characters, multi-byte text at the byte limit) as event
//!   regions and order ids, and as batch rows: through ingest, load, reconcile and
//!   report-views on DuckDB it comes out byte for byte, and nothing else changes.
//! - Who may read: no token, a wrong token, a rebound Host.
//! - Bodies over the count and size limits, a client that never finishes its headers,
//!   more connections than allowed.
//! - `tidemark watermark reset` moves a watermark back and says so.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value as Json};
use tidemark::Stack;
use tidemark_core::batch::Value;
use tidemark_core::bucket::Interval;
use tidemark_core::contract::HOSTILE_TEXT;
use tidemark_core::ports::{Query, Step, Warehouse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, cents};
use tidemark_e2e::csv_field;

/// One order per hostile text: the text as its region, and (where it fits the 256-byte
/// limit with a prefix) in its order id.
struct Order {
    id: String,
    region: &'static str,
    at: DateTime<Utc>,
    cents: i64,
}

fn orders(day: DateTime<Utc>) -> Vec<Order> {
    (0..)
        .zip(HOSTILE_TEXT)
        .map(|(i, text)| Order {
            id: tidemark_e2e::hostile_order_id(i as usize, text),
            region: text,
            at: day + Duration::hours(i) + Duration::minutes(7),
            cents: 1_000 + i * 101,
        })
        .collect()
}

async fn rows(warehouse: &dyn Warehouse, sql: &str) -> Vec<Vec<Value>> {
    warehouse.query(&Query::new(sql)).await.unwrap().rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_comes_out_byte_for_byte_through_every_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    let day = Interval::Day.floor(Utc::now() - Duration::days(2));
    let orders = orders(day);
    let mut csv = String::from("order_id,region,amount_eur,ordered_at\n");
    for o in &orders {
        let at = o.at.format("%Y-%m-%d %H:%M:%S");
        csv.push_str(&format!(
            "{},{},{}.{:02},{at}\n",
            csv_field(&o.id),
            csv_field(o.region),
            o.cents / 100,
            o.cents % 100
        ));
    }
    std::fs::write(dir.path().join("orders.csv"), csv).unwrap();
    let mut config = support::config(&dir.path().join("data"));
    config.pipeline = Some(dir.path().join("tidemark.toml"));
    let stack = Stack::start(config).await.unwrap();
    let client = support::client();
    let env = stack.batch().unwrap();
    env.warehouse.execute(vec![Step::Sql("CREATE TABLE x (n INTEGER)".into())]).await.unwrap();

    // Real time misses the first order; the rest arrive as beacons.
    let events: Vec<Json> = orders[1..]
        .iter()
        .map(|o| {
            json!({"event_type": "purchase", "anonymous_id": "a", "order_id": o.id, "amount": o.cents as f64 / 100.0,
                   "currency": "EUR", "region": o.region, "occurred_at": o.at.to_rfc3339()})
        })
        .collect();
    let answer = support::post_batch(&client, stack.http_addr(), &events).await;
    assert_eq!(answer["accepted"], events.len(), "{answer}");
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();

    // Real time alone: every region comes back as sent.
    let url = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "http://{}/v1/reports/sales?interval=hour&by=region&from={}&to={}",
            stack.admin_addr(),
            from.format("%Y-%m-%dT%H:%M:%SZ"),
            to.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    // Per group over every hour of the answer.
    let groups = |report: &Json| -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for point in report["points"].as_array().unwrap() {
            for (group, value) in point["groups"].as_object().unwrap_or(&serde_json::Map::new()) {
                *out.entry(group.clone()).or_default() += cents(value.as_f64().unwrap());
            }
        }
        out
    };
    let hours = HOSTILE_TEXT.len() as i64;
    let want = |skip: usize| -> BTreeMap<String, i64> {
        orders[skip..].iter().map(|o| (o.region.to_owned(), o.cents)).collect()
    };
    let live: Json = client.get(url(day, day + Duration::hours(hours))).send().await.unwrap().json().await.unwrap();
    assert_eq!(groups(&live), want(1));

    // Batch: load, reconcile, refresh the views. Every hour with an order is batch now.
    env.extract(None).await.unwrap();
    let loaded = env.load(None).await.unwrap();
    assert_eq!(loaded.tables[0].rows_loaded, orders.len() as u64, "{loaded:?}");
    let reconciled = env.reconcile(stack.kv(), stack.layout(), None, Duration::days(7)).await.unwrap();
    assert_eq!(reconciled[0].missing_in_realtime, 1, "{reconciled:?}");
    env.refresh_views(stack.index()).await.unwrap();

    let batch: Json = client.get(url(day, day + Duration::hours(hours))).send().await.unwrap().json().await.unwrap();
    assert!(batch["points"].as_array().unwrap().iter().all(|p| p["side"] == "batch"), "{batch}");
    assert_eq!(groups(&batch), want(0), "batch rows keep every byte");

    let regions: BTreeSet<String> = HOSTILE_TEXT.iter().map(|t| (*t).to_owned()).collect();
    let stored = rows(&env.warehouse, "SELECT region, order_id FROM orders").await;
    let stored_regions: BTreeSet<String> = stored.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(stored_regions, regions);
    let results: Json = client
        .get(format!("http://{}/v1/reconciliation?report=sales&limit=100", stack.admin_addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checked: BTreeSet<String> =
        results["results"].as_array().unwrap().iter().map(|r| r["grp"].as_str().unwrap().to_owned()).collect();
    assert_eq!(checked, regions, "reconciliation groups keep every byte");
    let missed = results["results"].as_array().unwrap().iter().find(|r| r["missing_in_realtime"] == 1).unwrap();
    assert_eq!(missed["sample_keys"], format!("missing in real time: {}", orders[0].id));
    let view = rows(&env.warehouse, "SELECT DISTINCT grp FROM report_sales").await;
    let view_groups: BTreeSet<String> = view.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(view_groups, regions, "the BI view keeps every byte");
    assert_eq!(rows(&env.warehouse, "SELECT COUNT(*) FROM x").await, vec![vec![Value::Int(0)]], "table x is intact");
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_need_the_token_and_a_local_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.admin_tokens = vec!["admin-token-0123456789".into()];
    let stack = Stack::start(config).await.unwrap();
    let client = support::client();
    let stats = format!("http://{}/v1/stats", stack.admin_addr());
    assert_eq!(client.get(&stats).send().await.unwrap().status(), 401);
    let wrong = client.get(&stats).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client.get(&stats).bearer_auth("admin-token-0123456789").send().await.unwrap();
    assert_eq!(right.status(), 200);
    let rebound = client.get(&stats).bearer_auth("admin-token-0123456789").header("host", "evil.example").send();
    assert_eq!(rebound.await.unwrap().status(), 421);
    // The read routes are not on the ingest listener at all; health is on both.
    let on_ingest = client.get(format!("http://{}/v1/stats", stack.http_addr())).send().await.unwrap();
    assert_eq!(on_ingest.status(), 404);
    assert_eq!(client.get(format!("http://{}/healthz", stack.http_addr())).send().await.unwrap().status(), 200);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_slow_and_greedy_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.serve.header_timeout = StdDuration::from_millis(500);
    config.serve.max_connections = 8;
    let stack = Stack::start(config).await.unwrap();
    // No pooled connection may hold one of the eight slots when the limit is tested
    // below: an idle one closing at the wrong moment would let the ninth connection in.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let post = |body: String| {
        client
            .post(format!("http://{}/v1/events", stack.http_addr()))
            .header("x-tidemark-write-key", support::WRITE_KEY)
            .body(body)
            .send()
    };
    let over_count = format!("[{}]", vec![r#"{"event_type":"click","anonymous_id":"a"}"#; 501].join(","));
    let answer = post(over_count).await.unwrap();
    assert_eq!(answer.status(), 413);
    assert!(answer.text().await.unwrap().contains("more than 500 events"));
    let over_size = format!("[\"{}\"]", "x".repeat(1024 * 1024));
    // Refused from its Content-Length: the answer can beat the rest of the body, and
    // then the client sees the connection closed under its write instead of the 413.
    match post(over_size).await {
        Ok(answer) => assert_eq!(answer.status(), 413),
        Err(error) => assert!(format!("{error:?}").contains("BodyWrite"), "{error:?}"),
    }
    let one_huge_event =
        format!(r#"[{{"event_type":"click","anonymous_id":"a","properties":{{"p":"{}"}}}}]"#, "y".repeat(40_000));
    let answer: Json = post(one_huge_event).await.unwrap().json().await.unwrap();
    assert_eq!(answer["results"][0]["rule"], "oversize", "{answer}");

    // A client that never finishes its headers is cut off; others are served meanwhile.
    let mut slow = TcpStream::connect(stack.http_addr()).await.unwrap();
    slow.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert_eq!(client.get(format!("http://{}/healthz", stack.http_addr())).send().await.unwrap().status(), 200);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(StdDuration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow connection is closed by the server");

    // Past the connection limit: 503 with Retry-After, at once.
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(stack.http_addr()).await.unwrap());
    }
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    let mut extra = TcpStream::connect(stack.http_addr()).await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(StdDuration::from_secs(5), extra.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "the ninth connection is answered at once");
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("retry-after"), "{answer}");
    drop(held);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_can_be_reset_backwards() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    let day = Interval::Day.floor(Utc::now() - Duration::days(2));
    let at = (day + Duration::hours(20)).format("%Y-%m-%d %H:%M:%S");
    std::fs::write(dir.path().join("orders.csv"), format!("order_id,region,amount_eur,ordered_at\no1,EU,1.00,{at}\n"))
        .unwrap();
    let data = dir.path().join("data");
    {
        let env = tidemark::batch::BatchEnv::open(&dir.path().join("tidemark.toml"), &data).unwrap();
        env.extract(None).await.unwrap();
        env.load(None).await.unwrap();
    }
    let to = day + Duration::hours(6);
    tidemark::watermark::reset(&tidemark::watermark::ResetArgs {
        pipeline: dir.path().join("tidemark.toml"),
        data_dir: data.clone(),
        source: "orders".into(),
        table: None,
        to,
    })
    .await
    .unwrap();
    let env = tidemark::batch::BatchEnv::open(&dir.path().join("tidemark.toml"), &data).unwrap();
    let marks = env.warehouse.watermarks().await.unwrap();
    assert_eq!(marks[0].high_water, Some(to), "the watermark went back");
    drop(env);
    let unknown = tidemark::watermark::ResetArgs {
        pipeline: dir.path().join("tidemark.toml"),
        data_dir: data,
        source: "nope'; DROP TABLE orders; --".into(),
        table: None,
        to,
    };
    assert!(tidemark::watermark::reset(&unknown).await.unwrap_err().to_string().contains("is not a source"));
}
