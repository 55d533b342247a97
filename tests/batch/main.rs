//! The batch path end to end against the real PostgreSQL and MariaDB on this machine:
//! the example shop's pipeline file (examples/shop, the one docs/batch.md documents) is
//! extracted and loaded three times — first load, an incremental one after new and
//! updated rows, and one with nothing new — and the warehouse is checked row by row.

// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

mod dynamodb;
mod raw_retention;
mod support;

use chrono::{TimeZone, Utc};
use support::{Shop, Table};
use tidemark_core::batch::jobs::JobError;
use tidemark_core::batch::load::LoadError;
use tidemark_core::batch::Value;

fn s(x: &str) -> Value {
    Value::str(x)
}

fn i(x: i64) -> Value {
    Value::Int(x)
}

fn f(x: f64) -> Value {
    Value::Float(x)
}

fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Value {
    Value::Timestamp(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
}

fn day(y: i32, mo: u32, d: u32) -> Value {
    Value::Date(chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap())
}

#[allow(clippy::too_many_arguments)]
fn order(
    id: i64,
    cust: i64,
    sku: &str,
    name: Value,
    qty: i64,
    eur: f64,
    region: &str,
    gender: Value,
    status: &str,
    at: Value,
) -> Vec<Value> {
    let (d, h) = match &at {
        Value::Timestamp(t) => (Value::Date(t.date_naive()), i(i64::from(chrono::Timelike::hour(t)))),
        _ => (Value::Null, Value::Null),
    };
    vec![i(id), i(cust), s(sku), name, i(qty), f(eur), s(region), gender, s(status), at, d, h]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_extracts_and_loads_incrementally_and_a_third_run_changes_nothing() {
    let shop = Shop::start().await;

    // ---- run 1: everything is new ----
    let extracted = shop.extract().await;
    let rows: Vec<(String, u64)> = extracted.iter().map(|e| (e.source.clone(), e.rows)).collect();
    assert_eq!(
        rows,
        [
            ("orders".into(), 10),
            ("customers".into(), 5),
            ("products".into(), 4),
            ("carts".into(), 4),
            ("access".into(), 6)
        ]
    );
    // Extract keeps the data unchanged: the CSV part is the file itself.
    let products_run = shop.latest_manifest("products").await;
    assert_eq!(shop.part(&products_run.parts[0].key).await, std::fs::read(shop.dir.join("products.csv")).unwrap());
    let orders_run1 = shop.latest_manifest("orders").await;
    assert_eq!(orders_run1.cursor_to, Some(serde_json::json!("2026-11-24 21:41:00+00")));
    assert!(orders_run1.columns.iter().any(|c| c.name == "amount" && c.ty == "numeric"));

    let loaded = shop.load().await;
    let by_table: Vec<(String, u64, u64, u64)> =
        loaded.iter().map(|l| (l.table.clone(), l.rows_loaded, l.rows_discarded, l.rows_quarantined)).collect();
    assert_eq!(
        by_table,
        [
            ("orders".into(), 7, 1, 2),
            ("customers".into(), 5, 0, 0),
            ("products".into(), 3, 0, 2),
            ("carts".into(), 3, 0, 1),
            ("page_views_hourly".into(), 3, 1, 1),
            ("daily_sales".into(), 3, 1, 2),
        ]
    );

    let (eu_f, us_m, none) = (i(1), i(2), Value::Null);
    let mut orders_want = vec![
        order(1, 1, "SKU-1", s("Mug"), 1, 19.99, "EU", eu_f.clone(), "paid", ts(2026, 11, 24, 9, 15)),
        order(2, 2, "SKU-2", s("Lamp, desk"), 2, 46.0, "US", us_m.clone(), "paid", ts(2026, 11, 24, 10, 30)),
        order(3, 1, "SKU-3", s("Sticker"), 1, 5.85, "EU", eu_f.clone(), "paid", ts(2026, 11, 24, 11, 0)),
        order(4, 3, "SKU-1", s("Mug"), 3, 59.97, "EU", eu_f.clone(), "shipped", ts(2026, 11, 24, 13, 45)),
        order(5, 4, "SKU-2", s("Lamp, desk"), 1, 23.0, "US", none.clone(), "paid", ts(2026, 11, 24, 15, 20)),
        order(9, 5, "SKU-9", Value::Null, 1, 12.5, "APAC", eu_f.clone(), "paid", ts(2026, 11, 24, 18, 5)),
        order(10, 1, "SKU-2", s("Lamp, desk"), 4, 92.0, "EU", eu_f.clone(), "paid", ts(2026, 11, 24, 21, 40)),
    ];
    assert_eq!(shop.rows(Table::Orders).await, orders_want);
    assert_eq!(
        shop.rows(Table::Customers).await,
        vec![
            vec![i(1), s("alice@example.com"), i(1), i(36), s("DE")],
            vec![i(2), s("bob@example.com"), i(2), i(40), s("US")],
            vec![i(3), s("carol@example.com"), i(1), i(26), s("FR")],
            vec![i(4), s("dan@example.com"), Value::Null, i(47), s("US")],
            vec![i(5), s("eve@example.com"), i(1), i(31), s("SG")],
        ]
    );
    assert_eq!(
        shop.rows(Table::Products).await,
        vec![
            vec![s("SKU-1"), s("Mug"), s("kitchen"), f(19.99)],
            vec![s("SKU-2"), s("Lamp, desk"), s("home"), f(25.0)],
            vec![s("SKU-3"), s("Sticker"), s("misc"), f(5.0)],
        ]
    );
    assert_eq!(
        shop.rows(Table::Carts).await,
        vec![
            vec![s("cart-1"), i(1), s("EU"), s("SKU-1"), f(19.99), s("EUR"), ts(2026, 11, 24, 9, 0)],
            vec![s("cart-2"), i(2), s("US"), s("SKU-2"), f(50.0), s("USD"), ts(2026, 11, 24, 10, 0)],
            vec![s("cart-3"), i(4), Value::Null, Value::Null, f(0.0), s("EUR"), ts(2026, 11, 24, 12, 0)],
        ]
    );
    assert_eq!(
        shop.rows(Table::PageViews).await,
        vec![
            vec![ts(2026, 11, 24, 9, 0), s("/cart"), i(1), i(0), i(128)],
            vec![ts(2026, 11, 24, 9, 0), s("/products/1"), i(2), i(0), i(1024)],
            vec![ts(2026, 11, 24, 10, 0), s("/missing"), i(1), i(1), i(64)],
        ]
    );
    assert_eq!(
        shop.rows(Table::DailySales).await,
        vec![
            vec![day(2026, 11, 24), s("APAC"), i(1), f(12.5)],
            vec![day(2026, 11, 24), s("EU"), i(4), f(177.81)],
            vec![day(2026, 11, 24), s("US"), i(2), f(69.0)],
        ]
    );

    // Quarantine: where each bad row came from and why.
    let q = shop.quarantine("orders").await;
    let why: Vec<(u64, String, String, String)> = q
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["rule"].to_string(), r["field"].to_string(), r["reason"].to_string()))
        .collect();
    assert_eq!(why.len(), 2, "{q:?}");
    assert_eq!((why[0].0, why[0].1.as_str(), why[0].2.as_str()), (7, "\"require\"", "\"amount\""));
    assert_eq!((why[1].0, why[1].1.as_str()), (8, "\"currency\""));
    assert!(why[1].3.contains("JPY"), "{}", why[1].3);
    let q = shop.quarantine("products").await;
    assert_eq!(q.len(), 2);
    assert_eq!((q[0]["line"].as_u64(), q[0]["rule"].as_str()), (Some(5), Some("parse")));
    assert_eq!(
        (q[1]["line"].as_u64(), q[1]["rule"].as_str(), q[1]["field"].as_str()),
        (Some(6), Some("cast"), Some("price"))
    );
    assert!(q[0]["part"].as_str().unwrap().starts_with("raw/products/"));
    assert_eq!(shop.quarantine("page_views_hourly").await[0]["line"].as_u64(), Some(6));
    assert_eq!(shop.quarantine("carts").await[0]["line"].as_u64(), Some(4));

    let marks = shop.watermarks().await;
    assert_eq!(marks["orders/orders"], Some(Utc.with_ymd_and_hms(2026, 11, 24, 21, 40, 0).unwrap()));
    assert_eq!(marks["orders/daily_sales"], Some(Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()));
    assert_eq!(marks["carts/carts"], Some(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()));
    assert_eq!(marks["customers/customers"], None);

    // ---- run 2: new and updated rows everywhere ----
    shop.change_sources();
    shop.next_run();
    let extracted = shop.extract().await;
    let rows: Vec<(String, u64)> = extracted.iter().map(|e| (e.source.clone(), e.rows)).collect();
    assert_eq!(
        rows,
        [
            ("orders".into(), 3),
            ("customers".into(), 2),
            ("products".into(), 4),
            ("carts".into(), 2),
            ("access".into(), 2)
        ]
    );
    let orders_run2 = shop.latest_manifest("orders").await;
    assert_eq!(orders_run2.cursor_from, orders_run1.cursor_to);
    let loaded = shop.load().await;
    assert!(loaded.iter().all(|l| l.load_id.is_some()), "{loaded:?}");

    // Order 5 was refunded (updated in place), 11 and 12 are new; 12 is joined to the
    // renamed product, while order 3 keeps the name it was loaded with.
    orders_want[4] =
        order(5, 4, "SKU-2", s("Lamp, desk"), 1, 23.0, "US", none.clone(), "refunded", ts(2026, 11, 24, 15, 20));
    orders_want.push(order(11, 2, "SKU-1", s("Mug"), 2, 39.98, "US", us_m.clone(), "paid", ts(2026, 11, 25, 8, 10)));
    orders_want.push(order(
        12,
        6,
        "SKU-3",
        s("Sticker pack"),
        1,
        7.02,
        "US",
        us_m.clone(),
        "paid",
        ts(2026, 11, 25, 9, 30),
    ));
    assert_eq!(shop.rows(Table::Orders).await, orders_want);
    let customers = shop.rows(Table::Customers).await;
    assert_eq!(customers.len(), 6);
    assert_eq!(customers[1], vec![i(2), s("bob@example.com"), i(2), i(40), s("CA")]);
    assert_eq!(customers[5], vec![i(6), s("frank@example.com"), i(2), i(25), s("GB")]);
    assert_eq!(
        shop.rows(Table::Products).await,
        vec![
            vec![s("SKU-1"), s("Mug"), s("kitchen"), f(19.99)],
            vec![s("SKU-2"), s("Lamp, desk"), s("home"), f(25.0)],
            vec![s("SKU-3"), s("Sticker pack"), s("misc"), f(5.5)],
            vec![s("SKU-6"), s("Tote bag"), s("misc"), f(12.0)],
        ]
    );
    let carts = shop.rows(Table::Carts).await;
    assert_eq!(carts.len(), 4);
    assert_eq!(carts[1], vec![s("cart-2"), i(2), s("US"), s("SKU-2"), f(75.0), s("USD"), ts(2026, 11, 25, 7, 0)]);
    assert_eq!(carts[3][0], s("cart-5"));
    assert_eq!(
        shop.rows(Table::PageViews).await,
        vec![
            vec![ts(2026, 11, 24, 9, 0), s("/cart"), i(1), i(0), i(128)],
            vec![ts(2026, 11, 24, 9, 0), s("/products/1"), i(2), i(0), i(1024)],
            vec![ts(2026, 11, 24, 10, 0), s("/cart"), i(1), i(0), i(100)],
            vec![ts(2026, 11, 24, 10, 0), s("/missing"), i(1), i(1), i(64)],
            vec![ts(2026, 11, 25, 8, 0), s("/products/1"), i(1), i(0), i(512)],
        ]
    );
    assert_eq!(
        shop.rows(Table::DailySales).await,
        vec![
            vec![day(2026, 11, 24), s("APAC"), i(1), f(12.5)],
            vec![day(2026, 11, 24), s("EU"), i(4), f(177.81)],
            vec![day(2026, 11, 24), s("US"), i(1), f(46.0)],
            vec![day(2026, 11, 25), s("US"), i(2), f(47.0)],
        ]
    );
    let marks = shop.watermarks().await;
    assert_eq!(marks["orders/orders"], Some(Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap()));
    assert_eq!(marks["orders/daily_sales"], Some(Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()));

    // ---- run 3: nothing new; nothing changes ----
    let before = shop.snapshot().await;
    shop.next_run();
    let extracted = shop.extract().await;
    assert!(extracted.iter().all(|e| e.run_id.is_none()), "{extracted:?}");
    assert_eq!(extracted[2].note.split(' ').next(), Some("unchanged"));
    let loaded = shop.load().await;
    assert!(loaded.iter().all(|l| l.load_id.is_none() && l.note.starts_with("up to date")), "{loaded:?}");
    assert_eq!(shop.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_past_the_error_ratio_fails_and_loads_nothing() {
    let shop = Shop::files_only("max_error_ratio = 0.4", "max_error_ratio = 0.1").await;
    shop.extract_source("products").await;
    let err = shop.load_table("products").await.unwrap_err();
    match &err {
        JobError::Load(LoadError::TooManyErrors { table, bad, total, .. }) => {
            assert_eq!((table.as_str(), *bad, *total), ("products", 2, 5));
        }
        other => panic!("expected TooManyErrors, got {other}"),
    }
    assert!(err.to_string().contains("max_error_ratio"), "{err}");
    assert!(shop.rows(Table::Products).await.is_empty());
    assert!(shop.watermarks().await.is_empty());
    // The quarantine file is there to look at, and the stage is gone.
    assert_eq!(shop.quarantine("products").await.len(), 2);
    assert!(shop.query("SELECT * FROM tidemark_stage_products").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_extracting_the_same_range_gives_the_same_files() {
    let shop = Shop::files_only("", "").await;
    shop.extract_source("carts").await;
    let first = shop.latest_manifest("carts").await;
    // Forget the run (as if its manifest had never been written) and extract again.
    shop.forget_run(&first).await;
    shop.next_run();
    shop.extract_source("carts").await;
    let second = shop.latest_manifest("carts").await;
    assert_ne!(first.run_id, second.run_id);
    assert_eq!(
        (first.checksum.as_str(), first.rows, first.offset_to),
        (second.checksum.as_str(), second.rows, second.offset_to)
    );
    assert_eq!(shop.part(&first.parts[0].key).await, shop.part(&second.parts[0].key).await);
}

/// The example shop has no real-time source: its nightly realtime-compact has nothing to
/// do, and says so by answering no summaries rather than failing every night.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_compact_without_a_realtime_source_has_nothing_to_do() {
    let shop = Shop::files_only("", "").await;
    let kv = tidemark_core::memory::MemoryKv::default();
    let yesterday = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    assert!(shop.compact(&kv, yesterday).await.is_empty());
}

/// The batch documentation's pipeline example is the file the tests run.
#[test]
fn the_docs_show_the_example_pipeline_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("docs/batch.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/shop/tidemark.toml")).unwrap();
    let start = readme.find("<!-- pipeline-example:start -->\n```toml\n").expect("start marker")
        + "<!-- pipeline-example:start -->\n```toml\n".len();
    let end = readme.find("```\n<!-- pipeline-example:end -->").expect("end marker");
    assert_eq!(&readme[start..end], example, "docs/batch.md's copy of examples/shop/tidemark.toml differs");
}
