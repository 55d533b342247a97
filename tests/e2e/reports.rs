//! Merged reports at the tidemark and reconciliation, end to end on the local stack:
//! purchases for hours 0–23 of a day over HTTP, batch orders for hours 0–11, then
//! 12–17; the report switches sides as the watermark moves, and reconciliation finds
//! exactly the events this test kept from the real-time side and the orders it kept
//! out of batch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tidemark::Stack;
use tidemark_core::bucket::Interval;

use crate::support::{self, cents, REGIONS};

const PIPELINE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "orders.csv"

[[table]]
name       = "orders"
source     = "orders"
key        = ["order_id"]
event_time = "ordered_at"
load       = "merge"
columns = [
  { name = "order_id",   type = "varchar" },
  { name = "region",     type = "varchar" },
  { name = "amount_eur", type = "decimal(12,2)" },
  { name = "status",     type = "varchar" },
  { name = "ordered_at", type = "timestamp" },
]

[[report]]
name    = "sales_by_region"
title   = "Sales volume by region"
unit    = "EUR"
noun    = "orders"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", key = "order_id", filter = "status <> 'cancelled'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", filter = { currency = "EUR" }, by = { region = "region" } }
"#;

/// One order of the test day.
#[derive(Clone)]
struct Order {
    id: u32,
    hour: u32,
    at: DateTime<Utc>,
    region: &'static str,
    cents: i64,
    cancelled: bool,
}

impl Order {
    /// Kept from the real-time side (a blocked beacon).
    fn dropped_from_realtime(&self) -> bool {
        self.id.is_multiple_of(17)
    }

    /// Kept out of the batch export.
    fn left_out_of_batch(&self) -> bool {
        self.id % 13 == 5
    }
}

fn orders(day: DateTime<Utc>) -> Vec<Order> {
    let mut out = Vec::new();
    for hour in 0..24u32 {
        for i in 0..6u32 {
            let id = 1000 + hour * 100 + i;
            out.push(Order {
                id,
                hour,
                at: day + Duration::hours(hour.into()) + Duration::minutes((i * 9).into()) + Duration::seconds(13),
                region: REGIONS[((hour + i) % 3) as usize],
                cents: 1000 + i64::from(hour) * 37 + i64::from(i) * 113,
                cancelled: id == 1207,
            });
        }
    }
    out
}

fn csv_rows(orders: &[Order], hours: std::ops::Range<u32>) -> String {
    orders
        .iter()
        .filter(|o| hours.contains(&o.hour) && !o.left_out_of_batch())
        .map(|o| {
            format!(
                "{},{},{}.{:02},{},{}\n",
                o.id,
                o.region,
                o.cents / 100,
                o.cents % 100,
                if o.cancelled { "cancelled" } else { "paid" },
                o.at.format("%Y-%m-%d %H:%M:%S")
            )
        })
        .collect()
}

/// Per hour: (total cents, cents per region) of the orders `keep` selects.
fn expected(orders: &[Order], keep: impl Fn(&Order) -> bool) -> BTreeMap<u32, (i64, BTreeMap<&'static str, i64>)> {
    let mut out: BTreeMap<u32, (i64, BTreeMap<&'static str, i64>)> = BTreeMap::new();
    for o in orders.iter().filter(|o| keep(o)) {
        let entry = out.entry(o.hour).or_default();
        entry.0 += o.cents;
        *entry.1.entry(o.region).or_default() += o.cents;
    }
    out
}

async fn report(client: &reqwest::Client, stack: &Stack, query: &str) -> Value {
    let response =
        client.get(format!("http://{}/v1/reports/sales_by_region?{query}", stack.admin_addr())).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn batch_run(stack: &Stack) {
    let env = stack.batch().unwrap();
    env.extract(None).await.unwrap();
    env.load(None).await.unwrap();
}

/// Asserts every hour: batch hours carry batch numbers, the others real-time ones.
fn assert_hours(report: &Value, orders: &[Order], batch_hours: u32) {
    let batch = expected(orders, |o| !o.left_out_of_batch() && !o.cancelled);
    let realtime = expected(orders, |o| !o.dropped_from_realtime());
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    for (hour, point) in (0u32..).zip(points) {
        let (side, (total, groups)) = if hour < batch_hours {
            ("batch", batch.get(&hour).cloned().unwrap_or_default())
        } else {
            ("realtime", realtime.get(&hour).cloned().unwrap_or_default())
        };
        assert_eq!(point["side"], side, "hour {hour}");
        assert_eq!(cents(point["value"].as_f64().unwrap()), total, "hour {hour} total");
        for region in REGIONS {
            let got = point["groups"][region].as_f64().map_or(0, cents);
            assert_eq!(got, groups.get(region).copied().unwrap_or(0), "hour {hour} region {region}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_switch_at_the_tidemark_and_reconciliation_finds_the_differences() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), PIPELINE).unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(&csv, "order_id,region,amount_eur,status,ordered_at\n").unwrap();
    let mut config = support::config(&dir.path().join("data"));
    config.pipeline = Some(dir.path().join("tidemark.toml"));
    let stack = Stack::start(config).await.unwrap();
    let client = support::client();

    let day = Interval::Day.floor(Utc::now() - Duration::days(2));
    let orders = orders(day);
    let events: Vec<Value> = orders
        .iter()
        .filter(|o| !o.dropped_from_realtime())
        .map(|o| {
            json!({
                "event_id": format!("purchase-{}", o.id),
                "event_type": "purchase",
                "anonymous_id": format!("visitor-{}", o.id % 31),
                "order_id": o.id.to_string(),
                "amount": o.cents as f64 / 100.0,
                "currency": "EUR",
                "region": o.region,
                "occurred_at": o.at.to_rfc3339(),
            })
        })
        .collect();
    for chunk in events.chunks(50) {
        let answer = support::post_batch(&client, stack.http_addr(), chunk).await;
        assert_eq!(answer["accepted"], chunk.len());
    }
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();

    let query =
        format!("from={}&to={}&interval=hour&by=region", day.to_rfc3339(), (day + Duration::days(1)).to_rfc3339());
    let query = query.replace('+', "%2B");

    // No batch yet, every hour is real-time.
    let before = report(&client, &stack, &query).await;
    assert_eq!(before["tidemark"]["at"], Value::Null);
    assert_hours(&before, &orders, 0);

    // Batch for hours 0–11: they switch to batch, the tidemark stands at 12:00.
    append(&csv, &csv_rows(&orders, 0..12));
    batch_run(&stack).await;
    let half = report(&client, &stack, &query).await;
    assert_eq!(half["tidemark"]["at"], support::millis(day + Duration::hours(12)));
    assert_hours(&half, &orders, 12);

    // Batch for 12–17 moves the mark to 18:00 and switches those hours.
    append(&csv, &csv_rows(&orders, 12..18));
    batch_run(&stack).await;
    let later = report(&client, &stack, &query).await;
    assert_eq!(later["tidemark"]["at"], support::millis(day + Duration::hours(18)));
    assert_hours(&later, &orders, 18);
    let total = |r: &Value, key: &str| cents(r[key].as_f64().unwrap());
    assert_eq!(total(&later, "total"), total(&later, "batch_total") + total(&later, "realtime_total"));

    // A day bucket the mark falls inside is answered whole by real time.
    let by_day = report(&client, &stack, &query.replace("interval=hour", "interval=day")).await;
    assert_eq!(by_day["points"][0]["side"], "realtime");
    let realtime_day: i64 = orders.iter().filter(|o| !o.dropped_from_realtime()).map(|o| o.cents).sum();
    assert_eq!(cents(by_day["points"][0]["value"].as_f64().unwrap()), realtime_day);

    // CSV: one line per bucket plus one per group.
    let csv_answer = client
        .get(format!("http://{}/v1/reports/sales_by_region?{query}&format=csv", stack.admin_addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv_answer.starts_with("start,side,group,value\n"));
    assert_eq!(csv_answer.lines().filter(|l| l.contains(",batch,,")).count(), 18);

    // Reconciliation over the covered hours 0–17.
    let env = stack.batch().unwrap();
    let summaries = env.reconcile(stack.kv(), stack.layout(), None, Duration::days(7)).await.unwrap();
    let summary = &summaries[0];
    let covered: Vec<&Order> = orders.iter().filter(|o| o.hour < 18).collect();
    let lost = covered.iter().filter(|o| o.dropped_from_realtime() && !o.left_out_of_batch() && !o.cancelled).count();
    let unexported =
        covered.iter().filter(|o| (o.left_out_of_batch() || o.cancelled) && !o.dropped_from_realtime()).count();
    assert!(lost > 0 && unexported > 0, "the test data must exercise both sides");
    assert_eq!(summary.missing_in_realtime, lost as u64, "{summary:?}");
    assert_eq!(summary.missing_in_batch, unexported as u64, "{summary:?}");
    assert_eq!(summary.mismatched, 0);
    let first_lost = covered.iter().find(|o| o.dropped_from_realtime() && !o.left_out_of_batch()).unwrap();
    let line =
        format!("{} region={}: real-time missed 1 of", first_lost.at.format("%Y-%m-%d %H:00"), first_lost.region);
    assert!(summary.lines.iter().any(|l| l.starts_with(&line)), "{line:?} not in {:#?}", summary.lines);

    // Re-running replaces the window's results instead of adding to them.
    env.reconcile(stack.kv(), stack.layout(), None, Duration::days(7)).await.unwrap();
    let answer: Value = client
        .get(format!("http://{}/v1/reconciliation?limit=1000", stack.admin_addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let results = answer["results"].as_array().unwrap();
    let missing: i64 = results.iter().map(|r| r["missing_in_realtime"].as_i64().unwrap()).sum();
    assert_eq!(missing, lost as i64);
    assert!(
        results[0]["summary"].as_str().unwrap().contains("real-time missed")
            || results[0]["summary"].as_str().unwrap().contains("batch lacks")
    );

    // Drilling into every disagreeing bucket names exactly the orders behind its counts.
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in results
        .iter()
        .filter(|r| r["missing_in_realtime"].as_i64() > Some(0) || r["missing_in_batch"].as_i64() > Some(0))
    {
        let keys: Value = client
            .get(format!("http://{}/v1/reconciliation/sales_by_region/keys", stack.admin_addr()))
            .query(&[("bucket", row["bucket"].as_str().unwrap()), ("group", row["grp"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let keys = keys["keys"].as_array().unwrap();
        let count = |d: &str| keys.iter().filter(|k| k["difference"] == d).count() as i64;
        assert_eq!(count("missing_in_realtime"), row["missing_in_realtime"].as_i64().unwrap(), "{row}");
        assert_eq!(count("missing_in_batch"), row["missing_in_batch"].as_i64().unwrap(), "{row}");
        for key in keys {
            let side = named.entry(key["difference"].as_str().unwrap().to_owned()).or_default();
            side.insert(key["business_key"].as_str().unwrap().to_owned());
        }
    }
    let ids = |orders: &mut dyn Iterator<Item = &&Order>| orders.map(|o| o.id.to_string()).collect::<BTreeSet<_>>();
    let lost_ids =
        ids(&mut covered.iter().filter(|o| o.dropped_from_realtime() && !o.left_out_of_batch() && !o.cancelled));
    assert_eq!(named.get("missing_in_realtime"), Some(&lost_ids));
    assert_eq!(named.get("missing_in_batch").map(BTreeSet::len), Some(unexported));
    let unknown = client
        .get(format!("http://{}/v1/reconciliation/no_such_report/keys?bucket=2026-11-24T11:00:00Z", stack.admin_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let no_bucket = client
        .get(format!("http://{}/v1/reconciliation/sales_by_region/keys", stack.admin_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_bucket.status(), 400);
    stack.shutdown().await.unwrap();
}

fn append(path: &Path, rows: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(rows.as_bytes()).unwrap();
}
