//! Anomalies: buckets whose value falls outside the forecast band, each with a score
//! and a sentence a person can act on ("EU revenue 14:00–15:00 is 62 % below its
//! forecast (expected 4,100–5,300 EUR, got 1,720)").

use chrono::{DateTime, Duration, Utc};

use super::forecast::Band;

/// One bucket: what came in beside what the band expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub start: DateTime<Utc>,
    pub actual: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Below,
    Above,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Anomaly {
    #[serde(with = "crate::event::millis_rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::event::millis_rfc3339")]
    pub end: DateTime<Utc>,
    pub group: Option<String>,
    pub actual: f64,
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
    pub direction: Direction,
    /// How far outside the band, in half-widths of the band: 0 at its edge, 1 as far
    /// again beyond it as the band reaches from its middle.
    pub score: f64,
    pub sentence: String,
}

/// What the sentence calls the series: "EU revenue", "page views".
pub struct Subject<'a> {
    pub what: &'a str,
    pub group: Option<&'a str>,
    pub unit: Option<&'a str>,
    /// Counts: figures without decimals.
    pub whole: bool,
}

/// The observations outside `band` (one band bucket per observation, in order), worst
/// first. A bucket needs to be off by at least `min_score` to count.
pub fn flag(
    subject: &Subject<'_>,
    width: Duration,
    observations: &[Observation],
    band: &Band,
    min_score: f64,
) -> Vec<Anomaly> {
    let mut out: Vec<Anomaly> = observations
        .iter()
        .zip(band.point.iter().zip(band.lower.iter().zip(&band.upper)))
        .filter_map(|(seen, (expected, (lower, upper)))| {
            let (direction, distance) = if seen.actual < *lower {
                (Direction::Below, lower - seen.actual)
            } else if seen.actual > *upper {
                (Direction::Above, seen.actual - upper)
            } else {
                return None;
            };
            let half_width = ((upper - lower) / 2.0).max(expected.abs() * 0.01).max(f64::EPSILON);
            let score = distance / half_width;
            (score >= min_score).then(|| Anomaly {
                start: seen.start,
                end: seen.start + width,
                group: subject.group.map(str::to_owned),
                actual: seen.actual,
                expected: *expected,
                lower: *lower,
                upper: *upper,
                direction,
                score,
                sentence: sentence(subject, seen.start, seen.start + width, seen.actual, *expected, *lower, *upper),
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

fn sentence(
    subject: &Subject<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    actual: f64,
    expected: f64,
    lower: f64,
    upper: f64,
) -> String {
    let who = match subject.group {
        Some(group) => format!("{group} {}", subject.what),
        None => subject.what.to_owned(),
    };
    let when = if end - start >= Duration::days(1) {
        start.format("%Y-%m-%d").to_string()
    } else {
        format!("{}–{} UTC on {}", start.format("%H:%M"), end.format("%H:%M"), start.format("%Y-%m-%d"))
    };
    let change = if expected > 0.0 {
        let percent = ((actual - expected) / expected * 100.0).abs().round();
        format!("{percent} % {} its forecast", if actual < expected { "below" } else { "above" })
    } else {
        format!("{} its forecast", if actual < expected { "below" } else { "above" })
    };
    let unit = subject.unit.map(|unit| format!(" {unit}")).unwrap_or_default();
    let figure = |v: f64| if subject.whole && v.abs() < 100.0 { format!("{v:.0}") } else { grouped(v) };
    format!("{who} {when} is {change} (expected {}–{}{unit}, got {})", figure(lower), figure(upper), figure(actual))
}

/// A figure for a sentence: whole numbers with thousands separators from 100 up,
/// two decimals below.
pub fn grouped(value: f64) -> String {
    if value.abs() < 100.0 {
        return format!("{value:.2}");
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn band(n: usize) -> Band {
        Band { point: vec![4_700.0; n], lower: vec![4_100.0; n], upper: vec![5_300.0; n], level: 0.95 }
    }

    fn hours(values: &[f64]) -> Vec<Observation> {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, actual)| Observation { start: start + Duration::hours(i as i64), actual: *actual })
            .collect()
    }

    #[test]
    fn a_drop_below_the_band_is_flagged_with_a_sentence_to_act_on() {
        let subject = Subject { what: "revenue", group: Some("EU"), unit: Some("EUR"), whole: false };
        let found = flag(&subject, Duration::hours(1), &hours(&[4_500.0, 4_900.0, 1_720.0]), &band(3), 0.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].direction, Direction::Below);
        assert_eq!(
            found[0].sentence,
            "EU revenue 14:00–15:00 UTC on 2026-12-01 is 63 % below its forecast (expected 4,100–5,300 EUR, got 1,720)"
        );
        assert!((found[0].score - (4_100.0 - 1_720.0) / 600.0).abs() < 1e-9);
    }

    #[test]
    fn values_inside_the_band_are_not_anomalies_and_the_worst_comes_first() {
        let subject = Subject { what: "page views", group: None, unit: None, whole: true };
        let found = flag(&subject, Duration::hours(1), &hours(&[4_200.0, 5_400.0, 9_000.0, 5_200.0]), &band(4), 0.0);
        assert_eq!(found.iter().map(|a| a.actual).collect::<Vec<_>>(), vec![9_000.0, 5_400.0]);
        assert!(found.iter().all(|a| a.direction == Direction::Above));
        let strict = flag(&subject, Duration::hours(1), &hours(&[5_400.0]), &band(1), 0.5);
        assert!(strict.is_empty(), "just outside the band is below a 0.5 score");
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(grouped(1_234_567.4), "1,234,567");
        assert_eq!(grouped(999.6), "1,000");
        assert_eq!(grouped(12.345), "12.35");
        assert_eq!(grouped(-4_100.0), "-4,100");
    }
}
