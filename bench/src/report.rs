//! `tidemark-bench report`: merged report latency. A DuckDB warehouse holds N order
//! rows over the 90 days before the measured day and that day's hours 0–11 (the
//! watermark stands at 12:00); the tantivy index holds M purchase events over the
//! measured day. The report "a day by hour by region" then takes hours 0–11 from the
//! warehouse and 12–23 from the index, concurrently, as `GET /v1/reports` does.

use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use hdrhistogram::Histogram;
use tidemark_core::batch::Pipeline;
use tidemark_core::bucket::Interval;
use tidemark_core::event::{Event, EventType};
use tidemark_core::ports::{SearchIndex, Step, Warehouse};
use tidemark_core::report::{run_report, ReportQuery};
use tidemark_local::{DuckWarehouse, TantivyIndex};

const PIPELINE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "unused.csv"

[[table]]
name = "orders"
source = "orders"
key = ["order_id"]
event_time = "ordered_at"
columns = [
  { name = "order_id",   type = "varchar" },
  { name = "region",     type = "varchar" },
  { name = "amount_eur", type = "decimal(12,2)" },
  { name = "status",     type = "varchar" },
  { name = "ordered_at", type = "timestamp" },
]

[[report]]
name     = "sales_by_region"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", key = "order_id", filter = "status <> 'cancelled'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", filter = { currency = "EUR" }, by = { region = "region" } }
"#;

const REGIONS: [&str; 3] = ["EU", "US", "APAC"];
const INDEX_BATCH: usize = 50_000;

pub fn run(rows: u64, events: u64, iterations: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(measure(rows, events, iterations))
}

async fn measure(rows: u64, events: u64, iterations: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pipeline = Pipeline::parse(PIPELINE)?;
    let def = pipeline.report("sales_by_region").context("the bench pipeline declares its report")?;
    let day = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).single().context("the measured day")?;
    println!(
        "machine: {} cores; data in {}",
        std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        dir.path().display()
    );

    // Warehouse: `rows` orders evenly over [day - 90 days, day + 12 h).
    let warehouse = DuckWarehouse::open(&dir.path().join("warehouse.duckdb"))?;
    warehouse.ensure_tables(&pipeline.tables).await?;
    let started = Instant::now();
    let first_ms = (day - Duration::days(90)).timestamp_millis();
    let span_ms = Duration::days(90).num_milliseconds() + Duration::hours(12).num_milliseconds();
    let step = span_ms as f64 / rows as f64;
    // DuckDB's range() generates the rows inside the engine: the load path itself is
    // measured by `tidemark-bench batch`.
    warehouse
        .execute(vec![Step::Sql(format!(
            "INSERT INTO orders SELECT CAST(i AS VARCHAR), CASE i % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' ELSE 'APAC' END, \
             CAST((i * 37 % 10000) / 100.0 AS DECIMAL(12,2)), CASE WHEN i % 70 = 0 THEN 'cancelled' ELSE 'paid' END, \
             epoch_ms(CAST({first_ms} + i * {step} AS BIGINT)) FROM range({rows}) t(i)"
        ))])
        .await?;
    let high_water = day + Duration::hours(12) - Duration::milliseconds(1);
    warehouse
        .execute(vec![Step::Sql(format!(
            "INSERT INTO tidemark_watermarks VALUES ('orders', 'orders', TIMESTAMP '{}', 'bench', {rows}, 0, TIMESTAMP '{}')",
            high_water.format("%Y-%m-%d %H:%M:%S%.3f"),
            Utc::now().format("%Y-%m-%d %H:%M:%S")
        ))])
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!("warehouse        {rows} order rows generated in {secs:.1} s ({:.0} rows/s)", rows as f64 / secs);

    // Index: `events` purchases over the measured day.
    let index = TantivyIndex::open(&dir.path().join("index"))?;
    let started = Instant::now();
    let mut done = 0u64;
    while done < events {
        let n = INDEX_BATCH.min((events - done) as usize) as u64;
        let batch: Vec<Event> = (done..done + n).map(|i| purchase(i, events, day)).collect();
        index.index_events(&batch).await?;
        done += n;
        eprintln!("  indexed {done} of {events} ({:.0} events/s)", done as f64 / started.elapsed().as_secs_f64());
    }
    let secs = started.elapsed().as_secs_f64();
    println!("index            {events} purchase events indexed in {secs:.1} s ({:.0} events/s)", events as f64 / secs);

    let cases = [
        ("a day by hour by region", Interval::Hour, day, day + Duration::days(1)),
        ("30 days by day by region", Interval::Day, day - Duration::days(29), day + Duration::days(1)),
    ];
    for (name, interval, from, to) in cases {
        let query = ReportQuery { interval, from, to, by: Some("region".to_owned()) };
        let mut latencies = Histogram::<u64>::new(3)?;
        let mut last = None;
        for round in 0..iterations + 3 {
            let started = Instant::now();
            let report = run_report(def, &query, &warehouse, &index).await?;
            // Three warm-up rounds fill DuckDB's and tantivy's caches, as on a live server.
            if round >= 3 {
                latencies.record(started.elapsed().as_micros() as u64)?;
            }
            last = Some(report);
        }
        let report = last.context("at least one round")?;
        let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "report           {name}: {} rounds, p50 {:.1} ms p90 {:.1} ms p99 {:.1} ms max {:.1} ms; {} points, batch {:.2} + real-time {:.2}",
            latencies.len(),
            ms(0.50),
            ms(0.90),
            ms(0.99),
            latencies.max() as f64 / 1000.0,
            report.points.len(),
            report.batch_total,
            report.realtime_total
        );
    }
    Ok(())
}

fn purchase(i: u64, of: u64, day: chrono::DateTime<Utc>) -> Event {
    let at = day + Duration::milliseconds((i as f64 * 86_400_000.0 / of as f64) as i64);
    Event {
        event_id: format!("bench-{i}"),
        event_type: EventType::Purchase,
        occurred_at: at,
        received_at: at,
        source: "web".to_owned(),
        anonymous_id: Some(format!("anon-{}", i % 5000)),
        user_id: None,
        session_id: None,
        order_id: Some(format!("rt-{i}")),
        keys: Default::default(),
        region: REGIONS[(i % 3) as usize].to_owned(),
        amount: Some((i * 37 % 10_000) as f64 / 100.0),
        currency: Some("EUR".to_owned()),
        properties: Default::default(),
    }
}
