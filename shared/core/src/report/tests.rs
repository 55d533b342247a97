//! Property tests of the tidemark merge: for random real-time events, batch rows and
//! watermarks, the merged totals are the batch totals of the buckets that end by the
//! tidemark plus the real-time totals of the others, per bucket and per group.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::merge::merge;
use super::sql::BatchRow;
use super::tidemark::{Plan, Side, Tidemark};
use super::ReportDef;
use crate::bucket::Interval;
use crate::ports::warehouse::Watermark;
use crate::search::histogram::HistogramBucket;

const REGIONS: [&str; 3] = ["EU", "US", "APAC"];

/// (minutes since the start of day 0, region index or none, cents)
type Fact = (i64, Option<usize>, u32);

fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
}

fn report_def() -> ReportDef {
    toml::from_str(
        r#"name = "sales"
           [batch]
           table = "orders"
           time = "ordered_at"
           value = "amount"
           by = { region = "region" }
           [realtime]
           event_type = "purchase"
           value = "amount"
           by = { region = "region" }"#,
    )
    .unwrap()
}

fn watermark(high_water: Option<DateTime<Utc>>) -> Watermark {
    Watermark {
        source: "orders".into(),
        table: "orders".into(),
        high_water,
        load_id: "l1".into(),
        rows_loaded: 1,
        rows_quarantined: 0,
        loaded_at: day0(),
    }
}

/// What a store answers for `facts`: per bucket, per group (a reference aggregation,
/// written independently of the code under test).
fn aggregate(facts: &[Fact], interval: Interval, by: bool) -> BTreeMap<DateTime<Utc>, (f64, BTreeMap<String, f64>)> {
    let mut out: BTreeMap<DateTime<Utc>, (f64, BTreeMap<String, f64>)> = BTreeMap::new();
    for (minute, region, cents) in facts {
        let at = day0() + Duration::minutes(*minute);
        let bucket = interval.floor(at);
        let entry = out.entry(bucket).or_default();
        let value = f64::from(*cents) / 100.0;
        entry.0 += value;
        if let (true, Some(region)) = (by, region) {
            *entry.1.entry(REGIONS[*region].to_owned()).or_default() += value;
        }
    }
    out
}

fn facts() -> impl Strategy<Value = Vec<Fact>> {
    proptest::collection::vec((0i64..3 * 24 * 60, proptest::option::of(0usize..3), 0u32..100_000), 0..200)
}

fn interval() -> impl Strategy<Value = Interval> {
    prop_oneof![Just(Interval::Minute), Just(Interval::Hour), Just(Interval::Day)]
}

proptest! {
    #[test]
    fn merged_totals_are_batch_before_the_mark_and_realtime_after(
        realtime_facts in facts(),
        batch_facts in facts(),
        high_water in proptest::option::of(-120i64..4 * 24 * 60),
        interval in interval(),
        by in any::<bool>(),
        from_minute in 0i64..24 * 60,
        span_minutes in 1i64..2 * 24 * 60,
    ) {
        let def = report_def();
        let high_water = high_water.map(|m| day0() + Duration::minutes(m) + Duration::seconds(17));
        let mark = Tidemark::of(&def, &[watermark(high_water)]);
        let from = day0() + Duration::minutes(from_minute);
        let to = from + Duration::minutes(span_minutes);
        prop_assume!((to - from).num_minutes() / interval.duration().num_minutes().max(1) < 5000);
        let plan = Plan::new(interval, from, to, &mark);

        // Each store is asked for everything it has; the merge must pick sides itself.
        let batch_rows: Vec<BatchRow> = aggregate(&batch_facts, interval, by).into_iter().flat_map(|(bucket, (total, groups))| {
            let grouped: f64 = groups.values().sum();
            let mut rows: Vec<BatchRow> = groups.into_iter()
                .map(|(g, v)| BatchRow { bucket, group: Some(g), value: v }).collect();
            rows.push(BatchRow { bucket, group: None, value: total - grouped });
            rows
        }).collect();
        let realtime_buckets: Vec<HistogramBucket> = aggregate(&realtime_facts, interval, by).into_iter()
            .map(|(start, (value, groups))| HistogramBucket { start, value, groups }).collect();
        let points = merge(&plan, &batch_rows, &realtime_buckets);

        // Independently: batch covers the buckets that end by the end of the hour of the mark.
        let covered_until = high_water.map(|hw| Interval::Hour.floor(hw) + Duration::hours(1));
        let first = interval.floor(from);
        let mut expected_total = 0.0;
        let mut expected_groups: BTreeMap<String, f64> = BTreeMap::new();
        let mut bucket = first;
        let mut count = 0;
        while bucket < to {
            let end = bucket + interval.duration();
            let batch_side = covered_until.is_some_and(|until| end <= until);
            let facts = if batch_side { &batch_facts } else { &realtime_facts };
            for (minute, region, cents) in facts {
                let at = day0() + Duration::minutes(*minute);
                if bucket <= at && at < end {
                    expected_total += f64::from(*cents) / 100.0;
                    if let (true, Some(region)) = (by, region) {
                        *expected_groups.entry(REGIONS[*region].to_owned()).or_default() += f64::from(*cents) / 100.0;
                    }
                }
            }
            prop_assert_eq!(points[count].start, bucket);
            prop_assert_eq!(points[count].side, if batch_side { Side::Batch } else { Side::Realtime });
            bucket = end;
            count += 1;
        }
        prop_assert_eq!(points.len(), count, "one point per bucket, no gap, no repeat");
        let total: f64 = points.iter().map(|p| p.value).sum();
        prop_assert!((total - expected_total).abs() < 1e-6, "total {} != {}", total, expected_total);
        let mut groups: BTreeMap<String, f64> = BTreeMap::new();
        for point in &points {
            for (g, v) in &point.groups {
                *groups.entry(g.clone()).or_default() += v;
            }
        }
        for region in REGIONS {
            let got = groups.get(region).copied().unwrap_or(0.0);
            let want = expected_groups.get(region).copied().unwrap_or(0.0);
            prop_assert!((got - want).abs() < 1e-6, "{}: {} != {}", region, got, want);
        }
    }
}

#[test]
fn the_lowest_watermark_of_the_table_sets_the_mark() {
    let def = report_def();
    let at = |h| Utc.with_ymd_and_hms(2026, 11, 24, h, 30, 0).unwrap();
    let mut other_table = watermark(Some(at(1)));
    other_table.table = "customers".into();
    let mut second_source = watermark(Some(at(9)));
    second_source.source = "payments".into();
    let mark = Tidemark::of(&def, &[watermark(Some(at(14))), second_source, other_table, watermark(None)]);
    assert_eq!(mark.high_water, Some(at(9)));
    assert_eq!(mark.at, Some(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()));
}

#[test]
fn csv_has_a_row_per_bucket_and_group() {
    let start = day0();
    let points = vec![super::ReportPoint {
        start,
        side: Side::Batch,
        value: 12.5,
        groups: BTreeMap::from([("EU".to_owned(), 10.0), ("US".to_owned(), 2.5)]),
    }];
    let csv = super::to_csv(&points).unwrap();
    assert_eq!(
        csv,
        "start,side,group,value\n2026-11-23T00:00:00.000Z,batch,,12.5\n\
         2026-11-23T00:00:00.000Z,batch,EU,10\n2026-11-23T00:00:00.000Z,batch,US,2.5\n"
    );
}
