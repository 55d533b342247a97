//! Shared test data: a deterministic, scrambled event set and what it must add up to.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tidemark::{Stack, UpConfig};
use tidemark_core::bucket::HourBucket;
use tidemark_core::ingest::WriteKeys;

pub const WRITE_KEY: &str = "e2e-write-key";
pub const REGIONS: [&str; 3] = ["EU", "US", "APAC"];

pub fn config(dir: &std::path::Path) -> UpConfig {
    UpConfig::for_tests(dir.to_path_buf(), WriteKeys::parse(&format!("{WRITE_KEY}=web")).unwrap())
}

pub async fn start(dir: &std::path::Path) -> Stack {
    Stack::start(config(dir)).await.unwrap()
}

/// Per (hour, region): events, purchases, revenue in cents.
pub type Totals = BTreeMap<(HourBucket, String), (u64, u64, i64)>;

/// A good event number `n` of series `series`; times scrambled over three hours from `base`.
pub fn good_event(series: &str, n: u64, base: DateTime<Utc>) -> Value {
    let offset_ms = (n * 7_919_311) % (3 * 3_600_000);
    let at = base + Duration::milliseconds(offset_ms as i64);
    let region = REGIONS[((n * 7 + n / 5) % 3) as usize];
    let mut event = json!({
        "event_id": format!("{series}-{n}"),
        "event_type": "page_view",
        "anonymous_id": format!("anon-{}", n % 97),
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "region": region,
    });
    if n.is_multiple_of(3) {
        event["event_type"] = json!("purchase");
        event["order_id"] = json!(format!("order-{series}-{n}"));
        event["amount"] = json!(((n * 37) % 10_000) as f64 / 100.0);
        event["currency"] = json!("EUR");
    }
    event
}

/// Bad events, one rule broken each, cycling through four rules.
pub fn bad_event(n: u64, base: DateTime<Utc>) -> Value {
    match n % 4 {
        0 => json!({"event_type": "teleport", "anonymous_id": "a"}),
        1 => json!({"event_type": "purchase", "anonymous_id": "a", "order_id": "x", "amount": 3}),
        2 => {
            json!({"event_type": "click", "anonymous_id": "a", "occurred_at": (Utc::now() + Duration::hours(1)).to_rfc3339()})
        }
        _ => json!({"event_type": "click", "occurred_at": base.to_rfc3339()}),
    }
}

pub fn add_to_totals(totals: &mut Totals, event: &Value) {
    let at = DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    let key = (HourBucket::of(at), event["region"].as_str().unwrap().to_owned());
    let entry = totals.entry(key).or_default();
    entry.0 += 1;
    if event["event_type"] == "purchase" {
        entry.1 += 1;
        entry.2 += cents(event["amount"].as_f64().unwrap());
    }
}

pub fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(16).build().unwrap()
}

pub async fn post_batch(client: &reqwest::Client, stack_addr: std::net::SocketAddr, events: &[Value]) -> Value {
    let response = client
        .post(format!("http://{stack_addr}/v1/events"))
        .header("x-tidemark-write-key", WRITE_KEY)
        .json(events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A time as the API writes it.
pub fn millis(at: DateTime<Utc>) -> Value {
    json!(tidemark_core::event::millis_rfc3339::format(&at))
}
