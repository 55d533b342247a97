//! The reconciliation table and the statements that read and replace its rows, in SQL
//! that DuckDB and Redshift both run.

use chrono::{DateTime, Utc};

use crate::batch::sql::{ident, name_literal, timestamp};
use crate::batch::{ColumnType, Value};
use crate::ports::warehouse::{Query, Rows, Step};

use super::compare::{BucketCheck, Fact};
use crate::report::{Measure, ReportDef};

pub const TABLE: &str = "tidemark_reconciliation";
/// Every key behind a bucket's counts (up to [`super::compare::DRILL_KEYS`]), for the
/// drill-down from a bucket to the orders it is about.
pub const KEYS_TABLE: &str = "tidemark_reconciliation_keys";
/// Keys are kept this long after their bucket (the counts in [`TABLE`] stay): enough to
/// look into last month, and a bound on a table that holds up to a thousand rows per
/// bucket and group.
pub const KEYS_KEPT: chrono::Duration = chrono::Duration::days(35);

pub fn ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (report VARCHAR(256) NOT NULL, bucket TIMESTAMP NOT NULL, \
         grp VARCHAR(256), batch_count BIGINT, batch_sum DOUBLE PRECISION, realtime_count BIGINT, \
         realtime_sum DOUBLE PRECISION, missing_in_realtime BIGINT, missing_in_realtime_sum DOUBLE PRECISION, \
         missing_in_batch BIGINT, missing_in_batch_sum DOUBLE PRECISION, mismatched BIGINT, \
         mismatch_sum DOUBLE PRECISION, sample_keys VARCHAR(65535), summary VARCHAR(65535), \
         run_id VARCHAR(256) NOT NULL, checked_at TIMESTAMP NOT NULL)"
    )
}

pub fn keys_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (report VARCHAR(256) NOT NULL, bucket TIMESTAMP NOT NULL, \
         grp VARCHAR(256), difference VARCHAR(32) NOT NULL, business_key VARCHAR(1024) NOT NULL, \
         batch_value DOUBLE PRECISION, realtime_value DOUBLE PRECISION, run_id VARCHAR(256) NOT NULL)"
    )
}

fn key_columns() -> Vec<(String, ColumnType)> {
    use ColumnType::{Double, Timestamp, Varchar};
    [
        ("report", Varchar),
        ("bucket", Timestamp),
        ("grp", Varchar),
        ("difference", Varchar),
        ("business_key", Varchar),
        ("batch_value", Double),
        ("realtime_value", Double),
        ("run_id", Varchar),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

/// The table's columns in order, as [`replace`] stages its rows.
fn columns() -> Vec<(String, ColumnType)> {
    use ColumnType::{BigInt, Double, Timestamp, Varchar};
    [
        ("report", Varchar),
        ("bucket", Timestamp),
        ("grp", Varchar),
        ("batch_count", BigInt),
        ("batch_sum", Double),
        ("realtime_count", BigInt),
        ("realtime_sum", Double),
        ("missing_in_realtime", BigInt),
        ("missing_in_realtime_sum", Double),
        ("missing_in_batch", BigInt),
        ("missing_in_batch_sum", Double),
        ("mismatched", BigInt),
        ("mismatch_sum", Double),
        ("sample_keys", Varchar),
        ("summary", Varchar),
        ("run_id", Varchar),
        ("checked_at", Timestamp),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

/// Replaces the report's results for `[from, to)`, counts and keys: run in one
/// transaction, so a re-run of the same window leaves one set of rows. Keys of buckets
/// older than [`KEYS_KEPT`] before `from` go. The rows carry event values (groups, order
/// ids): they are staged, never written as SQL.
pub fn replace(
    report: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    checks: &[(BucketCheck, String)],
    run_id: &str,
    checked_at: DateTime<Utc>,
) -> Vec<Step> {
    let num = |v: f64| if v.is_finite() { Value::Float(v) } else { Value::Null };
    let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let rows = checks
        .iter()
        .map(|(c, summary)| {
            vec![
                Value::str(report),
                Value::Timestamp(c.bucket),
                c.group.as_deref().map_or(Value::Null, Value::str),
                count(c.batch.count),
                num(c.batch.sum),
                count(c.realtime.count),
                num(c.realtime.sum),
                count(c.missing_in_realtime.count),
                num(c.missing_in_realtime.sum),
                count(c.missing_in_batch.count),
                num(c.missing_in_batch.sum),
                count(c.mismatched.count),
                num(c.mismatched.sum),
                Value::str(c.sample_keys().join("; ")),
                Value::str(summary.as_str()),
                Value::str(run_id),
                Value::Timestamp(checked_at),
            ]
        })
        .collect();
    let keys = checks
        .iter()
        .flat_map(|(c, _)| {
            c.keys.iter().map(|k| {
                vec![
                    Value::str(report),
                    Value::Timestamp(c.bucket),
                    c.group.as_deref().map_or(Value::Null, Value::str),
                    Value::str(k.difference.as_str()),
                    Value::str(k.key.as_str()),
                    k.batch_value.map_or(Value::Null, num),
                    k.realtime_value.map_or(Value::Null, num),
                    Value::str(run_id),
                ]
            })
        })
        .collect::<Vec<_>>();
    let window = |table: &str| {
        format!(
            "DELETE FROM {table} WHERE report = {} AND bucket >= {} AND bucket < {}",
            name_literal(report),
            timestamp(from),
            timestamp(to)
        )
    };
    let mut steps = vec![
        Step::Sql(ddl()),
        Step::Sql(keys_ddl()),
        Step::Sql(window(TABLE)),
        Step::Sql(window(KEYS_TABLE)),
        Step::Sql(format!(
            "DELETE FROM {KEYS_TABLE} WHERE report = {} AND bucket < {}",
            name_literal(report),
            timestamp(from - KEYS_KEPT)
        )),
        Step::Rows(Rows { table: TABLE.to_owned(), columns: columns(), rows }),
    ];
    if !keys.is_empty() {
        steps.push(Step::Rows(Rows { table: KEYS_TABLE.to_owned(), columns: key_columns(), rows: keys }));
    }
    steps
}

/// The keys behind one bucket's counts (and group, when the report has a dimension), in
/// key order. Every value from the request is bound.
pub fn keys(report: &str, bucket: DateTime<Utc>, group: Option<&str>, limit: usize) -> Query {
    let mut params = vec![report.to_owned(), bucket.format("%Y-%m-%d %H:%M:%S").to_string()];
    let group_clause = match group {
        Some(group) => {
            params.push(group.to_owned());
            "grp = $3"
        }
        None => "grp IS NULL",
    };
    Query::with_params(
        format!(
            "SELECT difference, business_key, batch_value, realtime_value FROM {KEYS_TABLE} \
             WHERE report = $1 AND bucket = CAST($2 AS TIMESTAMP) AND {group_clause} \
             ORDER BY difference, business_key LIMIT {limit}"
        ),
        params,
    )
}

/// The latest results: disagreeing buckets first, newest first.
pub fn latest(report: Option<&str>, limit: usize) -> Query {
    let filter = if report.is_some() { "WHERE report = $1 " } else { "" };
    Query::with_params(
        format!(
            "SELECT report, bucket, grp, batch_count, batch_sum, realtime_count, realtime_sum, missing_in_realtime, \
             missing_in_realtime_sum, missing_in_batch, missing_in_batch_sum, mismatched, mismatch_sum, sample_keys, \
             summary, checked_at FROM {TABLE} {filter}\
             ORDER BY CASE WHEN missing_in_realtime + missing_in_batch + mismatched > 0 THEN 0 ELSE 1 END, \
             bucket DESC, grp LIMIT {limit}"
        ),
        report.map(str::to_owned).into_iter().collect(),
    )
}

/// Batch facts of a report: `key, time, group, value` in `[from, to)`, filter applied.
pub fn batch_facts(def: &ReportDef, group_column: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Query {
    let group = crate::report::sql::group_sql(group_column);
    let value = match (def.measure, &def.batch.value) {
        (Measure::Sum, Some(value)) => format!("CAST({} AS DOUBLE PRECISION)", ident(value)),
        _ => "CAST(1 AS DOUBLE PRECISION)".to_owned(),
    };
    let key = def.batch.key.as_deref().unwrap_or_default();
    Query::new(format!(
        "SELECT CAST({key} AS VARCHAR(256)), {time}, {group}, {value} FROM {table} WHERE {clause}",
        key = ident(key),
        time = crate::report::sql::time_sql(def),
        table = ident(&def.batch.table),
        clause = crate::report::sql::where_sql(def, from, to),
    ))
}

/// Reads [`batch_facts`] rows.
pub fn read_facts(rows: &[Vec<Value>]) -> Vec<Fact> {
    rows.iter()
        .filter_map(|row| match row.as_slice() {
            [Value::Str(key), Value::Timestamp(at), group, value] => Some(Fact {
                key: key.to_string(),
                at: *at,
                group: match group {
                    Value::Null => None,
                    other => Some(other.to_string()),
                },
                value: value.as_f64().unwrap_or(0.0),
            }),
            _ => None,
        })
        .collect()
}
