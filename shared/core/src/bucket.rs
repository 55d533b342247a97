//! Time buckets: the hour (or day) an event belongs to, cut on event time in UTC, and
//! the calendar periods batch data is recorded to.

use chrono::{DateTime, Datelike, Duration, DurationRound, Months, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Width of a report or storage bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub fn duration(self) -> Duration {
        match self {
            Interval::Minute => Duration::minutes(1),
            Interval::Hour => Duration::hours(1),
            Interval::Day => Duration::days(1),
        }
    }

    /// The Elasticsearch/OpenSearch `fixed_interval` spelling, understood by tantivy too.
    pub fn fixed_interval(self) -> &'static str {
        match self {
            Interval::Minute => "1m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
        }
    }

    /// Start of the bucket holding `at`. Days and hours are UTC.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        // duration_trunc only fails for durations beyond i64 nanoseconds, not ours.
        at.duration_trunc(self.duration()).unwrap_or(at)
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "1m" | "minute" => Ok(Interval::Minute),
            "1h" | "hour" => Ok(Interval::Hour),
            "1d" | "day" => Ok(Interval::Day),
            other => Err(format!("unknown interval {other:?}; use 1m, 1h or 1d (minute, hour, day)")),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.fixed_interval())
    }
}

/// A calendar period in UTC: how finely a batch table records its event time (a `date`
/// column records the day, a rollup table the hour), and the unit an overwrite load
/// replaces. Periods nest: every month boundary is a day boundary, every day boundary
/// an hour boundary, so the end of the coarser of two periods holding an instant is
/// the later of their ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hour,
    Day,
    Month,
}

impl Period {
    pub fn sql_unit(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// Start of the period holding `at`.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Hour => Interval::Hour.floor(at),
            Period::Day => Interval::Day.floor(at),
            Period::Month => {
                let day = Interval::Day.floor(at);
                day - Duration::days(i64::from(day.day0()))
            }
        }
    }

    /// Start of the period after the one holding `at`.
    pub fn end_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let start = self.floor(at);
        match self {
            Period::Hour => start + Duration::hours(1),
            Period::Day => start + Duration::days(1),
            // Only fails past chrono's last representable date.
            Period::Month => start.checked_add_months(Months::new(1)).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// The first period start at or after `at`.
    pub fn ceil(self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.floor(at) == at {
            at
        } else {
            self.end_of(at)
        }
    }

    /// Whether buckets of `interval` are finer than this period (an hour bucket of a
    /// day-precision table cannot be answered by that table alone).
    pub fn is_coarser_than(self, interval: Interval) -> bool {
        match self {
            Period::Hour => interval == Interval::Minute,
            Period::Day => interval != Interval::Day,
            Period::Month => true,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_unit())
    }
}

/// An hourly storage bucket, written `2026-11-25T13` in keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HourBucket(DateTime<Utc>);

impl HourBucket {
    pub fn of(at: DateTime<Utc>) -> Self {
        Self(Interval::Hour.floor(at))
    }

    pub fn start(self) -> DateTime<Utc> {
        self.0
    }

    pub fn end(self) -> DateTime<Utc> {
        self.0 + Duration::hours(1)
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.0 <= at && at < self.end()
    }

    pub fn next(self) -> Self {
        Self(self.end())
    }
}

impl fmt::Display for HourBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H"))
    }
}

impl FromStr for HourBucket {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let naive = NaiveDateTime::parse_from_str(&format!("{text}:00:00"), "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| format!("bucket {text:?} is not of the form 2026-11-25T13"))?;
        Ok(Self(Utc.from_utc_datetime(&naive)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn months_have_their_calendar_lengths() {
        let at = |m, d| Utc.with_ymd_and_hms(2028, m, d, 13, 5, 0).unwrap();
        let day = |m, d| Utc.with_ymd_and_hms(2028, m, d, 0, 0, 0).unwrap();
        assert_eq!((Period::Month.floor(at(2, 29)), Period::Month.end_of(at(2, 29))), (day(2, 1), day(3, 1)));
        assert_eq!(Period::Month.end_of(at(12, 31)), Utc.with_ymd_and_hms(2029, 1, 1, 0, 0, 0).unwrap());
        assert!(Period::Day.is_coarser_than(Interval::Hour) && !Period::Day.is_coarser_than(Interval::Day));
    }

    #[test]
    fn formats_and_parses() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 13, 59, 59).unwrap();
        let bucket = HourBucket::of(at);
        assert_eq!(bucket.to_string(), "2026-11-25T13");
        assert_eq!("2026-11-25T13".parse::<HourBucket>().unwrap(), bucket);
        assert!("2026-11-25 13".parse::<HourBucket>().is_err());
    }

    proptest! {
        /// Every instant lies in exactly one hour bucket: its own, not the next one.
        #[test]
        fn an_instant_lies_in_its_bucket(millis in 0i64..4_102_444_800_000) {
            let at = Utc.timestamp_millis_opt(millis).unwrap();
            let bucket = HourBucket::of(at);
            prop_assert!(bucket.contains(at));
            prop_assert!(!bucket.next().contains(at));
            prop_assert_eq!(bucket.start().timestamp() % 3600, 0);
            prop_assert_eq!(bucket.to_string().parse::<HourBucket>().unwrap(), bucket);
        }

        /// Bucketing is monotone: a later instant never falls in an earlier bucket.
        #[test]
        fn bucketing_is_monotone(a in 0i64..4_102_444_800_000, b in 0i64..4_102_444_800_000) {
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            let early_bucket = HourBucket::of(Utc.timestamp_millis_opt(early).unwrap());
            let late_bucket = HourBucket::of(Utc.timestamp_millis_opt(late).unwrap());
            prop_assert!(early_bucket <= late_bucket);
        }

        /// A period holds every instant from its floor up to, not including, its end,
        /// and the next period starts where it ends.
        #[test]
        fn every_period_holds_its_instants(millis in 0i64..4_102_444_800_000) {
            let at = Utc.timestamp_millis_opt(millis).unwrap();
            for period in [Period::Hour, Period::Day, Period::Month] {
                let (start, end) = (period.floor(at), period.end_of(at));
                prop_assert!(start <= at && at < end, "{period}: {start} {at} {end}");
                prop_assert_eq!(period.floor(end), end);
                prop_assert_eq!(period.floor(end - Duration::milliseconds(1)), start);
                prop_assert_eq!(period.ceil(start), start);
                prop_assert_eq!(period.ceil(at), if at == start { start } else { end });
            }
            // Nesting: the coarser period's end is the later one.
            prop_assert!(Period::Hour.end_of(at) <= Period::Day.end_of(at));
            prop_assert!(Period::Day.end_of(at) <= Period::Month.end_of(at));
        }

        #[test]
        fn every_interval_floors_into_itself(millis in 0i64..4_102_444_800_000) {
            let at = Utc.timestamp_millis_opt(millis).unwrap();
            for interval in [Interval::Minute, Interval::Hour, Interval::Day] {
                let start = interval.floor(at);
                prop_assert!(start <= at && at < start + interval.duration());
            }
        }
    }
}
