//! Putting the two sides together: one point per bucket, each taken from the side the
//! plan assigns it, never from both. Missing buckets are zero, so a chart has no holes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::millis_rfc3339;
use crate::search::histogram::HistogramBucket;

use super::sql::BatchRow;
use super::tidemark::{Plan, Side};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportPoint {
    #[serde(with = "millis_rfc3339")]
    pub start: DateTime<Utc>,
    pub side: Side,
    pub value: f64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, f64>,
}

/// One point per bucket of the plan. Batch rows outside the batch range and real-time
/// buckets outside the real-time range are ignored: the plan alone decides the side.
pub fn merge(plan: &Plan, batch: &[BatchRow], realtime: &[HistogramBucket]) -> Vec<ReportPoint> {
    let mut points: Vec<ReportPoint> = plan
        .buckets()
        .map(|start| ReportPoint { start, side: plan.side(start), value: 0.0, groups: BTreeMap::new() })
        .collect();
    let step_ms = plan.interval.duration().num_milliseconds();
    let slot = |start: DateTime<Utc>| -> Option<usize> {
        let offset = (start - plan.from).num_milliseconds();
        (offset >= 0 && offset % step_ms == 0).then_some((offset / step_ms) as usize)
    };
    for row in batch {
        if let Some(point) = slot(row.bucket).and_then(|i| points.get_mut(i)).filter(|p| p.side == Side::Batch) {
            point.value += row.value;
            if let Some(group) = &row.group {
                *point.groups.entry(group.clone()).or_default() += row.value;
            }
        }
    }
    for bucket in realtime {
        if let Some(point) = slot(bucket.start).and_then(|i| points.get_mut(i)).filter(|p| p.side == Side::Realtime) {
            point.value += bucket.value;
            for (group, value) in &bucket.groups {
                *point.groups.entry(group.clone()).or_default() += value;
            }
        }
    }
    points
}

/// `start,side,group,value`: per bucket a row for the whole bucket (group empty), then
/// one per group. A group is event data: one a spreadsheet would run as a formula is
/// written with a leading `'` ([`spreadsheet_safe`]).
pub fn to_csv(points: &[ReportPoint]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["start", "side", "group", "value"])?;
    for point in points {
        let start = millis_rfc3339::format(&point.start);
        let rows = std::iter::once(("", point.value)).chain(point.groups.iter().map(|(g, v)| (g.as_str(), *v)));
        for (group, value) in rows {
            writer.write_record([start.as_str(), point.side.as_str(), &spreadsheet_safe(group), &value.to_string()])?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    // Every field was a `str`: the bytes are UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A text cell that Excel, LibreOffice or Google Sheets would evaluate (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, which shows the
/// text as typed (the OWASP advice for CSV injection).
fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}
