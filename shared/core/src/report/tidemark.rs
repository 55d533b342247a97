//! Where the tidemark stands for a report, and which side answers which bucket.
//!
//! The rule, in full:
//! 1. The batch high-water mark of a report is the lowest `high_water` among the
//!    watermarks of its table (every source of the table must have covered a time for
//!    the table to cover it). No watermark: no batch data, every bucket is real-time.
//! 2. A batch row covers the whole period its event time records: an instant for a
//!    timestamp, the day for a `date` (or for a table that declares
//!    `event_time_grain = "day"`), so a load up to day D covers D whole. And a load
//!    delivers whole `grain` periods of the report (default: hours). So the
//!    **tidemark** is the end of the coarser of the two periods holding the high-water
//!    mark: orders loaded up to 11:58 cover hours up to 12:00; order days loaded up to
//!    May 1 cover up to May 2, 00:00.
//! 3. A bucket is answered by batch when batch covers it whole and can tell it apart:
//!    it ends at or before the tidemark, and it lies in a whole period of the table's
//!    precision inside the request. A bucket the tidemark falls inside (a day bucket
//!    while batch covers half of it) is answered by real-time, which holds the whole
//!    bucket: never a bucket counted on both sides, never one half-counted.
//! 4. Buckets finer than the precision (hours of a day-precision table): batch answers
//!    each whole day of the request, its rows in the day's first bucket (the others
//!    batch zeros), so every bucket and every total counts each order once. A day the
//!    request cuts (it starts or ends inside it) is real-time, which has the instants.
//!
//! So the batch buckets run from the request's first precision boundary to the
//! tidemark floored to the report interval, and real time answers the rest.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bucket::{Interval, Period};
use crate::ports::warehouse::Watermark;

use super::def::ReportDef;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tidemark {
    /// The latest event time batch has loaded (the lowest across the table's sources).
    #[serde(with = "crate::event::millis_rfc3339::option")]
    pub high_water: Option<DateTime<Utc>>,
    /// Batch covers every bucket that ends at or before this instant.
    #[serde(with = "crate::event::millis_rfc3339::option")]
    pub at: Option<DateTime<Utc>>,
    /// The period one batch event time stands for; absent for instants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<Period>,
}

impl Tidemark {
    pub fn of(def: &ReportDef, watermarks: &[Watermark]) -> Tidemark {
        let high_water =
            watermarks.iter().filter(|mark| mark.table == def.batch.table).filter_map(|mark| mark.high_water).min();
        Tidemark {
            high_water,
            at: high_water.map(|hw| covered_until(hw, def.grain, def.precision)),
            precision: def.precision,
        }
    }

    /// The first instant answered by real-time for buckets of `interval`.
    pub fn cut(&self, interval: Interval) -> Option<DateTime<Utc>> {
        self.at.map(|at| interval.floor(at))
    }
}

/// Where batch coverage ends once event times up to `high_water` are loaded: the end of
/// the coarser of the `grain` period and the `precision` period holding it (rule 2).
pub fn covered_until(high_water: DateTime<Utc>, grain: Interval, precision: Option<Period>) -> DateTime<Utc> {
    let grain_end = grain.floor(high_water) + grain.duration();
    precision.map_or(grain_end, |period| grain_end.max(period.end_of(high_water)))
}

/// The SQL `DATE_TRUNC` unit of [`covered_until`]: the coarser of grain and precision.
pub fn coverage_unit(grain: Interval, precision: Option<Period>) -> &'static str {
    match precision {
        Some(period) if period.is_coarser_than(grain) => period.sql_unit(),
        _ => super::sql::date_unit(grain),
    }
}

/// Which side answers a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Batch,
    Realtime,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Batch => "batch",
            Side::Realtime => "realtime",
        }
    }
}

/// The buckets of one report request and the split between the sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub interval: Interval,
    /// First bucket start (the request's `from` floored to the interval).
    pub from: DateTime<Utc>,
    /// End of the last bucket (`to` rounded up to the interval).
    pub to: DateTime<Utc>,
    /// The buckets starting in `[batch.0, batch.1)` are batch, the rest real-time;
    /// empty (`batch.0 == batch.1`) when batch answers none.
    batch: (DateTime<Utc>, DateTime<Utc>),
}

impl Plan {
    pub fn new(interval: Interval, from: DateTime<Utc>, to: DateTime<Utc>, mark: &Tidemark) -> Plan {
        let from = interval.floor(from);
        let floored_to = interval.floor(to);
        let to = if floored_to == to { to } else { floored_to + interval.duration() };
        let batch = mark
            .cut(interval)
            .map(|cut| match mark.precision {
                Some(period) => (period.ceil(from), period.floor(cut.min(to))),
                None => (from, cut.min(to)),
            })
            .filter(|(start, end)| start < end)
            .unwrap_or((from, from));
        Plan { interval, from, to, batch }
    }

    pub fn side(&self, bucket_start: DateTime<Utc>) -> Side {
        if self.batch.0 <= bucket_start && bucket_start < self.batch.1 {
            Side::Batch
        } else {
            Side::Realtime
        }
    }

    pub fn batch_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        (self.batch.0 < self.batch.1).then_some(self.batch)
    }

    /// From the first real-time bucket to the end of the last one. Real time may answer
    /// buckets on both sides of the batch ones (a request that starts inside a day of a
    /// day-precision table); the range then spans the batch buckets too, and the merge
    /// takes only the real-time ones from it.
    pub fn realtime_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = if self.from < self.batch.0 { self.from } else { self.batch.1.max(self.from) };
        let end = if self.batch.1 < self.to { self.to } else { self.batch.0 };
        (start < end).then_some((start, end))
    }

    /// Every bucket start, in order.
    pub fn buckets(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let step = self.interval.duration();
        std::iter::successors(Some(self.from), move |start| Some(*start + step)).take_while(|start| *start < self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
    }

    fn mark(hw: Option<DateTime<Utc>>) -> Tidemark {
        Tidemark { high_water: hw, at: hw.map(|hw| covered_until(hw, Interval::Hour, None)), precision: None }
    }

    fn day_mark(hw: DateTime<Utc>) -> Tidemark {
        let precision = Some(Period::Day);
        Tidemark { high_water: Some(hw), at: Some(covered_until(hw, Interval::Hour, precision)), precision }
    }

    #[test]
    fn hours_split_at_the_end_of_the_last_loaded_hour() {
        let plan = Plan::new(Interval::Hour, at(0, 0), at(23, 59), &mark(Some(at(11, 58))));
        assert_eq!((plan.from, plan.batch_range()), (at(0, 0), Some((at(0, 0), at(12, 0)))));
        assert_eq!(plan.to, at(0, 0) + chrono::Duration::days(1));
        assert_eq!(plan.side(at(11, 0)), Side::Batch);
        assert_eq!(plan.side(at(12, 0)), Side::Realtime);
        assert_eq!(plan.buckets().count(), 24);
    }

    #[test]
    fn a_loaded_date_covers_its_whole_day() {
        let mark = day_mark(at(0, 0));
        assert_eq!(mark.at, Some(at(0, 0) + chrono::Duration::days(1)));
        let by_day = Plan::new(Interval::Day, at(0, 0), at(23, 0), &mark);
        assert_eq!(by_day.side(at(0, 0)), Side::Batch);
        let by_hour = Plan::new(Interval::Hour, at(0, 0), at(23, 59), &mark);
        assert!(by_hour.buckets().all(|hour| by_hour.side(hour) == Side::Batch));
        assert_eq!(by_hour.realtime_range(), None);
    }

    #[test]
    fn a_day_the_request_cuts_is_realtime_for_a_day_precision_table() {
        let mark = day_mark(at(0, 0) + chrono::Duration::days(2));
        let plan = Plan::new(Interval::Hour, at(10, 0), at(0, 0) + chrono::Duration::hours(40), &mark);
        let next_day = at(0, 0) + chrono::Duration::days(1);
        assert_eq!(plan.batch_range(), None, "neither day lies whole inside 10:00 to 16:00 the next day");
        let plan = Plan::new(Interval::Hour, at(10, 0), next_day + chrono::Duration::days(1), &mark);
        assert_eq!(plan.batch_range(), Some((next_day, next_day + chrono::Duration::days(1))));
        assert_eq!((plan.side(at(23, 0)), plan.side(next_day)), (Side::Realtime, Side::Batch));
        assert_eq!(plan.realtime_range(), Some((at(10, 0), next_day)));
    }

    #[test]
    fn a_declared_grain_coarser_than_the_precision_still_ends_at_its_period() {
        let hw = at(13, 0);
        assert_eq!(covered_until(hw, Interval::Day, Some(Period::Hour)), at(0, 0) + chrono::Duration::days(1));
        assert_eq!(coverage_unit(Interval::Hour, Some(Period::Month)), "month");
        assert_eq!(coverage_unit(Interval::Day, Some(Period::Hour)), "day");
    }

    #[test]
    fn a_day_the_mark_falls_inside_is_realtime() {
        let plan = Plan::new(Interval::Day, at(0, 0), at(23, 0), &mark(Some(at(11, 58))));
        assert_eq!(plan.batch_range(), None);
        assert_eq!(plan.side(at(0, 0)), Side::Realtime);
    }

    #[test]
    fn without_a_watermark_everything_is_realtime() {
        let plan = Plan::new(Interval::Hour, at(3, 0), at(6, 0), &mark(None));
        assert_eq!(plan.batch_range(), None);
        assert_eq!(plan.realtime_range(), Some((at(3, 0), at(6, 0))));
    }

    #[test]
    fn a_mark_past_the_range_makes_it_all_batch() {
        let plan = Plan::new(Interval::Hour, at(3, 0), at(6, 0), &mark(Some(at(20, 0))));
        assert_eq!(plan.batch_range(), Some((at(3, 0), at(6, 0))));
        assert_eq!(plan.realtime_range(), None);
    }
}
