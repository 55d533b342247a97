//! `tidemark-bench analysis`: how long the analyze job takes at scale, and how good its
//! forecast is. A DuckDB warehouse holds N order rows over 90 days for 50 regions and
//! 100,000 customers; the job then forecasts the report per region (51 series of 2,160
//! hourly buckets), profiles the table's columns and segments the customers by recency,
//! frequency and monetary value. Accuracy: on a synthetic hourly series with daily and
//! weekly seasonality, trend and noise, MAPE and MASE of the forecast and of the
//! seasonal-naive baseline over two held-out days.

use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use tidemark_core::analysis::{forecast, mape, mase, seasonal_naive, Analyzer};
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::FixedClock;
use tidemark_core::ports::{Step, Warehouse};
use tidemark_local::{DuckWarehouse, TantivyIndex};

const PIPELINE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "unused.csv"

[[table]]
name = "orders"
source = "orders"
load = "append"
event_time = "ordered_at"
columns = [
  { name = "order_id",    type = "varchar" },
  { name = "customer_id", type = "varchar" },
  { name = "region",      type = "varchar" },
  { name = "amount_eur",  type = "decimal(12,2)" },
  { name = "ordered_at",  type = "timestamp" },
]

[[report]]
name     = "sales"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", by = { region = "region" } }

[[analysis]]
name         = "sales_watch"
kind         = "forecast"
report       = "sales"
by           = "region"
history_days = 90
max_groups   = 50

[[analysis]]
name  = "orders_profile"
kind  = "profile"
table = "orders"

[[analysis]]
name   = "customer_value"
kind   = "segments"
table  = "orders"
entity = "customer_id"
rfm    = { time = "ordered_at", value = "amount_eur" }
"#;

pub fn run(rows: u64) -> anyhow::Result<()> {
    accuracy();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(scale(rows))
}

/// Hourly traffic: a daily cycle, quieter weekends, a slow rise, deterministic noise
/// (the same series as the forecast's unit test).
fn hourly(days: usize) -> Vec<f64> {
    (0..days * 24)
        .map(|t| {
            let hour = (t % 24) as f64;
            let weekend = if (t / 24) % 7 >= 5 { 0.6 } else { 1.0 };
            let daily = 100.0 + 60.0 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin();
            let noise = (((t * 7919) % 101) as f64 - 50.0) * 0.3;
            daily * weekend + t as f64 * 0.05 + noise
        })
        .collect()
}

fn accuracy() {
    let series = hourly(42);
    let (training, held_out) = series.split_at(series.len() - 48);
    match forecast(training, &[24, 168], 48, 0.95) {
        Ok((band, _)) => {
            let naive = seasonal_naive(training, 168, 48);
            println!(
                "accuracy         40 days of hours, 48 held out: forecast MAPE {:.3} MASE {:.3}; same hour last week MAPE {:.3} MASE {:.3}",
                mape(held_out, &band.point),
                mase(held_out, &band.point, training, 168),
                mape(held_out, &naive),
                mase(held_out, &naive, training, 168)
            );
        }
        Err(e) => println!("accuracy         the forecast failed: {e}"),
    }
}

async fn scale(rows: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pipeline = Pipeline::parse(PIPELINE)?;
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 20, 0).single().context("the measured time")?;
    let day = now - Duration::minutes(20);
    let warehouse = DuckWarehouse::open(&dir.path().join("warehouse.duckdb"))?;
    warehouse.ensure_tables(&pipeline.tables).await?;
    let started = Instant::now();
    let first_ms = (day - Duration::days(90)).timestamp_millis();
    let step = Duration::days(90).num_milliseconds() as f64 / rows as f64;
    // Generated inside the engine (the load path is `tidemark-bench batch`'s): 50
    // regions, 100,000 customers, amounts with a daily cycle.
    warehouse
        .execute(vec![Step::Sql(format!(
            "INSERT INTO orders SELECT CAST(i AS VARCHAR), CAST(i * 7919 % 100000 AS VARCHAR), 'R' || CAST(i % 50 AS VARCHAR), \
             CAST(20 + 15 * sin(2 * pi() * ((i * {step}) % 86400000) / 86400000.0) + (i * 37 % 1000) / 100.0 AS DECIMAL(12,2)), \
             epoch_ms(CAST({first_ms} + i * {step} AS BIGINT)) FROM range({rows}) t(i)"
        ))])
        .await?;
    warehouse
        .execute(vec![Step::Sql(format!(
            "INSERT INTO tidemark_watermarks VALUES ('orders', 'orders', TIMESTAMP '{}', 'bench-load', {rows}, 0, TIMESTAMP '{}')",
            (day - Duration::milliseconds(1)).format("%Y-%m-%d %H:%M:%S%.3f"),
            day.format("%Y-%m-%d %H:%M:%S")
        ))])
        .await?;
    println!("warehouse        {rows} order rows generated in {:.1} s", started.elapsed().as_secs_f64());
    let index = TantivyIndex::open(&dir.path().join("index"))?;
    let clock = FixedClock::new(now);
    let analyzer =
        Analyzer { pipeline: &pipeline, warehouse: &warehouse, index: &index, clock: &clock, notifier: None };
    for (name, what) in [
        ("sales_watch", "forecast, 51 series of 2,160 hourly buckets (50 regions and the total)"),
        ("orders_profile", "profile, 5 columns"),
        ("customer_value", "segments, 100,000 customers by recency, frequency, monetary"),
    ] {
        let started = Instant::now();
        let summary = analyzer.run(Some(name)).await?.remove(0);
        println!(
            "analyze          {what}: {:.2} s, {} result rows, {} anomalies{}",
            started.elapsed().as_secs_f64(),
            summary.rows,
            summary.anomalies,
            if summary.skipped.is_empty() { String::new() } else { format!(", skipped {:?}", summary.skipped) }
        );
    }
    Ok(())
}
