//! Time buckets: the hour (or day) an event belongs to, cut on event time in UTC.

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, TimeZone, Utc};
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
