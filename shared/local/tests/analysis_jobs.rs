//! The analyze job end to end on the in-memory search index and DuckDB's `:memory:`
//! warehouse: five weeks of hourly purchases with daily and weekly seasonality, one in
//! which an hour of EU beacons failed; profiles of a compacted table compared with SQL
//! over the same table, and a null drift between two loads; segments of customers drawn
//! from three well-separated groups.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use tidemark_core::analysis::{AnalysisError, AnalysisSummary, Analyzer};
use tidemark_core::batch::{ColumnType, Pipeline, Silent, Value};
use tidemark_core::clock::FixedClock;
use tidemark_core::compact::Compactor;
use tidemark_core::consume::{index_batch, store_batch, StreamRecord};
use tidemark_core::contract::sample_event;
use tidemark_core::event::{Event, EventType};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::memory::{MemoryKv, MemoryNotifier, MemoryObjectStore, MemorySearch};
use tidemark_core::ports::{Query, Rows, Step, Warehouse};
use tidemark_local::DuckWarehouse;

const PIPELINE: &str = r#"
[[source]]
name = "site"
kind = "realtime"

[[source]]
name = "crm"
kind = "csv"
path = "customers.csv"

[[table]]
name             = "site_events"
source           = "site"
key              = ["source", "event_id"]
event_time       = "occurred_at"
load             = "overwrite"
overwrite_period = "day"
columns = [
  { name = "source",      type = "varchar" },
  { name = "event_id",    type = "varchar" },
  { name = "event_type",  type = "varchar" },
  { name = "occurred_at", type = "timestamp" },
  { name = "order_id",    type = "varchar" },
  { name = "region",      type = "varchar" },
  { name = "amount",      type = "decimal(12,2)" },
]

[[table]]
name   = "customers"
source = "crm"
load   = "append"
columns = [
  { name = "customer_id", type = "varchar" },
  { name = "spend",       type = "double" },
  { name = "visits",      type = "integer" },
]

[[report]]
name     = "revenue"
measure  = "sum"
unit     = "EUR"
batch    = { table = "site_events", time = "occurred_at", value = "amount", filter = "event_type = 'purchase'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", by = { region = "region" } }

[[analysis]]
name   = "revenue_watch"
kind   = "forecast"
report = "revenue"
by     = "region"
history_days = 28
horizon = 24

[[analysis]]
name  = "events_profile"
kind  = "profile"
table = "site_events"

[[analysis]]
name     = "customer_segments"
kind     = "segments"
table    = "customers"
entity   = "customer_id"
features = ["spend", "visits"]
k        = 3
"#;

const REGIONS: [&str; 3] = ["EU", "US", "APAC"];

/// Now: 10:20 on a Thursday; the last complete hour is 09:00-10:00.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 20, 0).unwrap()
}

/// Purchases per hour and region for five weeks up to now: a daily cycle, quieter
/// weekends, deterministic noise. With `broken`, no EU purchase arrives 09:00-10:00.
fn purchases(broken: bool) -> Vec<Event> {
    let start = now().with_minute(0).unwrap() - Duration::days(35);
    let mut events = Vec::new();
    for hour in 0..35 * 24 {
        let at = start + Duration::hours(hour);
        let daily = 6.0 + 4.0 * (std::f64::consts::TAU * (at.hour() as f64 - 8.0) / 24.0).sin();
        let weekend = if at.weekday().number_from_monday() >= 6 { 0.6 } else { 1.0 };
        for (r, region) in REGIONS.iter().enumerate() {
            if broken && *region == "EU" && at == now().with_minute(0).unwrap() - Duration::hours(1) {
                continue;
            }
            let noise = ((hour as usize * 7919 + r * 104_729) % 3) as f64;
            let count = (daily * weekend * (3 - r) as f64 + noise).round().max(1.0) as i64;
            for n in 0..count {
                let id = format!("{region}-{hour}-{n}");
                let minute = at + Duration::minutes((n * 7) % 60);
                events.push(sample_event(&id, EventType::Purchase, minute, region, Some(10.0 + (n % 5) as f64)));
            }
        }
    }
    events
}

fn records(events: &[Event]) -> Vec<StreamRecord> {
    events
        .iter()
        .enumerate()
        .map(|(n, event)| StreamRecord {
            shard_id: "shard-0".into(),
            sequence_number: format!("{n:020}"),
            data: event.to_record_bytes(),
        })
        .collect()
}

struct Setup {
    pipeline: Pipeline,
    index: MemorySearch,
    warehouse: DuckWarehouse,
    clock: FixedClock,
    notifier: MemoryNotifier,
}

impl Setup {
    async fn new(events: &[Event]) -> Setup {
        let index = MemorySearch::default();
        assert!(index_batch(&records(events), &index).await.failures.is_empty());
        Setup {
            pipeline: Pipeline::parse(PIPELINE).unwrap(),
            index,
            warehouse: DuckWarehouse::in_memory().unwrap(),
            clock: FixedClock::new(now()),
            notifier: MemoryNotifier::default(),
        }
    }

    async fn analyze(&self, only: Option<&str>) -> Result<Vec<AnalysisSummary>, AnalysisError> {
        Analyzer {
            pipeline: &self.pipeline,
            warehouse: &self.warehouse,
            index: &self.index,
            clock: &self.clock,
            notifier: Some(&self.notifier),
        }
        .run(only)
        .await
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        self.warehouse.query(&Query::new(sql)).await.unwrap().rows
    }
}

#[tokio::test]
async fn an_hour_of_failed_eu_beacons_is_flagged_and_told_once() {
    let setup = Setup::new(&purchases(true)).await;
    let summaries = setup.analyze(Some("revenue_watch")).await.unwrap();
    let watch = &summaries[0];
    assert!(watch.skipped.is_empty(), "{:?}", watch.skipped);
    assert!(
        watch.now.iter().any(|s| s.starts_with("EU revenue 09:00–10:00 UTC on 2026-12-03 is 100 % below its forecast")),
        "{:?}",
        watch.now
    );
    assert!(watch.now.iter().all(|s| !s.starts_with("US") && !s.starts_with("APAC")), "{:?}", watch.now);
    let sent = setup.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].anomalies.iter().any(|a| a.group.as_deref() == Some("EU")));

    // The forecast table: per series the fitted history, the three recent hours with
    // what came in, and 24 hours ahead; the EU anomaly row beside it.
    let series = setup
        .rows("SELECT grp, phase, COUNT(*) FROM analysis_forecast GROUP BY grp, phase ORDER BY grp NULLS FIRST, phase")
        .await;
    assert_eq!(series.len(), 4 * 3, "{series:?}");
    assert!(series.contains(&vec![Value::str("EU"), Value::str("ahead"), Value::Int(24)]), "{series:?}");
    assert!(series.contains(&vec![Value::str("EU"), Value::str("history"), Value::Int(28 * 24 - 3)]), "{series:?}");
    let flagged =
        setup.rows("SELECT grp, phase, direction, actual FROM analysis_anomalies WHERE phase = 'recent'").await;
    assert!(flagged.contains(&vec![Value::str("EU"), Value::str("recent"), Value::str("below"), Value::Float(0.0)]));

    // Run again a minute later: the same rows, and nobody is told twice.
    let rows_before = setup.rows("SELECT COUNT(*) FROM analysis_anomalies").await;
    setup.clock.set(now() + Duration::minutes(1));
    setup.analyze(Some("revenue_watch")).await.unwrap();
    assert_eq!(setup.rows("SELECT COUNT(*) FROM analysis_anomalies").await, rows_before);
    assert_eq!(setup.notifier.sent().len(), 1, "an anomaly already sent is not sent again");
}

#[tokio::test]
async fn a_normal_week_produces_no_anomaly() {
    let setup = Setup::new(&purchases(false)).await;
    let summaries = setup.analyze(Some("revenue_watch")).await.unwrap();
    assert_eq!(summaries[0].anomalies, 0, "{:?}", summaries[0].now);
    assert!(setup.notifier.sent().is_empty());
    let ahead = setup
        .rows("SELECT COUNT(*) FROM analysis_forecast WHERE grp IS NULL AND phase = 'ahead' AND low <= expected AND expected <= high")
        .await;
    assert_eq!(ahead, vec![vec![Value::Int(24)]]);
}

/// A day of site events compacted into the warehouse: `purchases` of them with amounts.
async fn compact_day(setup: &Setup, day: NaiveDate, views: i64, purchases: i64) {
    let kv = MemoryKv::default();
    let layout = KvLayout::default();
    let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap());
    let events: Vec<Event> = (0..views + purchases)
        .map(|n| {
            let at = start + Duration::seconds(n * 37);
            match n < purchases {
                true => {
                    sample_event(&format!("{day}-p{n}"), EventType::Purchase, at, "EU", Some((n % 50) as f64 + 0.5))
                }
                false => sample_event(&format!("{day}-v{n}"), EventType::PageView, at, "US", None),
            }
        })
        .collect();
    assert!(store_batch(&records(&events), &kv, &layout).await.failures.is_empty());
    let clock = FixedClock::new(start + Duration::hours(26));
    let raw = MemoryObjectStore::default();
    let compactor = Compactor {
        pipeline: &setup.pipeline,
        store: &raw,
        warehouse: &setup.warehouse,
        kv: &kv,
        layout: &layout,
        clock: &clock,
        progress: &Silent,
    };
    compactor.run(day).await.unwrap();
    setup.clock.set(start + Duration::hours(27));
}

#[tokio::test]
async fn a_profile_matches_sql_on_the_same_table_and_a_column_going_null_is_a_drift() {
    let setup = Setup::new(&[]).await;
    let first = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    compact_day(&setup, first, 200, 100).await;
    let summary = &setup.analyze(Some("events_profile")).await.unwrap()[0];
    assert_eq!((summary.rows, summary.anomalies), (7, 0), "{summary:?}");

    let profiled = setup
        .rows(
            "SELECT row_count, null_count, distinct_count, min_value, max_value, mean, stddev, p50, p95, p99 \
             FROM analysis_profile WHERE column_name = 'amount'",
        )
        .await;
    let direct = setup
        .rows(
            "SELECT COUNT(*), COUNT(*) - COUNT(amount), COUNT(DISTINCT amount), CAST(MIN(amount) AS VARCHAR), \
             CAST(MAX(amount) AS VARCHAR), AVG(CAST(amount AS DOUBLE)), STDDEV_SAMP(CAST(amount AS DOUBLE)), \
             quantile_cont(CAST(amount AS DOUBLE), 0.5), quantile_cont(CAST(amount AS DOUBLE), 0.95), \
             quantile_cont(CAST(amount AS DOUBLE), 0.99) FROM site_events",
        )
        .await;
    assert_eq!(profiled, direct);
    assert_eq!(profiled[0][0], Value::Int(300));
    assert_eq!(profiled[0][1], Value::Int(200));

    // The next day's load has no purchases at all: amount goes from 67 % to 89 % null.
    compact_day(&setup, first.succ_opt().unwrap(), 600, 0).await;
    let summary = &setup.analyze(Some("events_profile")).await.unwrap()[0];
    assert_eq!(summary.anomalies, 2, "amount and order_id: {:?}", summary.now);
    assert!(summary.now.iter().any(|s| s.starts_with("site_events.amount is 89 % null in load")), "{:?}", summary.now);
    let loads = setup.rows("SELECT COUNT(DISTINCT load_id) FROM analysis_profile").await;
    assert_eq!(loads, vec![vec![Value::Int(2)]], "one profile per load, kept");
    let drifts = setup.rows("SELECT COUNT(*) FROM analysis_anomalies WHERE phase = 'drift'").await;
    assert_eq!(drifts, vec![vec![Value::Int(2)]]);
}

/// Three groups of customers, far apart in spend and visits, interleaved.
async fn plant_customers(warehouse: &DuckWarehouse) -> Vec<usize> {
    let centres = [(20.0, 2.0), (400.0, 12.0), (2_500.0, 40.0)];
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for n in 0..300usize {
        let group = n % 3;
        let (spend, visits) = centres[group];
        let jitter = ((n * 7919) % 21) as f64 / 20.0 - 0.5;
        rows.push(vec![
            Value::str(format!("c{n:04}")),
            Value::Float(spend * (1.0 + 0.2 * jitter)),
            Value::Int((visits * (1.0 + 0.2 * jitter)).round() as i64),
        ]);
        groups.push(group);
    }
    let columns = vec![
        ("customer_id".to_owned(), ColumnType::Varchar),
        ("spend".to_owned(), ColumnType::Double),
        ("visits".to_owned(), ColumnType::Integer),
    ];
    warehouse
        .execute(vec![
            Step::Sql("CREATE TABLE customers (customer_id VARCHAR, spend DOUBLE, visits INTEGER)".into()),
            Step::Rows(Rows { table: "customers".into(), columns, rows }),
        ])
        .await
        .unwrap();
    groups
}

#[tokio::test]
async fn segments_recover_planted_groups_and_say_what_each_is() {
    let setup = Setup::new(&[]).await;
    let planted = plant_customers(&setup.warehouse).await;
    let summary = &setup.analyze(Some("customer_segments")).await.unwrap()[0];
    assert_eq!(summary.rows, 300);
    let labelled = setup.rows("SELECT entity, segment FROM analysis_segments ORDER BY entity").await;
    // Every planted group lands in one segment, each in its own (labels ordered by spend).
    for (row, group) in labelled.iter().zip(&planted) {
        assert_eq!(row[1], Value::Int(*group as i64), "{row:?}");
    }
    assert!(
        summary.now[0].starts_with("segment 1 of 3: 100 of 300 customer_id (33 %); spend 19.78, visits 2.00"),
        "{:?}",
        summary.now
    );
    // The same table gives the same segments.
    setup.analyze(Some("customer_segments")).await.unwrap();
    assert_eq!(setup.rows("SELECT entity, segment FROM analysis_segments ORDER BY entity").await, labelled);
}

#[tokio::test]
async fn one_failing_analysis_does_not_stop_the_others_and_unknown_names_are_refused() {
    let setup = Setup::new(&purchases(false)).await;
    assert!(matches!(setup.analyze(Some("nope")).await, Err(AnalysisError::Unknown(name)) if name == "nope"));
    // No customers table: segments fails, naming itself; the forecast and profile ran.
    let err = setup.analyze(None).await.unwrap_err().to_string();
    assert!(err.starts_with("1 of 3 analyses failed: customer_segments:"), "{err}");
    let written = setup.rows("SELECT COUNT(*) FROM analysis_forecast").await;
    assert!(matches!(written[0][0], Value::Int(n) if n > 0));
}
