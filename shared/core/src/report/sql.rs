//! The warehouse side of a report: one aggregate query per request, in SQL that
//! DuckDB and Redshift both run (DATE_TRUNC, CAST, GROUP BY ordinals).

use chrono::{DateTime, Utc};

use crate::batch::sql::{ident, timestamp};
use crate::batch::value::Value;
use crate::bucket::Interval;
use crate::ports::warehouse::{Query, QueryResult};
use crate::ports::UnreadableAnswer;

use super::def::{Measure, ReportDef};

pub fn date_unit(interval: Interval) -> &'static str {
    match interval {
        Interval::Minute => "minute",
        Interval::Hour => "hour",
        Interval::Day => "day",
    }
}

/// The event time as a timestamp on every engine: a `date` column cast without a time
/// zone (PostgreSQL would cast a bare date to `timestamptz` in the session's zone), a
/// timestamp column unchanged. For SELECT lists; WHERE compares the column itself, so
/// that a sort key or zone map still prunes.
pub fn time_sql(def: &ReportDef) -> String {
    format!("CAST({} AS TIMESTAMP)", ident(&def.batch.time))
}

/// The measure over the rows, as a double on both engines.
pub fn measure_sql(def: &ReportDef) -> String {
    match (def.measure, &def.batch.value) {
        (Measure::Sum, Some(value)) => format!("CAST(COALESCE(SUM({}), 0) AS DOUBLE PRECISION)", ident(value)),
        _ => "CAST(COUNT(*) AS DOUBLE PRECISION)".to_owned(),
    }
}

/// A group column as text on both engines; NULL when the query has no dimension.
pub fn group_sql(column: Option<&str>) -> String {
    column.map_or("CAST(NULL AS VARCHAR(256))".to_owned(), |c| format!("CAST({} AS VARCHAR(256))", ident(c)))
}

/// The report's rows in `[from, to)` with its filter applied.
pub fn where_sql(def: &ReportDef, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let time = ident(&def.batch.time);
    let mut clause = format!("{time} >= {} AND {time} < {}", timestamp(from), timestamp(to));
    if let Some(filter) = &def.batch.filter_sql {
        clause.push_str(&format!(" AND {filter}"));
    }
    clause
}

/// `bucket, grp, value` rows ordered by bucket. `grp` is NULL for rows without the
/// dimension (and always without `by`); they count in the bucket, in no group.
pub fn batch_query(
    def: &ReportDef,
    by_column: Option<&str>,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Query {
    let group = group_sql(by_column);
    Query::new(format!(
        "SELECT DATE_TRUNC('{unit}', {time}) AS bucket, {group} AS grp, {measure} AS value FROM {table} \
         WHERE {clause} GROUP BY 1, 2 ORDER BY 1, 2",
        unit = date_unit(interval),
        time = time_sql(def),
        measure = measure_sql(def),
        table = ident(&def.batch.table),
        clause = where_sql(def, from, to),
    ))
}

/// One row of [`batch_query`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRow {
    pub bucket: DateTime<Utc>,
    pub group: Option<String>,
    pub value: f64,
}

pub fn read_batch_rows(result: &QueryResult) -> Result<Vec<BatchRow>, UnreadableAnswer> {
    result
        .rows
        .iter()
        .map(|row| match row.as_slice() {
            [Value::Timestamp(bucket), group, value] => Ok(BatchRow {
                bucket: *bucket,
                group: match group {
                    Value::Null => None,
                    other => Some(other.to_string()),
                },
                value: value.as_f64().unwrap_or(0.0),
            }),
            other => Err(UnreadableAnswer::warehouse(format!(
                "unexpected report row {other:?}; want bucket timestamp, group, value"
            ))),
        })
        .collect()
}
