//! Real-time against batch, key by key: what each side has that the other lacks, and
//! where both have a key but disagree on its value. Pure: facts in, bucket checks out.
//!
//! Keys are matched across the whole window, not per bucket, because the two sides
//! time the same order differently (client clock against the database's): an order
//! at 11:59:59.8 in batch and 12:00:00.1 in real time is one order, not two misses.
//! A matched or batch-only key counts in its batch bucket; a real-time-only key in its
//! real-time bucket.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bucket::Period;

/// How far apart two values may be and still agree (money in cents).
pub const TOLERANCE: f64 = 0.005;
/// Keys named in a bucket's one-line sample (the counts are always complete).
pub const SAMPLE_KEYS: usize = 10;
/// Keys kept per bucket for the drill-down ([`BucketCheck::keys`]): a bucket where real
/// time lost everything names its first thousand orders, not a million.
pub const DRILL_KEYS: usize = 1_000;

/// One row or event reduced to what reconciliation compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub key: String,
    pub at: DateTime<Utc>,
    pub group: Option<String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Tally {
    pub count: u64,
    pub sum: f64,
}

impl Tally {
    fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
    }
}

/// The comparison of one bucket (and group, when the report has a dimension).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BucketCheck {
    #[serde(with = "crate::event::millis_rfc3339")]
    pub bucket: DateTime<Utc>,
    pub group: Option<String>,
    pub batch: Tally,
    pub realtime: Tally,
    /// In batch, not in real time (lost beacons, blocked trackers).
    pub missing_in_realtime: Tally,
    /// In real time, not in batch (cancelled, test or not yet exported orders).
    pub missing_in_batch: Tally,
    /// On both sides with different values; `sum` is real-time minus batch.
    pub mismatched: Tally,
    /// The keys behind the three tallies above, in key order, the first [`DRILL_KEYS`].
    pub keys: Vec<KeyDifference>,
}

/// How one key differs between the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    MissingInRealtime,
    MissingInBatch,
    Mismatched,
}

impl Difference {
    pub fn as_str(self) -> &'static str {
        match self {
            Difference::MissingInRealtime => "missing_in_realtime",
            Difference::MissingInBatch => "missing_in_batch",
            Difference::Mismatched => "mismatched",
        }
    }
}

/// One key that does not agree, with each side's value (`None`: that side lacks it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyDifference {
    pub difference: Difference,
    pub key: String,
    pub batch_value: Option<f64>,
    pub realtime_value: Option<f64>,
}

impl KeyDifference {
    /// E.g. `missing in real time: 1042`.
    pub fn describe(&self) -> String {
        let what = match self.difference {
            Difference::MissingInRealtime => "missing in real time",
            Difference::MissingInBatch => "missing in batch",
            Difference::Mismatched => "value differs",
        };
        format!("{what}: {}", self.key)
    }
}

impl BucketCheck {
    pub fn agrees(&self) -> bool {
        self.missing_in_realtime.count == 0 && self.missing_in_batch.count == 0 && self.mismatched.count == 0
    }

    /// The first [`SAMPLE_KEYS`] differing keys, described, for the one-line view.
    pub fn sample_keys(&self) -> Vec<String> {
        self.keys.iter().take(SAMPLE_KEYS).map(KeyDifference::describe).collect()
    }

    /// One line a person can act on, e.g. `2026-11-24 13:00 region=EU: real-time
    /// missed 3 of 812 orders (41.20 EUR)`.
    pub fn summary(&self, dimension: Option<&str>, noun: &str, unit: &str) -> String {
        let mut line = self.bucket.format("%Y-%m-%d %H:%M").to_string();
        if let (Some(dimension), Some(group)) = (dimension, &self.group) {
            line.push_str(&format!(" {dimension}={group}"));
        }
        let money = |sum: f64| if unit.is_empty() { format!("{sum:.2}") } else { format!("{sum:.2} {unit}") };
        let mut parts = Vec::new();
        if self.missing_in_realtime.count > 0 {
            parts.push(format!(
                "real-time missed {} of {} {noun} ({})",
                self.missing_in_realtime.count,
                self.batch.count,
                money(self.missing_in_realtime.sum)
            ));
        }
        if self.missing_in_batch.count > 0 {
            parts.push(format!(
                "batch lacks {} {noun} seen in real time ({})",
                self.missing_in_batch.count,
                money(self.missing_in_batch.sum)
            ));
        }
        if self.mismatched.count > 0 {
            parts.push(format!(
                "{} {noun} differ in value (real-time {:+.2})",
                self.mismatched.count, self.mismatched.sum
            ));
        }
        if parts.is_empty() {
            parts.push(format!("{} {noun} agree ({})", self.batch.count, money(self.batch.sum)));
        }
        format!("{line}: {}", parts.join("; "))
    }
}

/// Compares the sides over `[from, to)` in buckets of `period` (the coarser of the hour
/// and the batch table's precision: a day-precision order matches its event at 14:37
/// and both count in the day's bucket). Facts outside the
/// window only serve to match keys. Duplicate keys on one side are summed.
pub fn compare(
    batch: &[Fact],
    realtime: &[Fact],
    period: Period,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<BucketCheck> {
    let inside = |at: DateTime<Utc>| from <= at && at < to;
    let by_key = |facts: &[Fact]| {
        let mut map: HashMap<String, Fact> = HashMap::with_capacity(facts.len());
        for fact in facts {
            map.entry(fact.key.clone()).and_modify(|seen| seen.value += fact.value).or_insert_with(|| fact.clone());
        }
        map
    };
    let batch_keys = by_key(batch);
    let realtime_keys = by_key(realtime);
    let mut checks: BTreeMap<(DateTime<Utc>, Option<String>), BucketCheck> = BTreeMap::new();
    // In key order, so that the sampled keys are the same on every run.
    let sorted = |map: &HashMap<String, Fact>| {
        let mut facts: Vec<Fact> = map.values().filter(|f| inside(f.at)).cloned().collect();
        facts.sort_by(|a, b| a.key.cmp(&b.key));
        facts
    };
    for fact in &sorted(&batch_keys) {
        let check = entry(&mut checks, period, fact);
        check.batch.add(fact.value);
        match realtime_keys.get(&fact.key) {
            None => {
                check.missing_in_realtime.add(fact.value);
                keep(check, Difference::MissingInRealtime, fact, Some(fact.value), None);
            }
            Some(seen) if (seen.value - fact.value).abs() > TOLERANCE => {
                check.mismatched.add(seen.value - fact.value);
                keep(check, Difference::Mismatched, fact, Some(fact.value), Some(seen.value));
            }
            Some(_) => {}
        }
    }
    for fact in &sorted(&realtime_keys) {
        let check = entry(&mut checks, period, fact);
        check.realtime.add(fact.value);
        if !batch_keys.contains_key(&fact.key) {
            check.missing_in_batch.add(fact.value);
            keep(check, Difference::MissingInBatch, fact, None, Some(fact.value));
        }
    }
    checks.into_values().collect()
}

fn entry<'c>(
    checks: &'c mut BTreeMap<(DateTime<Utc>, Option<String>), BucketCheck>,
    period: Period,
    fact: &Fact,
) -> &'c mut BucketCheck {
    let bucket = period.floor(fact.at);
    checks.entry((bucket, fact.group.clone())).or_insert_with(|| BucketCheck {
        bucket,
        group: fact.group.clone(),
        ..BucketCheck::default()
    })
}

fn keep(check: &mut BucketCheck, difference: Difference, fact: &Fact, batch: Option<f64>, realtime: Option<f64>) {
    if check.keys.len() < DRILL_KEYS {
        check.keys.push(KeyDifference {
            difference,
            key: fact.key.clone(),
            batch_value: batch,
            realtime_value: realtime,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, s).unwrap()
    }

    fn fact(key: &str, at: DateTime<Utc>, group: &str, value: f64) -> Fact {
        Fact { key: key.into(), at, group: Some(group.into()), value }
    }

    #[test]
    fn finds_what_each_side_lacks_and_what_differs() {
        let batch = vec![
            fact("1", at(11, 59, 59), "EU", 10.0),
            fact("2", at(11, 10, 0), "EU", 20.0),
            fact("3", at(11, 20, 0), "US", 30.0),
            fact("4", at(11, 30, 0), "US", 40.0),
        ];
        let realtime = vec![
            // Same order, timed a second later by the client: still a match.
            fact("1", at(12, 0, 0), "EU", 10.0),
            fact("3", at(11, 20, 1), "US", 31.5),
            fact("4", at(11, 30, 0), "US", 40.0),
            fact("9", at(11, 45, 0), "US", 5.0),
        ];
        let checks = compare(&batch, &realtime, Period::Hour, at(11, 0, 0), at(13, 0, 0));
        let eu11 = checks.iter().find(|c| c.bucket == at(11, 0, 0) && c.group.as_deref() == Some("EU")).unwrap();
        assert_eq!((eu11.batch.count, eu11.missing_in_realtime.count, eu11.missing_in_realtime.sum), (2, 1, 20.0));
        assert_eq!(eu11.sample_keys(), vec!["missing in real time: 2"]);
        let us11 = checks.iter().find(|c| c.bucket == at(11, 0, 0) && c.group.as_deref() == Some("US")).unwrap();
        assert_eq!((us11.mismatched.count, us11.mismatched.sum), (1, 1.5));
        assert_eq!((us11.missing_in_batch.count, us11.missing_in_batch.sum), (1, 5.0));
        let us11_keys: Vec<_> =
            us11.keys.iter().map(|k| (k.difference, k.key.as_str(), k.batch_value, k.realtime_value)).collect();
        assert_eq!(
            us11_keys,
            vec![
                (Difference::Mismatched, "3", Some(30.0), Some(31.5)),
                (Difference::MissingInBatch, "9", None, Some(5.0)),
            ]
        );
        assert_eq!(us11.realtime.count, 3);
        let eu12 = checks.iter().find(|c| c.bucket == at(12, 0, 0)).unwrap();
        assert!(eu12.agrees(), "the 12:00 real-time copy of order 1 matched: {eu12:?}");
        assert_eq!(
            eu11.summary(Some("region"), "orders", "EUR"),
            "2026-11-24 11:00 region=EU: real-time missed 1 of 2 orders (20.00 EUR)"
        );
    }

    #[test]
    fn a_day_precision_order_matches_its_event_in_the_days_bucket() {
        let midnight = at(0, 0, 0);
        let batch = vec![fact("1", midnight, "EU", 10.0), fact("2", midnight, "EU", 20.0)];
        let realtime = vec![fact("1", at(14, 37, 0), "EU", 10.0)];
        let checks = compare(&batch, &realtime, Period::Day, midnight, midnight + chrono::Duration::days(1));
        assert_eq!(checks.len(), 1, "one bucket for the day: {checks:?}");
        assert_eq!((checks[0].batch.count, checks[0].realtime.count), (2, 1));
        assert_eq!(checks[0].missing_in_realtime.count, 1);
        assert_eq!(checks[0].missing_in_batch.count, 0);
    }

    #[test]
    fn a_bucket_keeps_its_first_thousand_keys_and_counts_them_all() {
        let batch: Vec<Fact> = (0..1_500).map(|i| fact(&format!("{i:05}"), at(11, 0, 0), "EU", 1.0)).collect();
        let checks = compare(&batch, &[], Period::Hour, at(11, 0, 0), at(12, 0, 0));
        assert_eq!(checks[0].missing_in_realtime.count, 1_500);
        assert_eq!(checks[0].keys.len(), DRILL_KEYS);
        assert_eq!((checks[0].keys[0].key.as_str(), checks[0].keys[999].key.as_str()), ("00000", "00999"));
        assert_eq!(checks[0].sample_keys().len(), SAMPLE_KEYS);
    }

    #[test]
    fn facts_outside_the_window_only_match() {
        let batch = vec![fact("1", at(10, 0, 0), "EU", 1.0)];
        let realtime = vec![fact("1", at(10, 0, 0), "EU", 1.0), fact("2", at(10, 5, 0), "EU", 2.0)];
        assert!(compare(&batch, &realtime, Period::Hour, at(11, 0, 0), at(12, 0, 0)).is_empty());
    }
}
