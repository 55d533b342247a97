//! The six scheduled job Lambdas' handlers, fed the payloads EventBridge sends, on the
//! AWS adapters: the interim store and a CSV export in S3 (moto), real-time events in
//! DynamoDB (moto) and OpenSearch (osmem-server), orders extracted from PostgreSQL with
//! the URL from the sources secret's variables, and the warehouse SQL the Redshift
//! adapter runs executed on PostgreSQL. Each handler's answer is checked against the
//! data, and so is the warehouse afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::jobs::env::STALE_AFTER;
use tidemark_aws::jobs::{handle, AwsSources, JobEnv, JobFailure};
use tidemark_aws::{
    provision, Dialect, DynamoKv, InlineStaging, OpenSearchIndex, PgRunner, S3ObjectStore, SearchAuth, SqlWarehouse,
};
use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::raw_retention::{self, RawRetention};
use tidemark_core::batch::{Pipeline, Value as Cell};
use tidemark_core::clock::{Clock, FixedClock};
use tidemark_core::consume::{index_batch, store_batch, StreamRecord};
use tidemark_core::event::Event;
use tidemark_core::job::{eventbridge_expression, Job, JobOptions, Port, RunHistory, RunStatus, Trigger};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::{ObjectStore, Query, SearchIndex, Warehouse};
use tidemark_sources::Connectors;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The user of the page view e8, who asks to be forgotten once the jobs have run.
const FORGOTTEN: &str = "user-who-leaves";

const PIPELINE: &str = r#"
[[source]]
name   = "orders"
kind   = "postgres"
url    = "${JOBS_PG_URL}"
query  = "SELECT order_id, sku, amount, currency, region, status, ordered_at, updated_at FROM tm_jobs_src.orders"
cursor = "updated_at"
key    = ["order_id"]

[[source]]
name = "products"
kind = "csv"
path = "s3://jobs/exports/products.csv"
mode = "snapshot"
key  = ["sku"]

[[source]]
name = "site"
kind = "realtime"

[[table]]
name       = "orders"
source     = "orders"
key        = ["order_id"]
event_time = "ordered_at"
load       = "merge"
columns = [
  { name = "order_id",     type = "varchar" },
  { name = "sku",          type = "varchar" },
  { name = "product_name", type = "varchar" },
  { name = "amount_eur",   type = "decimal(12,2)" },
  { name = "region",       type = "varchar" },
  { name = "status",       type = "varchar" },
  { name = "ordered_at",   type = "timestamp" },
]
[[table.rule]]
currency = { amount = "amount", currency = "currency", to = "EUR", rates = { USD = 0.5 } }
[[table.rule]]
rename = { amount = "amount_eur" }
[[table.rule]]
join = { source = "products", kind = "left", on = { sku = "sku" }, columns = ["name"] }
[[table.rule]]
rename = { name = "product_name" }

[[table]]
name   = "products"
source = "products"
input  = "snapshot"
load   = "overwrite"
key    = ["sku"]
columns = [
  { name = "sku",   type = "varchar" },
  { name = "name",  type = "varchar" },
  { name = "price", type = "decimal(10,2)" },
]

[[table]]
name             = "site_events"
source           = "site"
key              = ["source", "event_id"]   # an event is one event by source and id
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
  { name = "amount_eur",  type = "decimal(12,2)" },
  { name = "user_id",     type = "varchar" },
]
[[table.rule]]
join = { source = "orders", kind = "left", on = { order_id = "order_id" }, columns = ["status"] }
[[table.rule]]
discard = "status IS NOT NULL"
[[table.rule]]
rename = { amount = "amount_eur" }

[[report]]
name     = "sales_by_region"
title    = "Sales by region"
unit     = "EUR"
noun     = "orders"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", key = "order_id", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", by = { region = "region" } }

[[analysis]]
name         = "sales_watch"
kind         = "forecast"
report       = "sales_by_region"
grain        = "day"
history_days = 21
horizon      = 7

[[analysis]]
name  = "orders_profile"
kind  = "profile"
table = "orders"

[[analysis]]
name   = "order_value"
kind   = "segments"
table  = "orders"
entity = "order_id"
rfm    = { time = "ordered_at", value = "amount_eur" }
k      = 2
"#;

/// Orders on 2026-11-28 in PostgreSQL: (id, sku, amount, currency, region, hour).
const ORDERS: [(&str, &str, f64, &str, &str, u32); 6] = [
    ("A-1", "kite", 40.0, "EUR", "EU", 9),
    ("A-2", "kite", 40.0, "EUR", "EU", 10),
    ("A-3", "board", 120.0, "EUR", "US", 11),
    ("A-4", "board", 100.0, "USD", "US", 12),
    ("A-5", "leash", 15.0, "EUR", "EU", 13),
    ("A-6", "leash", 15.0, "EUR", "US", 14),
];

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/aws/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn seed_postgres() {
    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {PG} (start it as .ci/run does): {e}"));
    tokio::spawn(connection);
    let mut sql = String::from(
        "DROP SCHEMA IF EXISTS tm_jobs_src CASCADE; DROP SCHEMA IF EXISTS tm_jobs_wh CASCADE; \
         DROP SCHEMA IF EXISTS tm_jobs_rebuilt CASCADE; \
         CREATE SCHEMA tm_jobs_src; CREATE TABLE tm_jobs_src.orders (order_id text PRIMARY KEY, sku text, \
         amount numeric(12,2), currency text, region text, status text, ordered_at timestamp, updated_at timestamp);",
    );
    for (id, sku, amount, currency, region, hour) in ORDERS {
        let t = format!("2026-11-28 {hour:02}:20:00");
        sql.push_str(&format!(
            "INSERT INTO tm_jobs_src.orders VALUES ('{id}', '{sku}', {amount}, '{currency}', '{region}', 'paid', '{t}', '{t}');"
        ));
    }
    client.batch_execute(&sql).await.unwrap();
}

/// Real-time events as the stream consumers would have stored and indexed them:
/// purchases for A-1..A-4 (A-5 and A-6 never arrived), R-1 and R-2 that batch does not
/// know, and R-3 after the tidemark.
fn events() -> Vec<StreamRecord> {
    let purchase = |id: &str, order: &str, region: &str, amount: f64, t: &str| {
        json!({"event_id": id, "event_type": "purchase", "occurred_at": t, "received_at": t, "source": "web",
               "anonymous_id": "v1", "order_id": order, "region": region, "amount": amount, "currency": "EUR"})
    };
    let mut events = vec![
        purchase("e1", "A-1", "EU", 40.0, "2026-11-28T09:20:01Z"),
        purchase("e2", "A-2", "EU", 40.0, "2026-11-28T10:20:01Z"),
        purchase("e3", "A-3", "US", 120.0, "2026-11-28T11:20:01Z"),
        purchase("e4", "A-4", "US", 50.0, "2026-11-28T12:20:01Z"),
        purchase("e5", "R-1", "EU", 7.0, "2026-11-28T11:40:00Z"),
        purchase("e6", "R-2", "US", 9.0, "2026-11-28T12:40:00Z"),
        purchase("e7", "R-3", "EU", 33.0, "2026-11-28T20:05:00Z"),
    ];
    events.push(json!({"event_id": "e8", "event_type": "page_view", "occurred_at": "2026-11-28T12:00:00Z",
                       "received_at": "2026-11-28T12:00:00Z", "source": "web", "anonymous_id": "v1", "region": "EU",
                       "user_id": FORGOTTEN}));
    events
        .into_iter()
        .enumerate()
        .map(|(n, v)| StreamRecord {
            shard_id: "shardId-000000000000".into(),
            sequence_number: format!("{:020}", n + 1),
            data: serde_json::from_value::<Event>(v).unwrap().to_record_bytes(),
        })
        .collect()
}

async fn rows(warehouse: &dyn Warehouse, sql: &str) -> Vec<Vec<Cell>> {
    warehouse.query(&Query::new(sql)).await.unwrap().rows
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn scheduled_jobs_extract_load_compact_reconcile_and_refresh_views() {
    let (moto, osmem) = (Emulator::moto(), Emulator::osmem());
    let clients = moto.clients().await;
    provision::bucket(&clients, "jobs").await.unwrap();
    provision::kv_table(&clients, "events").await.unwrap();
    seed_postgres().await;
    let exports = S3ObjectStore::new(clients.s3.clone(), "jobs", "");
    exports
        .put("exports/products.csv", b"sku,name,price\nkite,Kite 9m,40\nboard,Board,120\nleash,Leash,15\n".to_vec())
        .await
        .unwrap();

    let pipeline = Arc::new(Pipeline::parse(PIPELINE).unwrap());
    let store: Arc<dyn ObjectStore> = Arc::new(S3ObjectStore::new(clients.s3.clone(), "jobs", "interim"));
    let warehouse: Arc<dyn Warehouse> = Arc::new(SqlWarehouse::new(
        PgRunner::connect(PG, Some("tm_jobs_wh")).await.unwrap(),
        InlineStaging::default(),
        Dialect::Postgres,
    ));
    let kv = Arc::new(DynamoKv::new(clients.dynamodb.clone(), "events"));
    let layout = KvLayout::default();
    let index = Arc::new(OpenSearchIndex::connect(&osmem.url(), SearchAuth::None, "jobs-events").unwrap());
    index.ensure_template().await.unwrap();
    let records = events();
    assert!(store_batch(&records, kv.as_ref(), &layout).await.failures.is_empty());
    assert!(index_batch(&records, index.as_ref()).await.failures.is_empty());
    // The night after the events' day, as the schedules fire.
    let clock = Arc::new(FixedClock::new(at("2026-11-29T02:31:00Z")));
    let scheduled = fixture("eventbridge-scheduled.json");

    // batch-extract: the URL's ${JOBS_PG_URL} comes from the sources secret's variables.
    let sources = AwsSources {
        connectors: Connectors::new(".").with_vars(HashMap::from([("JOBS_PG_URL".to_string(), PG.to_string())])),
        s3: clients.s3.clone(),
    };
    let sources: Arc<dyn SourceFactory> = Arc::new(sources);
    // Every run is recorded in the job history, in the events table.
    let history = RunHistory::new(kv.clone() as Arc<dyn KvStore>, clock.clone() as Arc<dyn Clock>, Some(STALE_AFTER));
    // Each job's function as its cold start opens it: only the stores the job names.
    let function = |job: Job| JobEnv {
        job,
        pipeline: pipeline.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        raw_retention: RawRetention::default(),
        sources: job.needs(Port::Sources).then(|| sources.clone()),
        interim: job.needs(Port::Interim).then(|| store.clone()),
        warehouse: job.needs(Port::Warehouse).then(|| warehouse.clone()),
        kv: job.needs(Port::Kv).then(|| (kv.clone() as Arc<dyn KvStore>, layout.clone())),
        index: job.needs(Port::Index).then(|| index.clone() as Arc<dyn SearchIndex>),
        notifier: None,
        history: Some(history.clone()),
        schedule: Some(eventbridge_expression(job.default_cron()).unwrap()),
    };

    // A function scheduled at another time than the pipeline file says refuses to run,
    // naming the parameter to deploy with; it extracts nothing.
    let elsewhere = JobEnv { schedule: Some("cron(0 3 * * ? *)".into()), ..function(Job::BatchExtract) };
    let err = handle(&elsewhere, &scheduled).await.unwrap_err();
    assert!(matches!(err, JobFailure::Schedule { .. }), "{err}");
    assert!(err.to_string().contains("BatchExtractSchedule=\"cron(0 2 * * ? *)\""), "{err}");
    assert!(store.list("raw/").await.unwrap().is_empty());

    let extract = function(Job::BatchExtract);
    let answer = handle(&extract, &scheduled).await.unwrap();
    let by_source: HashMap<&str, u64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["source"].as_str().unwrap(), s["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(by_source, HashMap::from([("orders", 6), ("products", 3)]), "{answer}");
    // A second run finds nothing new in PostgreSQL.
    clock.set(at("2026-11-29T02:32:00Z"));
    let again = handle(&extract, &scheduled).await.unwrap();
    assert_eq!(again[0]["rows"], 0, "{again}");
    // A misspelt option is refused, naming the field, and extracts nothing.
    let err = handle(&extract, &json!({"onyl": "orders"})).await.unwrap_err();
    assert!(err.to_string().contains("field onyl: unknown option"), "{err}");

    // batch-load: the rules applied (USD converted, product names joined) on the SQL the
    // Redshift adapter runs.
    let load = function(Job::BatchLoad);
    let answer = handle(&load, &scheduled).await.unwrap();
    assert_eq!(answer["raw_compacted"], json!([]), "nothing is near expiry yet: {answer}");
    let loaded: HashMap<&str, u64> = answer["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["table"].as_str().unwrap(), s["rows_loaded"].as_u64().unwrap()))
        .collect();
    assert_eq!(loaded["orders"], 6, "{answer}");
    assert_eq!(loaded["products"], 3, "{answer}");
    let orders =
        rows(warehouse.as_ref(), "SELECT order_id, product_name, amount_eur FROM orders ORDER BY order_id").await;
    assert_eq!(orders.len(), 6);
    assert_eq!(orders[3], vec![Cell::str("A-4"), Cell::str("Board"), Cell::Float(50.0)]);

    // realtime-compact: the day before the schedule fired; orders batch has are dropped.
    let compact = function(Job::RealtimeCompact);
    let answer = handle(&compact, &scheduled).await.unwrap();
    assert_eq!(answer[0]["day"], "2026-11-28", "{answer}");
    assert_eq!(answer[0]["events"], 8, "{answer}");
    let kept = rows(warehouse.as_ref(), "SELECT event_id FROM site_events ORDER BY event_id").await;
    let kept: Vec<String> = kept.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(kept, ["e5", "e6", "e7", "e8"]);
    // Run again (a scheduler retry): the day is replaced, nothing doubles.
    handle(&compact, &scheduled).await.unwrap();
    assert_eq!(rows(warehouse.as_ref(), "SELECT count(*) FROM site_events").await[0][0], Cell::Int(4));

    // reconcile, with the scheduler's input shape: A-5 and A-6 never arrived in real
    // time, R-1 and R-2 are not in batch; A-4 agrees once batch converted its dollars.
    let reconcile = function(Job::Reconcile);
    let answer = handle(&reconcile, &fixture("scheduler-input.json")).await.unwrap();
    let report = &answer[0];
    assert_eq!(report["report"], "sales_by_region", "{answer}");
    assert_eq!(report["missing_in_realtime"], 2, "{answer}");
    assert_eq!(report["missing_in_batch"], 2, "{answer}");
    assert_eq!(report["mismatched"], 0, "{answer}");

    // report-views: the BI view holds batch before the tidemark (15:00) and the real-time
    // rollup from the search index after it.
    let views = function(Job::ReportViews);
    let answer = handle(&views, &scheduled).await.unwrap();
    assert_eq!(answer[0]["view"], "report_sales_by_region", "{answer}");
    let sides = rows(
        warehouse.as_ref(),
        "SELECT side, CAST(SUM(value) AS DOUBLE PRECISION) FROM report_sales_by_region GROUP BY side ORDER BY side",
    )
    .await;
    assert_eq!(
        sides,
        vec![vec![Cell::str("batch"), Cell::Float(280.0)], vec![Cell::str("realtime"), Cell::Float(33.0)]]
    );

    // analyze: the four result tables, through the Redshift adapter's SQL and staging.
    let analyze = function(Job::Analyze);
    let answer = handle(&analyze, &scheduled).await.unwrap();
    let ran: Vec<&str> = answer.as_array().unwrap().iter().filter_map(|a| a["analysis"].as_str()).collect();
    assert_eq!(ran, ["sales_watch", "orders_profile", "order_value"], "{answer}");
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    let forecast = rows(warehouse.as_ref(), &count("analysis_forecast WHERE grp IS NULL AND phase = 'ahead'")).await;
    assert_eq!(forecast, vec![vec![Cell::Int(7)]], "{answer}");
    assert_eq!(rows(warehouse.as_ref(), &count("analysis_anomalies")).await.len(), 1, "the table exists");
    let profiled = rows(
        warehouse.as_ref(),
        "SELECT column_name, row_count, null_count FROM analysis_profile WHERE column_name IN ('order_id', 'product_name') \
         ORDER BY column_name",
    )
    .await;
    assert_eq!(
        profiled,
        vec![
            vec![Cell::str("order_id"), Cell::Int(6), Cell::Int(0)],
            vec![Cell::str("product_name"), Cell::Int(6), Cell::Int(0)]
        ]
    );
    assert_eq!(rows(warehouse.as_ref(), &count("analysis_segments")).await, vec![vec![Cell::Int(6)]]);

    // Every run above is in the job history in DynamoDB, as the scheduler started it:
    // newest first, the second extract with nothing new in PostgreSQL and the CSV's
    // three products again (a file is extracted whole each time).
    let extracts = history.runs(Job::BatchExtract, 10).await.unwrap();
    let seen: Vec<_> = extracts.iter().map(|r| (r.trigger, r.status, r.rows)).collect();
    assert_eq!(
        seen,
        vec![(Trigger::Schedule, RunStatus::Succeeded, Some(3)), (Trigger::Schedule, RunStatus::Succeeded, Some(9))]
    );
    assert_eq!(history.runs(Job::Analyze, 10).await.unwrap()[0].status, RunStatus::Succeeded);
    // A run the console began is carried out under its id; while it holds the lock a
    // scheduled run is refused, and the run cannot be carried out twice.
    let begun = history.begin(Job::ReportViews, &JobOptions::default(), Trigger::Console).await.unwrap();
    let refused = handle(&views, &scheduled).await.unwrap_err();
    assert!(refused.to_string().contains("already running"), "{refused}");
    handle(&views, &json!({"run_id": begun.id})).await.unwrap();
    let ran = history.run(Job::ReportViews, &begun.id).await.unwrap().unwrap();
    assert_eq!((ran.trigger, ran.status), (Trigger::Console, RunStatus::Succeeded));
    assert!(handle(&views, &json!({"run_id": begun.id})).await.unwrap_err().to_string().contains("holds no lock"));

    // forget: e8's user out of DynamoDB, OpenSearch, the warehouse and the raw files.
    let forget = tidemark_forget::Env {
        stores: tidemark_core::forget::Stores {
            kv: kv.as_ref(),
            layout: &layout,
            index: index.as_ref(),
            batch: Some(tidemark_core::forget::BatchStores {
                pipeline: &pipeline,
                warehouse: warehouse.as_ref(),
                interim: store.as_ref(),
            }),
        },
        stream_retention_hours: 168,
    };
    let answer = tidemark_forget::handle(&forget, &json!({"user_id": FORGOTTEN})).await.unwrap();
    let removed: HashMap<&str, u64> = answer["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["store"].as_str().unwrap(), s["removed"].as_u64().unwrap()))
        .collect();
    assert_eq!(removed["kv"], 1, "{answer}");
    assert_eq!(removed["index"], 1, "{answer}");
    assert_eq!(removed["warehouse.site_events"], 1, "{answer}");
    assert!(removed["raw.site"] >= 1, "{answer}");
    assert!(answer["stores"][0]["note"].as_str().unwrap().contains("168 hours"), "{answer}");
    let kept = rows(warehouse.as_ref(), "SELECT event_id FROM site_events ORDER BY event_id").await;
    assert_eq!(kept.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(), ["e5", "e6", "e7"]);
    let theirs = tidemark_core::search::Query::Term { field: "user_id".into(), value: FORGOTTEN.into() };
    let request = tidemark_core::search::SearchRequest { query: theirs, aggs: Default::default() };
    assert_eq!(tidemark_core::ports::SearchIndex::search(index.as_ref(), &request).await.unwrap().total, 0);
    let all = tidemark_core::search::SearchRequest {
        query: tidemark_core::search::Query::MatchAll,
        aggs: Default::default(),
    };
    assert_eq!(tidemark_core::ports::SearchIndex::search(index.as_ref(), &all).await.unwrap().total, 7);
    let items = tidemark_core::ports::KvStore::scan(kv.as_ref(), None, 1_000).await.unwrap();
    assert!(items.iter().all(|i| !String::from_utf8_lossy(&i.value).contains(FORGOTTEN)));
    let events = items.iter().filter(|i| i.key.pk.starts_with(&format!("{}#", layout.stream))).count();
    assert_eq!(events, 14, "seven events and their markers (beside the job history)");
    for key in store.list("raw/").await.unwrap() {
        let body = store.get(&key).await.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&body).contains(FORGOTTEN), "{key} still names the person");
    }

    // 46 days on, half the bucket's 90-day raw retention: batch-load rewrites the state
    // that loads read (orders, joined by site_events; the products snapshot, joined by
    // orders) as compacted runs on S3. The real-time runs only a `new` table reads.
    let tables = "SELECT order_id, sku, product_name, amount_eur, region, status, ordered_at FROM orders \
                  ORDER BY order_id";
    let (orders_before, products_before) =
        (rows(warehouse.as_ref(), tables).await, rows(warehouse.as_ref(), "SELECT * FROM products ORDER BY sku").await);
    clock.set(at("2027-01-14T02:15:00Z"));
    let answer = handle(&load, &scheduled).await.unwrap();
    let compacted: Vec<&str> =
        answer["raw_compacted"].as_array().unwrap().iter().map(|c| c["source"].as_str().unwrap()).collect();
    assert_eq!(compacted, ["orders", "products"], "{answer}");
    for source in ["orders", "products"] {
        let keys = store.list(&format!("raw/{source}/")).await.unwrap();
        assert!(!keys.is_empty() && keys.iter().all(|k| k.contains("-compacted/")), "{keys:?}");
    }

    // 60 days later the bucket's lifecycle rule (90 days; applied here as the local
    // retention pass applies it) has taken the real-time runs, not the compacted ones.
    clock.set(at("2027-03-15T02:15:00Z"));
    let expired = raw_retention::expire(store.as_ref(), clock.now() - chrono::Duration::days(90)).await.unwrap();
    assert!(expired >= 1, "the real-time runs of 2026-11-29");
    assert!(store.list("raw/site/").await.unwrap().is_empty());

    // A warehouse rebuilt from the bucket now holds the same orders and products.
    let rebuilt: Arc<dyn Warehouse> = Arc::new(SqlWarehouse::new(
        PgRunner::connect(PG, Some("tm_jobs_rebuilt")).await.unwrap(),
        InlineStaging::default(),
        Dialect::Postgres,
    ));
    let rebuild = JobEnv { warehouse: Some(rebuilt.clone()), ..load };
    let answer = handle(&rebuild, &scheduled).await.unwrap();
    assert_eq!(rows(rebuilt.as_ref(), tables).await, orders_before, "{answer}");
    assert_eq!(rows(rebuilt.as_ref(), "SELECT * FROM products ORDER BY sku").await, products_before);
}
