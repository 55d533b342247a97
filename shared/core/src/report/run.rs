//! Answering one report request: read the watermarks, plan the split, ask the warehouse
//! for the batch buckets and the index for the real-time ones (concurrently), merge.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bucket::Interval;
use crate::event::millis_rfc3339;
use crate::ports::search::{SearchError, SearchIndex};
use crate::ports::warehouse::{Warehouse, WarehouseError};
use crate::ports::UnreadableAnswer;
use crate::search::histogram::{self, Histogram, HistogramBucket};
use crate::search::Query;

use super::def::{Measure, ReportDef};
use super::merge::{merge, ReportPoint};
use super::sql::{batch_query, read_batch_rows, BatchRow};
use super::tidemark::{Plan, Side, Tidemark};

/// At most this many buckets per answer.
pub const MAX_BUCKETS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    pub interval: Interval,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// A dimension of the report.
    pub by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{field}: {message}")]
    BadRequest { field: &'static str, message: String },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Unreadable(#[from] UnreadableAnswer),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub report: String,
    pub title: String,
    pub measure: Measure,
    pub interval: Interval,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(with = "millis_rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(with = "millis_rfc3339")]
    pub to: DateTime<Utc>,
    pub tidemark: Tidemark,
    pub total: f64,
    pub batch_total: f64,
    pub realtime_total: f64,
    pub points: Vec<ReportPoint>,
}

impl ReportQuery {
    pub fn validate(&self, def: &ReportDef) -> Result<(), ReportError> {
        if self.from >= self.to {
            return Err(ReportError::BadRequest { field: "from", message: "from must be before to".into() });
        }
        if let Some(by) = &self.by {
            if !def.batch.by.contains_key(by) {
                let known: Vec<&str> = def.dimensions().collect();
                return Err(ReportError::BadRequest {
                    field: "by",
                    message: format!("report {} has no dimension {by:?}; use one of {known:?}", def.name),
                });
            }
        }
        let buckets = (self.to - self.from).num_milliseconds() / self.interval.duration().num_milliseconds();
        if buckets > MAX_BUCKETS {
            return Err(ReportError::BadRequest {
                field: "interval",
                message: format!("{buckets} buckets requested; at most {MAX_BUCKETS}, widen the interval"),
            });
        }
        Ok(())
    }
}

/// The real-time side's histogram for `[from, to)`.
pub fn realtime_histogram(
    def: &ReportDef,
    by: Option<&str>,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Histogram {
    let side = &def.realtime;
    let mut filters: Vec<Query> = side.event_type.iter().map(|t| Query::term("event_type", t)).collect();
    filters.extend(side.filter.iter().map(|(field, value)| Query::term(field, value)));
    let measure = match (def.measure, &side.value) {
        (Measure::Sum, Some(value)) => histogram::Measure::Sum(value.clone()),
        _ => histogram::Measure::Count,
    };
    let by = by.and_then(|dimension| side.by.get(dimension)).cloned();
    Histogram { filters, measure, by, interval, from, to }
}

pub async fn run_report(
    def: &ReportDef,
    query: &ReportQuery,
    warehouse: &dyn Warehouse,
    index: &dyn SearchIndex,
) -> Result<Report, ReportError> {
    query.validate(def)?;
    let tidemark = Tidemark::of(def, &warehouse.watermarks().await?);
    let plan = Plan::new(query.interval, query.from, query.to, &tidemark);
    let by = query.by.as_deref();
    let batch = async {
        let Some((from, to)) = plan.batch_range() else { return Ok::<_, ReportError>(Vec::new()) };
        let column = by.and_then(|dimension| def.batch.by.get(dimension)).map(String::as_str);
        let result = warehouse.query(&batch_query(def, column, plan.interval, from, to)).await?;
        Ok(read_batch_rows(&result)?)
    };
    let realtime = async {
        let Some((from, to)) = plan.realtime_range() else { return Ok::<_, ReportError>(Vec::new()) };
        let histogram = realtime_histogram(def, by, plan.interval, from, to);
        let response = index.search(&histogram.request()).await?;
        Ok(histogram.read(&response)?)
    };
    let (batch, realtime): (Vec<BatchRow>, Vec<HistogramBucket>) = futures::try_join!(batch, realtime)?;
    let points = merge(&plan, &batch, &realtime);
    Ok(report_of(def, query, tidemark, &plan, points))
}

fn report_of(
    def: &ReportDef,
    query: &ReportQuery,
    tidemark: Tidemark,
    plan: &Plan,
    mut points: Vec<ReportPoint>,
) -> Report {
    // Sums of floats pick up noise in the last digits; money reads better without it.
    let tidy = |v: f64| (v * 1e6).round() / 1e6;
    let (mut batch_total, mut realtime_total) = (0.0, 0.0);
    for point in &mut points {
        point.value = tidy(point.value);
        point.groups.values_mut().for_each(|v| *v = tidy(*v));
        match point.side {
            Side::Batch => batch_total += point.value,
            Side::Realtime => realtime_total += point.value,
        }
    }
    let (batch_total, realtime_total) = (tidy(batch_total), tidy(realtime_total));
    Report {
        report: def.name.clone(),
        title: def.title().to_owned(),
        measure: def.measure,
        interval: plan.interval,
        by: query.by.clone(),
        from: plan.from,
        to: plan.to,
        tidemark,
        total: tidy(batch_total + realtime_total),
        batch_total,
        realtime_total,
        points,
    }
}
