//! Hostile text through the statements the Redshift adapter runs, executed on the
//! loopback PostgreSQL (Redshift's dialect ancestor): batch rows loaded through
//! staging, reconciliation results and BI rollups written as rows, report and
//! reconciliation reads with bound parameters. Every text comes out byte for byte,
//! and the table an injected statement names is still there.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use tidemark_aws::{Dialect, InlineStaging, PgRunner, SqlWarehouse};
use tidemark_core::batch::{jobs, Pipeline, Silent, Value as Cell};
use tidemark_core::bucket::Interval;
use tidemark_core::clock::SystemClock;
use tidemark_core::contract::{sample_event, HOSTILE_TEXT};
use tidemark_core::event::EventType;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::memory::MemoryKv;
use tidemark_core::ports::{KvStore, Query, SearchIndex, Step, Warehouse};
use tidemark_core::reconcile::{sql as reconcile_sql, Reconciler};
use tidemark_core::report::views;
use tidemark_local::{DirObjectStore, TantivyIndex};
use tidemark_sources::Connectors;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA: &str = "tm_hostile";

async fn fresh_warehouse() -> SqlWarehouse<PgRunner, InlineStaging> {
    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).await.unwrap();
    SqlWarehouse::new(PgRunner::connect(PG, Some(SCHEMA)).await.unwrap(), InlineStaging::default(), Dialect::Postgres)
}

fn texts(rows: &[Vec<Cell>]) -> BTreeSet<String> {
    rows.iter().map(|r| r[0].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_survives_the_redshift_sql_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let day = Interval::Day.floor(Utc::now() - Duration::days(2));
    let mut csv = String::from("order_id,region,amount_eur,ordered_at\n");
    let mut events = Vec::new();
    for (i, text) in (0..).zip(HOSTILE_TEXT) {
        let id = tidemark_e2e::hostile_order_id(i as usize, text);
        let at = day + Duration::hours(i) + Duration::minutes(3);
        let quoted = tidemark_e2e::csv_field;
        csv.push_str(&format!("{},{},10.00,{}\n", quoted(&id), quoted(text), at.format("%Y-%m-%d %H:%M:%S")));
        let mut event =
            sample_event(&format!("e{i}"), EventType::Purchase, at, text, Some(if i == 0 { 9.0 } else { 10.0 }));
        event.order_id = Some(id);
        events.push(event);
    }
    std::fs::write(dir.path().join("orders.csv"), csv).unwrap();
    let pipeline = Pipeline::parse(tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    let store = DirObjectStore::new(dir.path().join("interim"));
    let warehouse = fresh_warehouse().await;
    warehouse.execute(vec![Step::Sql("CREATE TABLE x (n INTEGER)".into())]).await.unwrap();
    let connectors = Connectors::new(dir.path());
    jobs::batch_extract(&pipeline, None, &connectors, &store, &SystemClock, &Silent).await.unwrap();
    let loaded = jobs::batch_load(&pipeline, None, &store, &warehouse, &SystemClock, &Silent).await.unwrap();
    assert_eq!(loaded[0].rows_loaded, HOSTILE_TEXT.len() as u64);

    let kv = MemoryKv::default();
    let layout = KvLayout::default();
    kv.put_items(events.iter().map(|e| layout.item_for(e)).collect()).await.unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(index_dir.path()).unwrap();
    index.index_events(&events).await.unwrap();

    let reconciler = Reconciler {
        pipeline: &pipeline,
        warehouse: &warehouse,
        kv: &kv,
        layout: &layout,
        clock: &SystemClock,
        lookback: Duration::days(7),
    };
    let summary = &reconciler.run(None).await.unwrap()[0];
    assert_eq!(summary.mismatched, 1, "the first order differs in value: {summary:?}");
    views::refresh(&pipeline, &warehouse, &index, &SystemClock).await.unwrap();

    let all: BTreeSet<String> = HOSTILE_TEXT.iter().map(|t| (*t).to_owned()).collect();
    let query = |sql: &'static str| {
        let warehouse = &warehouse;
        async move { warehouse.query(&Query::new(sql)).await }
    };
    assert_eq!(texts(&query("SELECT region FROM orders").await.unwrap().rows), all, "loaded rows");
    let results = warehouse.query(&reconcile_sql::latest(Some("sales"), 100)).await.unwrap();
    let grp = results.columns.iter().position(|c| c == "grp").unwrap();
    let groups: BTreeSet<String> = results.rows.iter().map(|r| r[grp].to_string()).collect();
    assert_eq!(groups, all, "reconciliation results");
    let keys = results.columns.iter().position(|c| c == "sample_keys").unwrap();
    let differing: Vec<String> = results.rows.iter().map(|r| r[keys].to_string()).filter(|k| !k.is_empty()).collect();
    assert_eq!(differing, vec![format!("value differs: o0:{}", HOSTILE_TEXT[0])]);
    assert_eq!(texts(&query("SELECT DISTINCT grp FROM report_sales").await.unwrap().rows), all, "BI view");
    assert_eq!(query("SELECT COUNT(*) FROM x").await.unwrap().rows, vec![vec![Cell::Int(0)]], "table x is intact");
}
