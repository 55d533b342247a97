//! The report function on the AWS adapters answers what `tidemark up` answers: the same
//! orders loaded into the Redshift adapter (its SQL on the loopback PostgreSQL) and into
//! DuckDB, the same purchase events indexed into OpenSearch (osmem) and tantivy, and
//! the one report router over each pair, asked the same questions over HTTP. The two
//! answers must agree bucket by bucket: side, value and every group.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value as Json;
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{Dialect, InlineStaging, OpenSearchIndex, PgRunner, SearchAuth, SqlWarehouse};
use tidemark_core::batch::{jobs, Pipeline, Silent};
use tidemark_core::bucket::Interval;
use tidemark_core::clock::FixedClock;
use tidemark_core::contract::sample_event;
use tidemark_core::event::{Event, EventType};
use tidemark_core::ports::{SearchIndex, Warehouse};
use tidemark_local::{DirObjectStore, DuckWarehouse, TantivyIndex};
use tidemark_report::{BatchReports, ReportState};
use tidemark_sources::Connectors;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA: &str = "tm_report_equal";
const REGIONS: [&str; 3] = ["EU", "US", "APAC"];

/// Orders over one day, every 23 minutes; amounts in quarters, so that every sum is
/// exact in binary floating point whatever order a store adds them in.
fn orders(day: DateTime<Utc>) -> Vec<(String, &'static str, f64, DateTime<Utc>)> {
    (0..62)
        .map(|n: i64| {
            let amount = ((n * 37) % 40 + 1) as f64 * 0.25;
            (format!("A-{n}"), REGIONS[(n % 3) as usize], amount, day + Duration::minutes(n * 23 + 1))
        })
        .collect()
}

/// Real time saw every order but each ninth, differing in value for each seventh, and
/// two orders batch never has.
fn events(day: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for (n, (id, region, amount, at)) in orders(day).into_iter().enumerate() {
        if n % 9 == 4 {
            continue;
        }
        let amount = if n % 7 == 3 { amount + 0.5 } else { amount };
        let mut event = sample_event(&format!("e{n}"), EventType::Purchase, at, region, Some(amount));
        event.order_id = Some(id);
        out.push(event);
    }
    for (n, hour) in [(100, 3), (101, 17)] {
        let mut event =
            sample_event(&format!("e{n}"), EventType::Purchase, day + Duration::hours(hour), "EU", Some(6.25));
        event.order_id = Some(format!("R-{n}"));
        out.push(event);
    }
    out
}

async fn serve(state: ReportState) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, tidemark_report::router(state)).await.unwrap() });
    addr
}

async fn fresh_pg_warehouse() -> SqlWarehouse<PgRunner, InlineStaging> {
    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).await.unwrap();
    SqlWarehouse::new(PgRunner::connect(PG, Some(SCHEMA)).await.unwrap(), InlineStaging::default(), Dialect::Postgres)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn the_report_function_on_aws_adapters_answers_what_the_local_stack_answers() {
    let osmem = Emulator::osmem();
    let dir = tempfile::tempdir().unwrap();
    let day = Interval::Day.floor(Utc::now() - Duration::days(2));

    // Batch holds the orders of the day's first half: the tidemark lands at noon.
    let mut csv = String::from("order_id,region,amount_eur,ordered_at\n");
    for (id, region, amount, at) in orders(day).into_iter().filter(|o| o.3 < day + Duration::hours(12)) {
        csv.push_str(&format!("{id},{region},{amount:.2},{}\n", at.format("%Y-%m-%d %H:%M:%S")));
    }
    std::fs::write(dir.path().join("orders.csv"), csv).unwrap();
    let pipeline = Pipeline::parse(tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    let store = DirObjectStore::new(dir.path().join("interim"));
    let clock = Arc::new(FixedClock::new(day + Duration::days(2)));
    jobs::batch_extract(&pipeline, None, &Connectors::new(dir.path()), &store, clock.as_ref(), &Silent).await.unwrap();

    let duck: Arc<dyn Warehouse> = Arc::new(DuckWarehouse::open(&dir.path().join("warehouse.duckdb")).unwrap());
    let redshift: Arc<dyn Warehouse> = Arc::new(fresh_pg_warehouse().await);
    let tantivy: Arc<dyn SearchIndex> = Arc::new(TantivyIndex::open(&dir.path().join("index")).unwrap());
    let opensearch = OpenSearchIndex::connect(&osmem.url(), SearchAuth::None, "equal-events").unwrap();
    opensearch.ensure_template().await.unwrap();
    let opensearch: Arc<dyn SearchIndex> = Arc::new(opensearch);
    let events = events(day);
    let mut addrs = Vec::new();
    for (warehouse, index) in [(&duck, &tantivy), (&redshift, &opensearch)] {
        let loaded = jobs::batch_load(&pipeline, None, &store, warehouse.as_ref(), clock.as_ref(), &Silent).await;
        assert_eq!(loaded.unwrap()[0].rows_loaded, 32);
        index.index_events(&events).await.unwrap();
        let batch = BatchReports {
            reports: Arc::new(pipeline.reports.clone()),
            analyses: Arc::new(pipeline.analyses.clone()),
            warehouse: Arc::clone(warehouse),
            interim: None,
        };
        addrs.push(
            serve(ReportState {
                index: Arc::clone(index),
                clock: clock.clone(),
                batch: Some(batch),
                no_pipeline: Arc::from(""),
                jobs: None,
                keys: None,
            })
            .await,
        );
    }

    let client = reqwest::Client::new();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (from, to) = (stamp(day), stamp(day + Duration::days(1)));
    for query in [
        format!("from={from}&to={to}&interval=hour&by=region"),
        format!("from={from}&to={to}&interval=hour"),
        format!("from={from}&to={to}&interval=day&by=region"),
        format!(
            "from={}&to={}&interval=minute&by=region",
            stamp(day + Duration::hours(10)),
            stamp(day + Duration::hours(14))
        ),
    ] {
        let mut answers = Vec::new();
        for addr in &addrs {
            let answer = client.get(format!("http://{addr}/v1/reports/sales?{query}")).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{query}");
            answers.push(answer.json::<Json>().await.unwrap());
        }
        let (local, aws) = (&answers[0], &answers[1]);
        assert_eq!(local["tidemark"], aws["tidemark"], "{query}");
        let (local_points, aws_points) = (local["points"].as_array().unwrap(), aws["points"].as_array().unwrap());
        assert_eq!(local_points.len(), aws_points.len(), "{query}");
        for (l, a) in local_points.iter().zip(aws_points) {
            assert_eq!(l, a, "{query}: the bucket {} differs", l["start"]);
        }
        assert_eq!(local["total"], aws["total"], "{query}");
        let sides: Vec<&str> = local_points.iter().map(|p| p["side"].as_str().unwrap()).collect();
        if query.starts_with(&format!("from={from}&to={to}&interval=hour")) {
            assert_eq!(&sides[..12], ["batch"; 12], "{query}");
            assert_eq!(&sides[12..], ["realtime"; 12], "{query}");
            let (batch, realtime) = (local["batch_total"].as_f64().unwrap(), local["realtime_total"].as_f64().unwrap());
            assert!(batch > 0.0 && realtime > 0.0, "both sides answered: {local}");
        }
    }
    let csv = |addr: std::net::SocketAddr| {
        let url = format!("http://{addr}/v1/reports/sales?from={from}&to={to}&interval=hour&by=region&format=csv");
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(csv(addrs[0]).await, csv(addrs[1]).await, "the CSV answers are the same text");
}
