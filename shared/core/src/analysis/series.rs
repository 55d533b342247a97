//! A forecast analysis run: the report's merged series (batch below the tidemark, real
//! time above, exactly as the report answers) for the total and each of its largest
//! groups; per series a model fitted without the latest `recent` buckets, those buckets
//! checked against it (what is happening now), the fitted past checked for outliers,
//! and the band written ahead.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::batch::Value;
use crate::ports::warehouse::{Query, Step};
use crate::report::{run_report, Measure, ReportDef, ReportQuery};

use super::anomaly::{flag, Anomaly, Observation, Subject};
use super::def::ForecastDef;
use super::forecast::{forecast, Band, ForecastError};
use super::job::{AnalysisError, AnalysisSummary, Analyzer, Found, RunStamp};
use super::tables::{number, Scope, ANOMALIES, FORECAST};

/// One series of the report: the total (`group` None) or one group's.
struct Series {
    group: Option<String>,
    values: Vec<f64>,
}

/// What one series gave: forecast rows and anomalies.
#[derive(Default)]
struct Modelled {
    rows: Vec<Vec<Value>>,
    recent: Vec<Anomaly>,
    history: Vec<Anomaly>,
}

pub(super) async fn run(
    def: &ForecastDef,
    write_forecast: bool,
    analyzer: &Analyzer<'_>,
    stamp: &RunStamp,
) -> Result<Found, AnalysisError> {
    let report = analyzer.pipeline.report(&def.report).ok_or_else(|| AnalysisError::Unknown(def.report.clone()))?;
    let width = def.grain.duration();
    let end = stamp.at.duration_trunc(width).unwrap_or(stamp.at);
    let from = end - width * def.history_buckets() as i32;
    let query = ReportQuery { interval: def.grain, from, to: end, by: def.by.clone() };
    let merged = run_report(report, &query, analyzer.warehouse, analyzer.index).await?;
    let starts: Vec<DateTime<Utc>> = merged.points.iter().map(|p| p.start).collect();

    let mut summary = AnalysisSummary::default();
    let mut all = Modelled::default();
    for series in series_of(&merged.points, def.max_groups) {
        let whole = report.measure == Measure::Count;
        let unit = if whole { None } else { report.unit.as_deref() };
        let subject = Subject { what: &subject_of(report), group: series.group.as_deref(), unit, whole };
        match model(def, &starts, &series, &subject, stamp) {
            Ok(m) => {
                all.rows.extend(m.rows);
                all.recent.extend(m.recent);
                all.history.extend(m.history);
            }
            Err(e) => summary.skipped.push(format!("{}: {e}", series.group.as_deref().unwrap_or("total"))),
        }
    }
    let already = notified_before(analyzer, &def.name, from).await?;
    let new_recent: Vec<Anomaly> =
        all.recent.iter().filter(|a| !already.contains(&(a.group.clone(), a.start))).cloned().collect();
    summary.anomalies = all.recent.len() + all.history.len();
    summary.now = all.recent.iter().map(|a| a.sentence.clone()).collect();
    let anomaly_rows: Vec<Vec<Value>> = all
        .recent
        .iter()
        .map(|a| anomaly_row(&def.name, "recent", a, stamp))
        .chain(all.history.iter().map(|a| anomaly_row(&def.name, "history", a, stamp)))
        .collect();
    let mut steps: Vec<Step> = Vec::new();
    if write_forecast {
        summary.rows = all.rows.len() as u64;
        steps.extend(FORECAST.replace(&Scope { analysis: &def.name, load_id: None, window: None }, all.rows));
    } else {
        summary.rows = anomaly_rows.len() as u64;
    }
    let window = Scope { analysis: &def.name, load_id: None, window: Some((from, end)) };
    steps.extend(ANOMALIES.replace(&window, anomaly_rows));
    analyzer.warehouse.execute(steps).await?;
    Ok(Found { summary, new_recent })
}

/// The total and the `max_groups` largest groups, largest first.
fn series_of(points: &[crate::report::ReportPoint], max_groups: usize) -> Vec<Series> {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for point in points {
        for (group, value) in &point.groups {
            *totals.entry(group).or_default() += value;
        }
    }
    let mut groups: Vec<(&str, f64)> = totals.into_iter().collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let total = Series { group: None, values: points.iter().map(|p| p.value).collect() };
    let each = groups.into_iter().take(max_groups).map(|(group, _)| Series {
        group: Some(group.to_owned()),
        values: points.iter().map(|p| p.groups.get(group).copied().unwrap_or(0.0)).collect(),
    });
    std::iter::once(total).chain(each).collect()
}

/// What the sentences call the report's series: its name in words ("sales").
fn subject_of(report: &ReportDef) -> String {
    report.name.replace('_', " ")
}

fn model(
    def: &ForecastDef,
    starts: &[DateTime<Utc>],
    series: &Series,
    subject: &Subject<'_>,
    stamp: &RunStamp,
) -> Result<Modelled, ForecastError> {
    let width = def.grain.duration();
    let recent = def.recent().min(series.values.len());
    let (fitted_on, latest) = series.values.split_at(series.values.len() - recent);
    let (ahead, in_sample) = forecast(fitted_on, &def.periods(), recent + def.horizon(), def.level)?;
    let observe = |from: usize, values: &[f64]| -> Vec<Observation> {
        values.iter().enumerate().map(|(i, v)| Observation { start: starts[from + i], actual: *v }).collect()
    };
    // The first season of the in-sample fit is the model finding its feet: not judged.
    let settled = def.season().min(fitted_on.len());
    let history = flag(
        subject,
        width,
        &observe(settled, &fitted_on[settled..]),
        &in_sample.slice(settled..fitted_on.len()),
        def.min_score,
    );
    let recent_found = flag(subject, width, &observe(fitted_on.len(), latest), &ahead.slice(0..recent), def.min_score);

    let group = series.group.as_deref();
    let mut rows = Vec::with_capacity(series.values.len() + def.horizon());
    let row = |bucket, phase, band: &Band, i: usize, actual: Option<f64>| {
        forecast_row(&def.name, group, bucket, phase, band, i, actual, stamp)
    };
    for (i, actual) in fitted_on.iter().enumerate() {
        rows.push(row(starts[i], "history", &in_sample, i, Some(*actual)));
    }
    for (i, actual) in latest.iter().enumerate() {
        rows.push(row(starts[fitted_on.len() + i], "recent", &ahead, i, Some(*actual)));
    }
    let end = starts.last().map_or(stamp.at, |last| *last + width);
    for i in recent..recent + def.horizon() {
        rows.push(row(end + width * (i - recent) as i32, "ahead", &ahead, i, None));
    }
    Ok(Modelled { rows, recent: recent_found, history })
}

#[allow(clippy::too_many_arguments)] // one row's cells, each named at the call
fn forecast_row(
    analysis: &str,
    group: Option<&str>,
    bucket: DateTime<Utc>,
    phase: &str,
    band: &Band,
    i: usize,
    actual: Option<f64>,
    stamp: &RunStamp,
) -> Vec<Value> {
    let at = |values: &[f64]| values.get(i).copied().map_or(Value::Null, number);
    vec![
        Value::str(analysis),
        group.map_or(Value::Null, Value::str),
        Value::Timestamp(bucket),
        Value::str(phase),
        at(&band.point),
        at(&band.lower),
        at(&band.upper),
        actual.map_or(Value::Null, number),
        Value::str(stamp.id.as_str()),
        Value::Timestamp(stamp.at),
    ]
}

fn anomaly_row(analysis: &str, phase: &str, a: &Anomaly, stamp: &RunStamp) -> Vec<Value> {
    vec![
        Value::str(analysis),
        a.group.as_deref().map_or(Value::Null, Value::str),
        Value::Timestamp(a.start),
        Value::Timestamp(a.end),
        Value::str(phase),
        Value::str(if a.direction == super::Direction::Below { "below" } else { "above" }),
        number(a.actual),
        number(a.expected),
        number(a.lower),
        number(a.upper),
        number(a.score),
        Value::str(a.sentence.as_str()),
        Value::str(stamp.id.as_str()),
        Value::Timestamp(stamp.at),
    ]
}

/// The recent anomalies earlier runs already wrote (and so sent): a bucket that stays
/// wrong is told once, not every quarter hour.
async fn notified_before(
    analyzer: &Analyzer<'_>,
    analysis: &str,
    from: DateTime<Utc>,
) -> Result<Vec<(Option<String>, DateTime<Utc>)>, AnalysisError> {
    analyzer.warehouse.execute(vec![Step::Sql(ANOMALIES.ddl())]).await?;
    let query = Query::with_params(
        format!(
            "SELECT grp, bucket_start FROM {} WHERE analysis = $1 AND phase = 'recent' AND bucket_start >= {}",
            ANOMALIES.name,
            crate::batch::sql::timestamp(from - Duration::days(1))
        ),
        vec![analysis.to_owned()],
    );
    let result = analyzer.warehouse.query(&query).await?;
    Ok(result
        .rows
        .iter()
        .filter_map(|row| match (row.first(), row.get(1)) {
            (Some(Value::Str(g)), Some(Value::Timestamp(t))) => Some((Some(g.to_string()), *t)),
            (Some(Value::Null), Some(Value::Timestamp(t))) => Some((None, *t)),
            _ => None,
        })
        .collect())
}
