//! `tidemark-bench batch`: the batch path's figures on generated order rows.
//!
//! 1. transform: the rule engine alone, one thread, on a five-rule table;
//! 2. load: staging + merge commit into DuckDB;
//! 3. end to end (with `--postgres`): N rows generated in PostgreSQL, then the real
//!    batch-extract and batch-load jobs into a fresh interim store and warehouse.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use tidemark_core::batch::rules::{EvalContext, Program, Row};
use tidemark_core::batch::{jobs, Pipeline, Schema, Silent, Value};
use tidemark_core::ports::{LoadCommit, Warehouse};
use tidemark_core::SystemClock;
use tidemark_local::{DirObjectStore, DuckWarehouse};
use tidemark_sources::Connectors;

const CHUNK: usize = 500_000;

/// The five-rule table of the benchmark; the end-to-end run uses it with a Postgres source.
fn pipeline(source: &str) -> String {
    format!(
        r#"
{source}

[[table]]
name = "orders"
source = "orders"
key = ["order_id"]
event_time = "ordered_at"
load = "merge"
columns = [
  {{ name = "order_id", type = "bigint" }},
  {{ name = "customer_id", type = "bigint" }},
  {{ name = "amount_eur", type = "decimal(12,2)" }},
  {{ name = "currency", type = "varchar" }},
  {{ name = "gender", type = "integer" }},
  {{ name = "region", type = "varchar" }},
  {{ name = "ordered_at", type = "timestamp" }},
  {{ name = "order_day", type = "date" }},
]
[[table.rule]]
discard = "status = 'test'"
[[table.rule]]
rename = {{ id = "order_id", amount = "amount_eur" }}
[[table.rule]]
translate = {{ column = "gender", map = {{ F = 1, M = 2 }}, otherwise = "null" }}
[[table.rule]]
currency = {{ amount = "amount_eur", currency = "currency", to = "EUR", rates = {{ USD = 0.92, GBP = 1.17 }} }}
[[table.rule]]
derive = {{ column = "order_day", expr = "date_trunc('day', ordered_at)" }}
[[table.rule]]
require = ["customer_id"]
"#
    )
}

const FILE_SOURCE: &str = "[[source]]\nname = \"orders\"\nkind = \"csv\"\npath = \"unused.csv\"";

const COLUMNS: [&str; 8] = ["id", "customer_id", "amount", "currency", "gender", "region", "status", "ordered_at"];

fn generate(n: usize, start: usize) -> Vec<Row> {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap_or_default();
    let currencies = ["EUR", "USD", "GBP"];
    let regions = ["EU", "US", "APAC"];
    (start..start + n)
        .map(|i| Row {
            cells: vec![
                Value::Int(i as i64),
                Value::Int((i % 50_000) as i64),
                Value::Float((i % 10_000) as f64 / 100.0 + 1.0),
                Value::str(currencies[i % 3]),
                Value::str(if i % 2 == 0 { "F" } else { "M" }),
                Value::str(regions[i % 3]),
                Value::str(if i % 100 == 0 { "test" } else { "paid" }),
                Value::Timestamp(t0 + Duration::seconds((i % 2_592_000) as i64)),
            ],
            origin: i as u64,
        })
        .collect()
}

pub fn run(rows: usize, postgres: Option<String>) -> anyhow::Result<()> {
    let p = Pipeline::parse(&pipeline(FILE_SOURCE)).context("bench pipeline")?;
    let table = &p.tables[0];
    let ctx = EvalContext { now: Utc::now() };
    let program = Program::compile(table, &Schema::new(COLUMNS), &HashMap::new(), ctx).map_err(anyhow::Error::msg)?;

    // 1. The rule engine alone, one thread, chunks as the load job runs them.
    let mut transformed = Vec::new();
    let mut busy = std::time::Duration::ZERO;
    let mut done = 0;
    while done < rows {
        let n = CHUNK.min(rows - done);
        let input = generate(n, done);
        let t = Instant::now();
        let out = program.run(input);
        busy += t.elapsed();
        transformed.push(out.rows);
        done += n;
    }
    let out_rows: usize = transformed.iter().map(Vec::len).sum();
    println!(
        "transform: {rows} rows through 6 rules (discard, rename, translate, currency, derive, require) + typed projection \
         in {:.2} s on one thread: {:.0} rows/s per core ({out_rows} rows out)",
        busy.as_secs_f64(),
        rows as f64 / busy.as_secs_f64()
    );

    // 2. Load into DuckDB: stage every chunk, then one merge commit.
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let wh = DuckWarehouse::open(&dir.path().join("bench.duckdb"))?;
        wh.ensure_tables(&p.tables).await?;
        let t = Instant::now();
        wh.begin_stage(table).await?;
        for chunk in transformed {
            wh.stage(table, chunk).await?;
        }
        let staged = t.elapsed();
        let commit = LoadCommit {
            load_id: "bench".into(),
            extract_runs: vec![("orders".into(), "bench".into())],
            rows_loaded: out_rows as u64,
            rows_quarantined: 0,
            high_water: None,
            loaded_at: Utc::now(),
        };
        wh.commit(table, &commit).await?;
        let total = t.elapsed();
        println!(
            "load: {out_rows} rows staged in {:.2} s ({:.0} rows/s), merged and committed in {:.2} s more: {:.0} rows/s overall",
            staged.as_secs_f64(),
            out_rows as f64 / staged.as_secs_f64(),
            (total - staged).as_secs_f64(),
            out_rows as f64 / total.as_secs_f64()
        );
        anyhow::Ok(())
    })?;

    // 3. PostgreSQL → interim store → warehouse with the real jobs.
    if let Some(url) = postgres {
        rt.block_on(end_to_end(rows, &url, dir.path()))?;
    }
    Ok(())
}

async fn end_to_end(rows: usize, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (client, conn) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to --postgres")?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("postgres connection: {e}");
        }
    });
    let t = Instant::now();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_orders;
             CREATE TABLE bench_orders AS SELECT i AS id, i % 50000 AS customer_id,
               round((i % 10000) / 100.0 + 1, 2)::numeric(12,2) AS amount,
               (ARRAY['EUR','USD','GBP'])[i % 3 + 1] AS currency,
               CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END AS gender,
               (ARRAY['EU','US','APAC'])[i % 3 + 1] AS region,
               CASE WHEN i % 100 = 0 THEN 'test' ELSE 'paid' END AS status,
               timestamptz '2026-11-01 00:00:00+00' + (i % 2592000) * interval '1 second' AS ordered_at,
               timestamptz '2026-11-01 00:00:00+00' + i * interval '1 millisecond' AS updated_at
             FROM generate_series(1, {rows}) AS i;"
        ))
        .await
        .context("generating bench_orders")?;
    println!("postgres: generated {rows} rows in bench_orders in {:.1} s", t.elapsed().as_secs_f64());
    let source = format!(
        "[[source]]\nname = \"orders\"\nkind = \"postgres\"\nurl = \"{url}\"\ncursor = \"updated_at\"\nkey = [\"id\"]\n\
         query = \"SELECT id, customer_id, amount, currency, gender, region, status, ordered_at, updated_at FROM bench_orders\""
    );
    let p = Pipeline::parse(&pipeline(&source)).context("e2e pipeline")?;
    let store = DirObjectStore::new(dir.join("interim"));
    let wh = DuckWarehouse::open(&dir.join("e2e.duckdb"))?;
    let t = Instant::now();
    let ex = jobs::batch_extract(&p, None, &Connectors::new(dir), &store, &SystemClock, &Silent).await?;
    let extracted = t.elapsed();
    let ld = jobs::batch_load(&p, None, &store, &wh, &SystemClock, &Silent).await?;
    let total = t.elapsed();
    println!(
        "end to end: extract {} rows in {:.1} s ({:.0} rows/s), load {} rows in {:.1} s ({:.0} rows/s); total {:.1} s",
        ex[0].rows,
        extracted.as_secs_f64(),
        ex[0].rows as f64 / extracted.as_secs_f64(),
        ld[0].rows_loaded,
        (total - extracted).as_secs_f64(),
        ld[0].rows_loaded as f64 / (total - extracted).as_secs_f64(),
        total.as_secs_f64()
    );
    client.batch_execute("DROP TABLE bench_orders").await.context("dropping bench_orders")?;
    Ok(())
}
