//! Where the tidemark stands for a report, and which side answers which bucket.
//!
//! The rule, in full:
//! 1. The batch high-water mark of a report is the lowest `high_water` among the
//!    watermarks of its table (every source of the table must have covered a time for
//!    the table to cover it). No watermark: no batch data, every bucket is real-time.
//! 2. A batch load delivers whole `grain` periods (default: hours), so the **tidemark**
//!    is the end of the grain period holding the high-water mark: orders loaded up to
//!    11:58 cover hours up to 12:00.
//! 3. A bucket is answered by batch when it ends at or before the tidemark, and by
//!    real-time otherwise. A bucket the tidemark falls inside (a day bucket while batch
//!    covers half of it) is answered by real-time, which holds the whole bucket: never
//!    a bucket counted on both sides, never one half-counted.
//!
//! So the cut between the sides is the tidemark floored to the report interval.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bucket::Interval;
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
}

impl Tidemark {
    pub fn of(def: &ReportDef, watermarks: &[Watermark]) -> Tidemark {
        let high_water =
            watermarks.iter().filter(|mark| mark.table == def.batch.table).filter_map(|mark| mark.high_water).min();
        Tidemark { high_water, at: high_water.map(|hw| def.grain.floor(hw) + def.grain.duration()) }
    }

    /// The first instant answered by real-time for buckets of `interval`.
    pub fn cut(&self, interval: Interval) -> Option<DateTime<Utc>> {
        self.at.map(|at| interval.floor(at))
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
    /// Buckets starting before `cut` are batch, the rest real-time; within `[from, to]`.
    pub cut: DateTime<Utc>,
}

impl Plan {
    pub fn new(interval: Interval, from: DateTime<Utc>, to: DateTime<Utc>, mark: &Tidemark) -> Plan {
        let from = interval.floor(from);
        let floored_to = interval.floor(to);
        let to = if floored_to == to { to } else { floored_to + interval.duration() };
        let cut = mark.cut(interval).map_or(from, |cut| cut.clamp(from, to));
        Plan { interval, from, to, cut }
    }

    pub fn side(&self, bucket_start: DateTime<Utc>) -> Side {
        if bucket_start < self.cut {
            Side::Batch
        } else {
            Side::Realtime
        }
    }

    pub fn batch_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        (self.from < self.cut).then_some((self.from, self.cut))
    }

    pub fn realtime_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        (self.cut < self.to).then_some((self.cut, self.to))
    }

    /// Every bucket start, in order.
    pub fn buckets(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let step = self.interval.duration();
        std::iter::successors(Some(self.from), move |start| Some(*start + step)).take_while(|start| *start < self.to)
    }

    pub fn bucket_count(&self) -> i64 {
        (self.to - self.from).num_milliseconds() / self.interval.duration().num_milliseconds()
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
        Tidemark { high_water: hw, at: hw.map(|hw| Interval::Hour.floor(hw) + Interval::Hour.duration()) }
    }

    #[test]
    fn hours_split_at_the_end_of_the_last_loaded_hour() {
        let plan = Plan::new(Interval::Hour, at(0, 0), at(23, 59), &mark(Some(at(11, 58))));
        assert_eq!((plan.from, plan.cut), (at(0, 0), at(12, 0)));
        assert_eq!(plan.to, at(0, 0) + chrono::Duration::days(1));
        assert_eq!(plan.side(at(11, 0)), Side::Batch);
        assert_eq!(plan.side(at(12, 0)), Side::Realtime);
        assert_eq!(plan.buckets().count(), 24);
    }

    #[test]
    fn a_day_the_mark_falls_inside_is_realtime() {
        let plan = Plan::new(Interval::Day, at(0, 0), at(23, 0), &mark(Some(at(11, 58))));
        assert_eq!(plan.cut, at(0, 0));
        assert_eq!(plan.batch_range(), None);
        assert_eq!(plan.side(at(0, 0)), Side::Realtime);
    }

    #[test]
    fn without_a_watermark_everything_is_realtime() {
        let plan = Plan::new(Interval::Hour, at(3, 0), at(6, 0), &mark(None));
        assert_eq!(plan.cut, plan.from);
        assert_eq!(plan.realtime_range(), Some((at(3, 0), at(6, 0))));
    }

    #[test]
    fn a_mark_past_the_range_makes_it_all_batch() {
        let plan = Plan::new(Interval::Hour, at(3, 0), at(6, 0), &mark(Some(at(20, 0))));
        assert_eq!(plan.cut, at(6, 0));
        assert_eq!(plan.realtime_range(), None);
    }
}
