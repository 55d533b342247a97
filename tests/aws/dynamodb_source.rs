//! A DynamoDB table as a batch source, through the batch-extract and batch-load Lambda
//! handlers: a parallel scan over segments and pages (moto enforces the 1 MB page),
//! every item extracted exactly once and kept unchanged as DynamoDB JSON in the interim
//! bucket, nested attributes loaded by dotted path, then an incremental run that reads
//! only the items whose update time moved.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::jobs::{handle, AwsSources, JobEnv};
use tidemark_aws::{provision, Dialect, InlineStaging, PgRunner, S3ObjectStore, SqlWarehouse};
use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::batch::{Pipeline, Value as Cell};
use tidemark_core::clock::{Clock, FixedClock};
use tidemark_core::job::{Job, Port};
use tidemark_core::ports::{ObjectStore, Query, Warehouse};
use tidemark_sources::aws_api::AwsApi;
use tidemark_sources::Connectors;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

const PIPELINE: &str = r#"
[[source]]
name     = "carts"
kind     = "dynamodb"
table    = "Carts"
cursor   = "meta.updated_at"
segments = 3
key      = ["cart_id"]
fields   = ["cart_id", "customer.id", "customer.region", "lines.0.sku", "total", "meta.updated_at"]

[[table]]
name = "carts"
source = "carts"
key = ["cart_id"]
columns = [
  { name = "cart_id",     type = "varchar" },
  { name = "customer_id", type = "varchar" },
  { name = "region",      type = "varchar" },
  { name = "first_sku",   type = "varchar" },
  { name = "total",       type = "decimal(12,2)" },
  { name = "updated_at",  type = "bigint" },
]
[[table.rule]]
rename = { "customer.id" = "customer_id", "customer.region" = "region", "lines.0.sku" = "first_sku", "meta.updated_at" = "updated_at" }
"#;

/// Enough padding that the 300 carts take several 1 MB pages per segment.
const PADDING: usize = 12_000;

fn cart(n: u32, total: &str, updated_at: u64) -> Value {
    json!({
        "cart_id": {"S": format!("c{n:04}")},
        "customer": {"M": {"id": {"S": format!("u{}", n % 40)}, "region": {"S": if n.is_multiple_of(3) { "US" } else { "EU" }}}},
        "lines": {"L": [{"M": {"sku": {"S": format!("sku-{}", n % 7)}, "qty": {"N": "2"}}}]},
        "total": {"N": total},
        "meta": {"M": {"updated_at": {"N": updated_at.to_string()}}},
        "padding": {"S": "x".repeat(PADDING)},
    })
}

async fn put(api: &AwsApi, items: Vec<Value>) {
    for chunk in items.chunks(25) {
        let requests: Vec<Value> = chunk.iter().map(|item| json!({"PutRequest": {"Item": item}})).collect();
        let answer = api.dynamodb("BatchWriteItem", &json!({"RequestItems": {"Carts": requests}})).await.unwrap();
        assert_eq!(answer["UnprocessedItems"], json!({}), "{answer}");
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

async fn rows(warehouse: &dyn Warehouse, sql: &str) -> Vec<Vec<Cell>> {
    warehouse.query(&Query::new(sql)).await.unwrap().rows
}

fn extracted_rows(answer: &Value) -> u64 {
    answer.as_array().unwrap().iter().find(|s| s["source"] == "carts").unwrap()["rows"].as_u64().unwrap()
}

/// Every line of every raw part of the carts source.
async fn raw_items(store: &dyn ObjectStore) -> Vec<Value> {
    let mut items = Vec::new();
    for key in store.list("raw/carts/").await.unwrap().into_iter().filter(|k| k.ends_with(".jsonl")) {
        let body = store.get(&key).await.unwrap().unwrap();
        items.extend(body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()));
    }
    items
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn a_dynamodb_table_is_scanned_in_parallel_kept_unchanged_and_read_incrementally() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::bucket(&clients, "ddb").await.unwrap();
    let api = moto.aws_api();
    provision::source_table(&clients, "Carts", "cart_id").await.unwrap();
    put(&api, (0..300).map(|n| cart(n, "10.50", 1_764_000_000 + u64::from(n))).collect()).await;

    let (pg, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    pg.batch_execute("DROP SCHEMA IF EXISTS tm_ddb_wh CASCADE").await.unwrap();
    let pipeline = Arc::new(Pipeline::parse(PIPELINE).unwrap());
    let store: Arc<dyn ObjectStore> = Arc::new(S3ObjectStore::new(clients.s3.clone(), "ddb", "interim"));
    let warehouse: Arc<dyn Warehouse> = Arc::new(SqlWarehouse::new(
        PgRunner::connect(PG, Some("tm_ddb_wh")).await.unwrap(),
        InlineStaging::default(),
        Dialect::Postgres,
    ));
    let sources: Arc<dyn SourceFactory> =
        Arc::new(AwsSources { connectors: Connectors::new(".").with_aws(api.clone()), s3: clients.s3.clone() });
    let clock = Arc::new(FixedClock::new(at("2026-11-29T02:00:00Z")));
    let function = |job: Job| JobEnv {
        job,
        pipeline: pipeline.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        raw_retention: RawRetention::default(),
        sources: job.needs(Port::Sources).then(|| sources.clone()),
        interim: job.needs(Port::Interim).then(|| store.clone()),
        warehouse: job.needs(Port::Warehouse).then(|| warehouse.clone()),
        kv: None,
        index: None,
        notifier: None,
        history: None,
        schedule: None,
    };
    let (extract, load) = (function(Job::BatchExtract), function(Job::BatchLoad));
    let scheduled = json!({"scheduled_time": "2026-11-29T02:00:00Z"});

    // Every cart once, across three segments and their pages, exactly as DynamoDB sent it.
    let answer = handle(&extract, &scheduled).await.unwrap();
    assert_eq!(extracted_rows(&answer), 300, "{answer}");
    let items = raw_items(store.as_ref()).await;
    let ids: BTreeSet<&str> = items.iter().map(|i| i["cart_id"]["S"].as_str().unwrap()).collect();
    assert_eq!((items.len(), ids.len()), (300, 300), "each item exactly once");
    let c7 = items.iter().find(|i| i["cart_id"]["S"] == "c0007").unwrap();
    assert_eq!(c7, &cart(7, "10.50", 1_764_000_007), "the raw item is the item, type wrappers and all");

    let answer = handle(&load, &scheduled).await.unwrap();
    assert_eq!(answer["tables"][0]["rows_loaded"], 300, "{answer}");
    let loaded = rows(
        warehouse.as_ref(),
        "SELECT cart_id, customer_id, region, first_sku, total, updated_at FROM carts WHERE cart_id = 'c0007'",
    )
    .await;
    assert_eq!(
        loaded,
        vec![vec![
            Cell::str("c0007"),
            Cell::str("u7"),
            Cell::str("EU"),
            Cell::str("sku-0"),
            Cell::Float(10.5),
            Cell::Int(1_764_000_007),
        ]]
    );

    // Five carts change and two are new: the next run reads those seven and no other.
    let mut changed: Vec<Value> = (0..5).map(|n| cart(n * 50, "99.00", 1_764_100_000 + u64::from(n))).collect();
    changed.extend([cart(300, "5.00", 1_764_100_010), cart(301, "6.00", 1_764_100_011)]);
    put(&api, changed).await;
    clock.set(at("2026-11-30T02:00:00Z"));
    let answer = handle(&extract, &scheduled).await.unwrap();
    assert_eq!(extracted_rows(&answer), 7, "{answer}");
    handle(&load, &scheduled).await.unwrap();
    let summary = rows(
        warehouse.as_ref(),
        "SELECT COUNT(*), CAST(SUM(total) AS DOUBLE PRECISION), SUM(CASE WHEN total = 99 THEN 1 ELSE 0 END) FROM carts",
    )
    .await;
    assert_eq!(summary, vec![vec![Cell::Int(302), Cell::Float(295.0 * 10.5 + 5.0 * 99.0 + 11.0), Cell::Int(5)]]);

    // Nothing moved since: nothing is read.
    clock.set(at("2026-12-01T02:00:00Z"));
    let answer = handle(&extract, &scheduled).await.unwrap();
    assert_eq!(extracted_rows(&answer), 0, "{answer}");
}
