//! Warehouse views for BI tools that only speak SQL: for each report a view
//! `report_<name>` (`bucket, grp, value, side`, hourly) that unions the batch table's
//! rows before the tidemark with the real-time rollups after it.
//!
//! The view computes the tidemark itself from `tidemark_watermarks` (the same rule as
//! [`Tidemark::of`], precision included: the hours of a day-precision table's batch
//! days hold each day's rows in its first hour, as the report API answers them), so it switches hours to batch the moment a load commits; the
//! report-views job only keeps `tidemark_realtime_rollup` (the index's hourly buckets
//! after the mark) fresh. Plain SQL that DuckDB and Redshift both run.

use chrono::{DateTime, Duration, Utc};

use super::def::ReportDef;
use super::run::{realtime_histogram, ReportError};
use super::sql::{group_sql, measure_sql, time_sql};
use super::tidemark::{coverage_unit, Tidemark};
use crate::batch::pipeline::Pipeline;
use crate::batch::sql::{ident, meta_ddl, name_literal, WATERMARKS};
use crate::batch::{ColumnType, Value};
use crate::bucket::Interval;
use crate::clock::Clock;
use crate::ports::warehouse::{steps, Rows, Step};
use crate::ports::{SearchIndex, Warehouse};

pub const ROLLUP: &str = "tidemark_realtime_rollup";
/// How far back the rollup reaches when batch has loaded nothing yet.
const NO_MARK_LOOKBACK_DAYS: i64 = 7;

fn view_name(def: &ReportDef) -> String {
    format!("report_{}", def.name)
}

fn rollup_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {ROLLUP} (report VARCHAR(256) NOT NULL, bucket TIMESTAMP NOT NULL, \
         grp VARCHAR(256), value DOUBLE PRECISION NOT NULL, refreshed_at TIMESTAMP NOT NULL)"
    )
}

/// The report's tidemark in SQL: the end of the coarser of the grain and precision
/// periods holding the lowest high-water mark of its table's sources
/// ([`covered_until`](super::tidemark::covered_until)); the epoch when batch has loaded nothing.
fn mark_sql(def: &ReportDef) -> String {
    let unit = coverage_unit(def.grain, def.precision);
    format!(
        "COALESCE((SELECT DATE_TRUNC('{unit}', MIN(high_water)) + INTERVAL '1 {unit}' FROM {WATERMARKS} \
         WHERE table_name = {table}), CAST('1970-01-01 00:00:00' AS TIMESTAMP))",
        table = name_literal(&def.batch.table)
    )
}

/// The rollup table's columns in order, as the refresh stages its rows.
fn rollup_columns() -> Vec<(String, ColumnType)> {
    [
        ("report", ColumnType::Varchar),
        ("bucket", ColumnType::Timestamp),
        ("grp", ColumnType::Varchar),
        ("value", ColumnType::Double),
        ("refreshed_at", ColumnType::Timestamp),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

fn view_sql(def: &ReportDef) -> String {
    let group = group_sql(def.dimensions().next().and_then(|d| def.batch.by.get(d)).map(String::as_str));
    let time = ident(&def.batch.time);
    let filter = def.batch.filter_sql.as_ref().map(|f| format!(" AND {f}")).unwrap_or_default();
    let mark = mark_sql(def);
    format!(
        "CREATE OR REPLACE VIEW {view} AS \
         SELECT DATE_TRUNC('hour', {time_sql}) AS bucket, {group} AS grp, {measure} AS value, 'batch' AS side \
         FROM {table} WHERE {time} < {mark}{filter} GROUP BY 1, 2 \
         UNION ALL \
         SELECT bucket, grp, value, 'realtime' AS side FROM {ROLLUP} \
         WHERE report = {name} AND bucket >= {mark}",
        view = ident(&view_name(def)),
        time_sql = time_sql(def),
        measure = measure_sql(def),
        table = ident(&def.batch.table),
        name = name_literal(&def.name),
    )
}

/// What one refresh did for one report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewRefresh {
    pub report: String,
    pub view: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rollup_rows: usize,
}

/// The report-views job: (re)creates every report's view and replaces its real-time
/// rollup from the tidemark (or a week back) to the end of the current hour, in one
/// transaction per report.
pub async fn refresh(
    pipeline: &Pipeline,
    warehouse: &dyn Warehouse,
    index: &dyn SearchIndex,
    clock: &dyn Clock,
) -> Result<Vec<ViewRefresh>, ReportError> {
    warehouse.ensure_tables(&pipeline.tables).await?;
    let mut ddl = meta_ddl().to_vec();
    ddl.push(rollup_ddl());
    warehouse.execute(steps(ddl)).await?;
    let watermarks = warehouse.watermarks().await?;
    let now = clock.now();
    let to = Interval::Hour.floor(now) + Duration::hours(1);
    let mut out = Vec::new();
    for def in &pipeline.reports {
        let mark = Tidemark::of(def, &watermarks);
        let from = mark.at.unwrap_or_else(|| Interval::Hour.floor(now - Duration::days(NO_MARK_LOOKBACK_DAYS))).min(to);
        let by = def.dimensions().next();
        let histogram = realtime_histogram(def, by, Interval::Hour, from, to);
        let buckets = histogram.read(&index.search(&histogram.request()).await?)?;
        let mut rows = Vec::new();
        let row = |start, group: Option<&str>, value: f64| {
            vec![
                Value::str(def.name.as_str()),
                Value::Timestamp(start),
                group.map_or(Value::Null, Value::str),
                Value::Float(value),
                Value::Timestamp(now),
            ]
        };
        for bucket in &buckets {
            let mut rest = bucket.value;
            for (group, value) in &bucket.groups {
                rest -= value;
                rows.push(row(bucket.start, Some(group), *value));
            }
            // Events without the dimension count in the bucket, in no group.
            if rest.abs() > 1e-9 {
                rows.push(row(bucket.start, None, rest));
            }
        }
        let rollup_rows = rows.len();
        // Hours before the mark are read from the table, so their old rollups go too.
        // The rows carry event values (groups): staged, never written as SQL.
        let statements = vec![
            Step::Sql(format!("DELETE FROM {ROLLUP} WHERE report = {}", name_literal(&def.name))),
            Step::Rows(Rows { table: ROLLUP.to_owned(), columns: rollup_columns(), rows }),
            Step::Sql(view_sql(def)),
        ];
        warehouse.execute(statements).await?;
        out.push(ViewRefresh { report: def.name.clone(), view: view_name(def), from, to, rollup_rows });
    }
    Ok(out)
}
