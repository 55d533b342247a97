//! The real-time half of the pipeline's jobs on the in-memory adapters (key-value
//! store, search index, interim store) and DuckDB's `:memory:` warehouse: no files, no
//! servers, a second to run. A day of events is consumed, compacted into the
//! warehouse, reconciled, reported on and rolled up into the BI views.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use tidemark_core::batch::{Pipeline, Silent};
use tidemark_core::bucket::Interval;
use tidemark_core::clock::FixedClock;
use tidemark_core::compact::Compactor;
use tidemark_core::consume::{index_batch, store_batch, StreamRecord};
use tidemark_core::contract::sample_event;
use tidemark_core::event::{Event, EventType};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::memory::{MemoryKv, MemoryObjectStore, MemorySearch};
use tidemark_core::ports::{KvStore, Query, Warehouse};
use tidemark_core::reconcile::Reconciler;
use tidemark_core::report::{run_report, views, ReportQuery};
use tidemark_local::DuckWarehouse;

const PIPELINE: &str = r#"
[[source]]
name = "site"
kind = "realtime"

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

[[report]]
name     = "revenue"
measure  = "sum"
batch    = { table = "site_events", time = "occurred_at", value = "amount", key = "order_id", filter = "event_type = 'purchase'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", by = { region = "region" } }
"#;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

/// 480 events over the day, every third a purchase of a whole number of euros.
fn events() -> Vec<Event> {
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
    let regions = ["EU", "US", "APAC"];
    (0..480i64)
        .map(|n| {
            let at = start + Duration::seconds(n * 179);
            let region = regions[(n % 3) as usize];
            match n % 3 {
                0 => sample_event(&format!("p{n}"), EventType::Purchase, at, region, Some((n % 40 + 1) as f64)),
                _ => sample_event(&format!("v{n}"), EventType::PageView, at, region, None),
            }
        })
        .collect()
}

struct Stores {
    pipeline: Pipeline,
    kv: MemoryKv,
    index: MemorySearch,
    raw: MemoryObjectStore,
    warehouse: DuckWarehouse,
    layout: KvLayout,
    /// Two hours into the next day: the day is closed.
    clock: FixedClock,
}

async fn consumed(events: &[Event]) -> Stores {
    let stores = Stores {
        pipeline: Pipeline::parse(PIPELINE).unwrap(),
        kv: MemoryKv::default(),
        index: MemorySearch::default(),
        raw: MemoryObjectStore::default(),
        warehouse: DuckWarehouse::in_memory().unwrap(),
        layout: KvLayout::default(),
        clock: FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()),
    };
    let records: Vec<StreamRecord> = events
        .iter()
        .enumerate()
        .map(|(n, event)| StreamRecord {
            shard_id: "shard-0".into(),
            sequence_number: format!("{n:020}"),
            data: event.to_record_bytes(),
        })
        .collect();
    assert!(store_batch(&records, &stores.kv, &stores.layout).await.failures.is_empty());
    assert!(index_batch(&records, &stores.index).await.failures.is_empty());
    stores
}

impl Stores {
    async fn compact(&self) -> u64 {
        let compactor = Compactor {
            pipeline: &self.pipeline,
            store: &self.raw,
            warehouse: &self.warehouse,
            kv: &self.kv,
            layout: &self.layout,
            clock: &self.clock,
            progress: &Silent,
        };
        let summaries = compactor.run(day()).await.unwrap();
        summaries.iter().map(|s| s.events).sum()
    }

    fn reconciler(&self) -> Reconciler<'_> {
        Reconciler {
            pipeline: &self.pipeline,
            warehouse: &self.warehouse,
            kv: &self.kv,
            layout: &self.layout,
            clock: &self.clock,
            lookback: Duration::days(7),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        self.warehouse.query(&Query::new(sql)).await.unwrap().single_int().unwrap()
    }
}

#[tokio::test]
async fn a_compacted_day_is_in_the_warehouse_once_and_reconciles() {
    let events = events();
    let stores = consumed(&events).await;
    assert_eq!(stores.compact().await, 480);
    // Compacting the same day again replaces it: still one row per event.
    stores.compact().await;
    assert_eq!(stores.count("SELECT COUNT(*) FROM site_events").await, 480);

    let summaries = stores.reconciler().run(None).await.unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].disagreeing, 0, "{:?}", summaries[0].lines);
    assert_eq!(summaries[0].buckets, 24, "every hour of the day");
}

#[tokio::test]
async fn reconcile_names_the_purchase_real_time_lost() {
    let events = events();
    let stores = consumed(&events).await;
    stores.compact().await;
    let lost = &events[3];
    assert_eq!(lost.event_type, EventType::Purchase);
    stores.kv.delete_items(vec![stores.layout.key_for(lost)]).await.unwrap();

    let summary = stores.reconciler().run(Some("revenue")).await.unwrap().remove(0);
    assert_eq!(summary.missing_in_realtime, 1);
    assert_eq!(summary.missing_in_batch, 0);
    assert_eq!(summary.disagreeing, 1);
}

#[tokio::test]
async fn the_merged_report_counts_every_purchase_once_on_either_side_of_the_tidemark() {
    let events = events();
    let revenue: f64 = events.iter().filter_map(|event| event.amount).sum();
    let stores = consumed(&events).await;
    let query = ReportQuery {
        interval: Interval::Hour,
        from: Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(),
        by: Some("region".into()),
    };
    let def = stores.pipeline.report("revenue").unwrap();
    let before = run_report(def, &query, &stores.warehouse, &stores.index).await.unwrap();
    assert_eq!((before.batch_total, before.realtime_total), (0.0, revenue), "no load yet: all real time");

    stores.compact().await;
    let after = run_report(def, &query, &stores.warehouse, &stores.index).await.unwrap();
    assert_eq!((after.batch_total, after.realtime_total), (revenue, 0.0), "the day loaded: all batch");
    assert_eq!(after.points.len(), 24);

    let refreshed = views::refresh(&stores.pipeline, &stores.warehouse, &stores.index, &stores.clock).await.unwrap();
    assert_eq!(refreshed.len(), 1);
    let view = &refreshed[0].view;
    let viewed = stores.warehouse.query(&Query::new(format!("SELECT SUM(value) FROM {view}"))).await.unwrap();
    assert_eq!(viewed.rows[0][0].as_f64(), Some(revenue), "the BI view holds the same revenue");
}
