//! A batch table whose event time is a `date` (the order day, as many operational
//! databases store it), pulled from PostgreSQL, against real-time purchase beacons with
//! full timestamps. Batch holds two whole days; the boundary day (the watermark's day)
//! must be counted once by hour and by day, from batch, and reconcile must report
//! exactly the orders this test kept from real time or out of the database, none on the
//! boundary day that both sides have.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value as Json};
use tidemark::Stack;
use tidemark_core::batch::Value;
use tidemark_core::bucket::Interval;
use tidemark_core::ports::{Query, Warehouse};

use crate::support::{self, cents, REGIONS};

fn pipeline(table: &str) -> String {
    format!(
        r#"
[[source]]
name   = "orders"
kind   = "postgres"
url    = "postgres://postgres@127.0.0.1:5432/test"
query  = "SELECT id, region, amount, order_day, updated_at FROM {table}"
cursor = "updated_at"
key    = ["id"]

[[table]]
name       = "orders"
source     = "orders"
key        = ["order_id"]
event_time = "order_day"
load       = "merge"
columns = [
  {{ name = "order_id",   type = "varchar" }},
  {{ name = "region",     type = "varchar" }},
  {{ name = "amount_eur", type = "decimal(12,2)" }},
  {{ name = "order_day",  type = "date" }},
]
[[table.rule]]
rename = {{ id = "order_id", amount = "amount_eur" }}

[[report]]
name     = "daily_orders"
unit     = "EUR"
noun     = "orders"
batch    = {{ table = "orders", time = "order_day", value = "amount_eur", key = "order_id", by = {{ region = "region" }} }}
realtime = {{ event_type = "purchase", value = "amount", key = "order_id", by = {{ region = "region" }} }}
"#
    )
}

/// One order: placed at an instant, recorded by the database as its day.
struct Order {
    id: u32,
    at: DateTime<Utc>,
    region: &'static str,
    cents: i64,
}

impl Order {
    fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }

    /// Kept from the real-time side (a blocked beacon).
    fn dropped_from_realtime(&self) -> bool {
        self.id.is_multiple_of(11)
    }

    /// Not in the database (an order real time saw that batch does not have).
    fn left_out_of_batch(&self) -> bool {
        self.id % 13 == 5
    }
}

/// Three days of orders spread over every hour; the database holds the first two.
fn orders(first_day: DateTime<Utc>) -> Vec<Order> {
    let mut out = Vec::new();
    for n in 0..3 * 24 * 4u32 {
        let at = first_day + Duration::minutes(i64::from(n) * 15 + i64::from(n % 7)) + Duration::seconds(29);
        out.push(Order { id: 5000 + n, at, region: REGIONS[(n % 3) as usize], cents: 900 + i64::from(n % 41) * 77 });
    }
    out
}

fn psql(sql: &str) {
    let status = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql failed on {sql}");
}

async fn report(
    client: &reqwest::Client,
    stack: &Stack,
    interval: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Json {
    let url = format!(
        "http://{}/v1/reports/daily_orders?interval={interval}&by=region&from={}&to={}",
        stack.admin_addr(),
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn total_cents(report: &Json) -> i64 {
    cents(report["total"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_event_time_counts_the_boundary_day_once_and_reconciles_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let table = format!("tidemark_e2e_day_orders_{}", std::process::id());
    psql(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id BIGINT PRIMARY KEY, region TEXT, \
         amount NUMERIC(12,2), order_day DATE, updated_at TIMESTAMP)"
    ));
    std::fs::write(dir.path().join("tidemark.toml"), pipeline(&table)).unwrap();
    let mut config = support::config(&dir.path().join("data"));
    config.pipeline = Some(dir.path().join("tidemark.toml"));
    let stack = Stack::start(config).await.unwrap();
    let client = support::client();

    let first_day = Interval::Day.floor(Utc::now() - Duration::days(4));
    let boundary_day = first_day + Duration::days(1);
    let orders = orders(first_day);
    let in_batch = |o: &&Order| o.at < boundary_day + Duration::days(1) && !o.left_out_of_batch();
    let in_realtime = |o: &&Order| !o.dropped_from_realtime();

    let events: Vec<Json> = orders
        .iter()
        .filter(in_realtime)
        .map(|o| {
            json!({
                "event_id": format!("purchase-{}", o.id),
                "event_type": "purchase",
                "anonymous_id": format!("visitor-{}", o.id % 29),
                "order_id": o.id.to_string(),
                "amount": o.cents as f64 / 100.0,
                "currency": "EUR",
                "region": o.region,
                "occurred_at": o.at.to_rfc3339(),
            })
        })
        .collect();
    for chunk in events.chunks(100) {
        assert_eq!(support::post_batch(&client, stack.http_addr(), chunk).await["accepted"], chunk.len());
    }
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();

    let rows: Vec<String> = orders
        .iter()
        .filter(in_batch)
        .map(|o| {
            format!(
                "({}, '{}', {}.{:02}, DATE '{}', TIMESTAMP '{}')",
                o.id,
                o.region,
                o.cents / 100,
                o.cents % 100,
                o.day(),
                o.at.format("%Y-%m-%d %H:%M:%S")
            )
        })
        .collect();
    psql(&format!("INSERT INTO {table} VALUES {}", rows.join(", ")));
    let env = stack.batch().unwrap();
    env.extract(None).await.unwrap();
    env.load(None).await.unwrap();

    // The watermark is the boundary day; it covers that day whole.
    let by_hour = report(&client, &stack, "hour", boundary_day, boundary_day + Duration::days(1)).await;
    assert_eq!(by_hour["tidemark"]["high_water"], support::millis(boundary_day));
    assert_eq!(by_hour["tidemark"]["at"], support::millis(boundary_day + Duration::days(1)));
    assert_eq!(by_hour["tidemark"]["precision"], "day");

    // By hour: every hour of the boundary day from batch, the day's orders in its first
    // hour, and the day's total is the true (batch) total, counted once.
    let day_cents = |day: DateTime<Utc>| -> i64 {
        orders.iter().filter(in_batch).filter(|o| Interval::Day.floor(o.at) == day).map(|o| o.cents).sum()
    };
    let points = by_hour["points"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    assert!(points.iter().all(|p| p["side"] == "batch"), "{points:#?}");
    assert_eq!(cents(points[0]["value"].as_f64().unwrap()), day_cents(boundary_day));
    assert!(points[1..].iter().all(|p| p["value"].as_f64() == Some(0.0)));
    assert_eq!(total_cents(&by_hour), day_cents(boundary_day));
    let mut by_region: BTreeMap<&str, i64> = BTreeMap::new();
    for o in orders.iter().filter(in_batch).filter(|o| Interval::Day.floor(o.at) == boundary_day) {
        *by_region.entry(o.region).or_default() += o.cents;
    }
    for region in REGIONS {
        assert_eq!(cents(points[0]["groups"][region].as_f64().unwrap()), by_region[region], "{region}");
    }

    // By day: the two loaded days from batch, the next from real time.
    let three_days = report(&client, &stack, "day", first_day, first_day + Duration::days(3)).await;
    let days = three_days["points"].as_array().unwrap();
    let sides: Vec<&str> = days.iter().map(|p| p["side"].as_str().unwrap()).collect();
    assert_eq!(sides, ["batch", "batch", "realtime"]);
    assert_eq!(cents(days[1]["value"].as_f64().unwrap()), day_cents(boundary_day));
    let third = first_day + Duration::days(2);
    let realtime_third: i64 =
        orders.iter().filter(in_realtime).filter(|o| Interval::Day.floor(o.at) == third).map(|o| o.cents).sum();
    assert_eq!(cents(days[2]["value"].as_f64().unwrap()), realtime_third);

    // The same three days by hour: the same total, each order once.
    let hourly = report(&client, &stack, "hour", first_day, first_day + Duration::days(3)).await;
    assert_eq!(total_cents(&hourly), total_cents(&three_days));

    // A request that starts inside the boundary day: that day from real time (it has
    // the instants), never half a day of batch.
    let afternoon = boundary_day + Duration::hours(14);
    let partial = report(&client, &stack, "hour", afternoon, third).await;
    let want: i64 =
        orders.iter().filter(in_realtime).filter(|o| o.at >= afternoon && o.at < third).map(|o| o.cents).sum();
    assert!(partial["points"].as_array().unwrap().iter().all(|p| p["side"] == "realtime"));
    assert_eq!(total_cents(&partial), want);

    // Reconcile: day buckets, exactly the orders each side lacks on the loaded days.
    let summaries = env.reconcile(stack.kv(), stack.layout(), None, Duration::days(7)).await.unwrap();
    let summary = &summaries[0];
    let loaded = |o: &&Order| o.at < boundary_day + Duration::days(1);
    let lost = orders.iter().filter(loaded).filter(|o| o.dropped_from_realtime() && !o.left_out_of_batch()).count();
    let unexported =
        orders.iter().filter(loaded).filter(|o| o.left_out_of_batch() && !o.dropped_from_realtime()).count();
    assert!(lost > 0 && unexported > 0, "the test data must exercise both sides");
    assert_eq!(summary.missing_in_realtime, lost as u64, "{summary:#?}");
    assert_eq!(summary.missing_in_batch, unexported as u64, "{summary:#?}");
    assert_eq!(summary.mismatched, 0, "{summary:#?}");
    assert_eq!(summary.to, Some(boundary_day + Duration::days(1)));
    let boundary_line = format!("{} 00:00 region=", boundary_day.format("%Y-%m-%d"));
    assert!(summary.lines.iter().any(|l| l.starts_with(&boundary_line)), "{:#?}", summary.lines);
    assert!(summary.lines.iter().all(|l| l.contains(" 00:00 ")), "day buckets only: {:#?}", summary.lines);

    // The BI view: the boundary day from batch, once.
    env.refresh_views(stack.index()).await.unwrap();
    let view = env
        .warehouse
        .query(&Query::new(format!(
            "SELECT side, CAST(SUM(value) * 100 AS BIGINT) FROM report_daily_orders \
             WHERE bucket >= CAST('{}' AS TIMESTAMP) AND bucket < CAST('{}' AS TIMESTAMP) GROUP BY side",
            boundary_day.format("%Y-%m-%d %H:%M:%S"),
            third.format("%Y-%m-%d %H:%M:%S")
        )))
        .await
        .unwrap();
    assert_eq!(view.rows, vec![vec![Value::Str("batch".into()), Value::Int(day_cents(boundary_day))]]);

    stack.shutdown().await.unwrap();
    psql(&format!("DROP TABLE {table}"));
}
