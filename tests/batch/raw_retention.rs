//! The interim store expires raw runs (S3's lifecycle rule on AWS, the retention pass
//! here), yet the state that loads read must survive it: batch-load compacts it before
//! half the retention has passed. A warehouse rebuilt from the interim store after
//! expiry holds what one rebuilt before it held.

use chrono::Duration;
use tidemark_core::batch::raw_retention::RawRetention;

use crate::support::{Shop, Table};

/// Every table but `carts`, whose source only a `new` table reads.
const STATE_TABLES: [Table; 5] =
    [Table::Orders, Table::Customers, Table::Products, Table::PageViews, Table::DailySales];

async fn tables(shop: &Shop) -> Vec<Vec<Vec<tidemark_core::batch::Value>>> {
    let mut out = Vec::new();
    for t in STATE_TABLES {
        out.push(shop.rows(t).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_rebuilt_after_raw_expiry_equals_one_rebuilt_before() {
    let mut shop = Shop::start().await;
    let raw = RawRetention { keep: Duration::days(90) };
    shop.extract().await;
    shop.load_job(raw).await;
    shop.change_sources();
    shop.next_run();
    shop.extract().await;
    let second = shop.load_job(raw).await;
    assert!(second.raw_compacted.is_empty(), "nothing is near expiry: {second:?}");
    let live = tables(&shop).await;
    let snapshot_tables = [&live[2], &live[3], &live[4]];

    // Rebuilt from every original run.
    shop.new_warehouse("rebuilt-before");
    shop.load_job(raw).await;
    let before = tables(&shop).await;
    assert_eq!([&before[2], &before[3], &before[4]], snapshot_tables, "snapshot tables read the state");
    assert_eq!(before[0].len(), live[0].len());

    // 46 days on, the load compacts every source whose state loads read: the
    // incremental orders and customers (last row per key), the access log (every line),
    // the products snapshot (its latest run). Carts are only read as new runs.
    shop.advance(Duration::days(46));
    let compacted = shop.load_job(raw).await;
    let mut sources: Vec<(&str, usize, u64)> =
        compacted.raw_compacted.iter().map(|c| (c.source.as_str(), c.runs, c.rows)).collect();
    sources.sort();
    assert_eq!(
        sources,
        [("access", 2, 8), ("customers", 2, 6), ("orders", 2, 12), ("products", 1, 4)],
        "{compacted:?}"
    );
    assert!(compacted.tables.iter().all(|t| t.load_id.is_none()), "the compacted runs count as loaded");
    for source in ["orders", "customers", "access", "products"] {
        let runs = shop.runs(source).await;
        assert_eq!(runs.len(), 1, "{source}: one compacted run left");
        assert!(runs[0].compacted.is_some(), "{source}");
    }

    // 60 days later: the original carts runs are past 90 days and go; the compacted
    // runs are 60 days old and stay.
    shop.advance(Duration::days(60));
    assert_eq!(shop.expire_raw(raw.keep).await, 2, "the two carts runs");
    assert!(shop.runs("carts").await.is_empty());

    // Rebuilt after expiry: the same tables as rebuilt before it. (At the time of that
    // rebuild, as rules such as `age(birth_date)` read the clock.)
    shop.new_warehouse("rebuilt-after");
    shop.advance(-Duration::days(106));
    let rebuilt = shop.load_job(raw).await;
    assert_eq!(tables(&shop).await, before, "{rebuilt:?}");
    shop.advance(Duration::days(106));

    // The next compaction rewrites the state in place, so it never reaches 90 days; the
    // tables that loaded it have it still.
    let refreshed = shop.load_job(raw).await;
    assert_eq!(refreshed.raw_compacted.len(), 4, "{refreshed:?}");
    assert!(refreshed.tables.iter().all(|t| t.load_id.is_none()), "{refreshed:?}");
    shop.advance(Duration::days(80));
    assert_eq!(shop.expire_raw(raw.keep).await, 0);
    assert_eq!(shop.runs("orders").await.len(), 1);
}
