//! Property tests of the tidemark merge: for random real-time events, batch rows,
//! watermarks, event-time precisions (instants, hours, days, months), report grains and
//! request intervals, the merged totals are the batch totals of the buckets batch covers
//! whole plus the real-time totals of the others, per bucket and per group, and an event
//! both sides hold is counted exactly once.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use proptest::prelude::*;

use super::merge::{merge, ReportPoint};
use super::sql::BatchRow;
use super::tidemark::{Plan, Side, Tidemark};
use super::ReportDef;
use crate::bucket::{Interval, Period};
use crate::ports::warehouse::Watermark;
use crate::search::histogram::HistogramBucket;

const REGIONS: [&str; 3] = ["EU", "US", "APAC"];

/// (minutes since the start of day 0, region index or none, cents)
type Fact = (i64, Option<usize>, u32);

/// The last day of a month, so that random times cross day and month boundaries.
fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap()
}

fn fact_time(fact: &Fact) -> DateTime<Utc> {
    day0() + Duration::minutes(fact.0)
}

fn report_def(grain: Interval, precision: Option<Period>) -> ReportDef {
    let mut def: ReportDef = toml::from_str(
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
    .unwrap();
    def.grain = grain;
    def.precision = precision;
    def
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

/// The time a batch row records for an event: its instant, or the start of its period.
fn stamp(at: DateTime<Utc>, precision: Option<Period>) -> DateTime<Utc> {
    precision.map_or(at, |period| period.floor(at))
}

/// What a store answers for `facts`: per bucket, per group (a reference aggregation,
/// written independently of the code under test).
fn aggregate(
    facts: &[Fact],
    interval: Interval,
    by: bool,
    time: impl Fn(&Fact) -> DateTime<Utc>,
) -> BTreeMap<DateTime<Utc>, (f64, BTreeMap<String, f64>)> {
    let mut out: BTreeMap<DateTime<Utc>, (f64, BTreeMap<String, f64>)> = BTreeMap::new();
    for fact in facts {
        let entry = out.entry(interval.floor(time(fact))).or_default();
        let value = f64::from(fact.2) / 100.0;
        entry.0 += value;
        if let (true, Some(region)) = (by, fact.1) {
            *entry.1.entry(REGIONS[region].to_owned()).or_default() += value;
        }
    }
    out
}

fn batch_rows(facts: &[Fact], interval: Interval, by: bool, precision: Option<Period>) -> Vec<BatchRow> {
    aggregate(facts, interval, by, |f| stamp(fact_time(f), precision))
        .into_iter()
        .flat_map(|(bucket, (total, groups))| {
            let grouped: f64 = groups.values().sum();
            let mut rows: Vec<BatchRow> =
                groups.into_iter().map(|(g, v)| BatchRow { bucket, group: Some(g), value: v }).collect();
            rows.push(BatchRow { bucket, group: None, value: total - grouped });
            rows
        })
        .collect()
}

fn realtime_buckets(facts: &[Fact], interval: Interval, by: bool) -> Vec<HistogramBucket> {
    aggregate(facts, interval, by, fact_time)
        .into_iter()
        .map(|(start, (value, groups))| HistogramBucket { start, value, groups })
        .collect()
}

/// Where batch coverage ends, found by walking minute by minute from the high-water mark
/// to the first instant on both a grain and a precision boundary (not by the formula
/// under test).
fn coverage_end(high_water: DateTime<Utc>, grain: Interval, precision: Option<Period>) -> DateTime<Utc> {
    let on_grain = |t: DateTime<Utc>| t.timestamp() % grain.duration().num_seconds() == 0;
    let on_precision = |t: DateTime<Utc>| match precision {
        None => true,
        Some(Period::Hour) => t.minute() == 0,
        Some(Period::Day) => t.minute() == 0 && t.hour() == 0,
        Some(Period::Month) => t.minute() == 0 && t.hour() == 0 && t.day() == 1,
    };
    let mut t = Interval::Minute.floor(high_water) + Duration::minutes(1);
    while !(on_grain(t) && on_precision(t)) {
        // Every grain and precision boundary is on the hour: once there, step by hours.
        t += if t.minute() == 0 { Duration::hours(1) } else { Duration::minutes(1) };
    }
    t
}

fn facts() -> impl Strategy<Value = Vec<Fact>> {
    proptest::collection::vec((0i64..4 * 24 * 60, proptest::option::of(0usize..3), 0u32..100_000), 0..200)
}

fn interval() -> impl Strategy<Value = Interval> {
    prop_oneof![Just(Interval::Minute), Just(Interval::Hour), Just(Interval::Day)]
}

fn precision() -> impl Strategy<Value = Option<Period>> {
    prop_oneof![Just(None), Just(Some(Period::Hour)), Just(Some(Period::Day)), Just(Some(Period::Month))]
}

/// A random request: the report, its tidemark and plan, and the expected coverage end.
#[derive(Debug, Clone)]
struct Case {
    interval: Interval,
    grain: Interval,
    precision: Option<Period>,
    high_water: Option<DateTime<Utc>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        interval(),
        prop_oneof![Just(Interval::Hour), Just(Interval::Day)],
        precision(),
        proptest::option::of(-120i64..5 * 24 * 60),
        0i64..2 * 24 * 60,
        1i64..3 * 24 * 60,
        any::<bool>(),
    )
        .prop_map(|(interval, grain, precision, high_water, from_minute, span_minutes, by)| {
            let from = day0() + Duration::minutes(from_minute);
            Case {
                interval,
                grain,
                precision,
                high_water: high_water.map(|m| day0() + Duration::minutes(m) + Duration::seconds(17)),
                from,
                to: from + Duration::minutes(span_minutes),
                by,
            }
        })
}

impl Case {
    fn plan(&self) -> Plan {
        let def = report_def(self.grain, self.precision);
        Plan::new(self.interval, self.from, self.to, &Tidemark::of(&def, &[watermark(self.high_water)]))
    }

    fn merge(&self, batch: &[Fact], realtime: &[Fact]) -> Vec<ReportPoint> {
        let batch = batch_rows(batch, self.interval, self.by, self.precision);
        merge(&self.plan(), &batch, &realtime_buckets(realtime, self.interval, self.by))
    }

    /// Whether batch answers the bucket: it ends by the end of coverage, and the whole
    /// precision period holding it lies inside the request.
    fn batch_answers(&self, bucket: DateTime<Utc>, request: (DateTime<Utc>, DateTime<Utc>)) -> bool {
        let Some(until) = self.high_water.map(|hw| coverage_end(hw, self.grain, self.precision)) else {
            return false;
        };
        let end = bucket + self.interval.duration();
        let (period_start, period_end) = match self.precision {
            Some(period) if period.is_coarser_than(self.interval) => (period.floor(bucket), period.end_of(bucket)),
            _ => (bucket, end),
        };
        end <= until && request.0 <= period_start && period_end <= request.1
    }
}

fn group_totals(points: &[ReportPoint]) -> BTreeMap<String, f64> {
    let mut groups: BTreeMap<String, f64> = BTreeMap::new();
    for point in points {
        for (g, v) in &point.groups {
            *groups.entry(g.clone()).or_default() += v;
        }
    }
    groups
}

proptest! {
    #[test]
    fn merged_totals_are_batch_before_the_mark_and_realtime_after(
        realtime_facts in facts(),
        batch_facts in facts(),
        case in case(),
    ) {
        let interval = case.interval;
        prop_assume!((case.to - case.from).num_minutes() / interval.duration().num_minutes().max(1) < 5000);
        let points = case.merge(&batch_facts, &realtime_facts);

        let first = interval.floor(case.from);
        let last_end = if interval.floor(case.to) == case.to { case.to } else { interval.floor(case.to) + interval.duration() };
        let mut expected_total = 0.0;
        let mut expected_groups: BTreeMap<String, f64> = BTreeMap::new();
        let mut bucket = first;
        let mut count = 0;
        while bucket < case.to {
            let end = bucket + interval.duration();
            let batch_side = case.batch_answers(bucket, (first, last_end));
            // Batch rows carry the stamp of their precision; real-time events their instant.
            let (facts, precision) = if batch_side { (&batch_facts, case.precision) } else { (&realtime_facts, None) };
            let time = |f: &Fact| stamp(fact_time(f), precision);
            let mut bucket_total = 0.0;
            for fact in facts.iter().filter(|f| bucket <= time(f) && time(f) < end) {
                let value = f64::from(fact.2) / 100.0;
                bucket_total += value;
                if let (true, Some(region)) = (case.by, fact.1) {
                    *expected_groups.entry(REGIONS[region].to_owned()).or_default() += value;
                }
            }
            expected_total += bucket_total;
            prop_assert_eq!(points[count].start, bucket);
            prop_assert_eq!(points[count].side, if batch_side { Side::Batch } else { Side::Realtime }, "bucket {}", bucket);
            prop_assert!((points[count].value - bucket_total).abs() < 1e-6, "bucket {}: {} != {}", bucket, points[count].value, bucket_total);
            bucket = end;
            count += 1;
        }
        prop_assert_eq!(points.len(), count, "one point per bucket, no gap, no repeat");
        let total: f64 = points.iter().map(|p| p.value).sum();
        prop_assert!((total - expected_total).abs() < 1e-6, "total {} != {}", total, expected_total);
        let groups = group_totals(&points);
        for region in REGIONS {
            let got = groups.get(region).copied().unwrap_or(0.0);
            let want = expected_groups.get(region).copied().unwrap_or(0.0);
            prop_assert!((got - want).abs() < 1e-6, "{}: {} != {}", region, got, want);
        }
    }

    /// Batch holds every event up to the end of its coverage (stamped at its precision),
    /// real time holds every event: whatever the precision, grain, interval and mark,
    /// the merged report counts each event of the request exactly once.
    #[test]
    fn an_event_both_sides_hold_is_counted_once(all_facts in facts(), case in case()) {
        let interval = case.interval;
        prop_assume!((case.to - case.from).num_minutes() / interval.duration().num_minutes().max(1) < 5000);
        let until = case.high_water.map(|hw| coverage_end(hw, case.grain, case.precision));
        let batch: Vec<Fact> = all_facts.iter().filter(|f| until.is_some_and(|u| fact_time(f) < u)).cloned().collect();
        let points = case.merge(&batch, &all_facts);

        let first = interval.floor(case.from);
        let last_end = points.last().map_or(first, |p| p.start + interval.duration());
        let inside: Vec<&Fact> = all_facts.iter().filter(|f| first <= fact_time(f) && fact_time(f) < last_end).collect();
        let want: f64 = inside.iter().map(|f| f64::from(f.2) / 100.0).sum();
        let got: f64 = points.iter().map(|p| p.value).sum();
        prop_assert!((got - want).abs() < 1e-6, "total {} != {} ({:?})", got, want, case);
        if case.by {
            let groups = group_totals(&points);
            for (i, region) in REGIONS.iter().enumerate() {
                let want: f64 = inside.iter().filter(|f| f.1 == Some(i)).map(|f| f64::from(f.2) / 100.0).sum();
                let got = groups.get(*region).copied().unwrap_or(0.0);
                prop_assert!((got - want).abs() < 1e-6, "{}: {} != {}", region, got, want);
            }
        }
    }
}

#[test]
fn the_lowest_watermark_of_the_table_sets_the_mark() {
    let def = report_def(Interval::Hour, None);
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
fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
    let points = vec![super::ReportPoint {
        start: day0(),
        side: Side::Realtime,
        value: -3.0,
        groups: BTreeMap::from([("=HYPERLINK(\"http://x\")".to_owned(), -3.0), ("@SUM(A1)".to_owned(), 0.0)]),
    }];
    let csv = super::to_csv(&points).unwrap();
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\",-3\n"), "{csv}");
    assert!(csv.contains(",'@SUM(A1),0\n"), "{csv}");
    assert!(csv.contains(",realtime,,-3\n"), "numbers stay numbers: {csv}");
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
        "start,side,group,value\n2026-11-29T00:00:00.000Z,batch,,12.5\n\
         2026-11-29T00:00:00.000Z,batch,EU,10\n2026-11-29T00:00:00.000Z,batch,US,2.5\n"
    );
}
