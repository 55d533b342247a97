//! The reconciliation table and the statements that read and replace its rows, in SQL
//! that DuckDB and Redshift both run.

use chrono::{DateTime, Utc};

use crate::batch::sql::{ident, quote, timestamp};

use super::compare::{BucketCheck, Fact};
use crate::report::{Measure, ReportDef};

pub const TABLE: &str = "tidemark_reconciliation";
/// Rows per INSERT statement: well within Redshift's 16 MB statement limit.
const ROWS_PER_INSERT: usize = 500;

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

/// Replaces the report's results for `[from, to)`: run in one transaction, so a
/// re-run of the same window leaves one set of rows.
pub fn replace(
    report: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    checks: &[(BucketCheck, String)],
    run_id: &str,
    checked_at: DateTime<Utc>,
) -> Vec<String> {
    let mut statements = vec![
        ddl(),
        format!(
            "DELETE FROM {TABLE} WHERE report = {} AND bucket >= {} AND bucket < {}",
            quote(report),
            timestamp(from),
            timestamp(to)
        ),
    ];
    let num = |v: f64| if v.is_finite() { format!("{v:?}") } else { "NULL".to_owned() };
    for chunk in checks.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(c, summary)| {
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    quote(report),
                    timestamp(c.bucket),
                    c.group.as_deref().map_or("NULL".to_owned(), quote),
                    c.batch.count,
                    num(c.batch.sum),
                    c.realtime.count,
                    num(c.realtime.sum),
                    c.missing_in_realtime.count,
                    num(c.missing_in_realtime.sum),
                    c.missing_in_batch.count,
                    num(c.missing_in_batch.sum),
                    c.mismatched.count,
                    num(c.mismatched.sum),
                    quote(&c.sample_keys.join("; ")),
                    quote(summary),
                    quote(run_id),
                    timestamp(checked_at),
                )
            })
            .collect();
        statements.push(format!("INSERT INTO {TABLE} VALUES {}", values.join(", ")));
    }
    statements
}

/// The latest results: disagreeing buckets first, newest first.
pub fn latest(report: Option<&str>, limit: usize) -> String {
    let filter = report.map_or(String::new(), |r| format!("WHERE report = {} ", quote(r)));
    format!(
        "SELECT report, bucket, grp, batch_count, batch_sum, realtime_count, realtime_sum, missing_in_realtime, \
         missing_in_realtime_sum, missing_in_batch, missing_in_batch_sum, mismatched, mismatch_sum, sample_keys, \
         summary, checked_at FROM {TABLE} {filter}\
         ORDER BY CASE WHEN missing_in_realtime + missing_in_batch + mismatched > 0 THEN 0 ELSE 1 END, \
         bucket DESC, grp LIMIT {limit}"
    )
}

/// Batch facts of a report: `key, time, group, value` in `[from, to)`, filter applied.
pub fn batch_facts(def: &ReportDef, group_column: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let group = crate::report::sql::group_sql(group_column);
    let value = match (def.measure, &def.batch.value) {
        (Measure::Sum, Some(value)) => format!("CAST({} AS DOUBLE PRECISION)", ident(value)),
        _ => "CAST(1 AS DOUBLE PRECISION)".to_owned(),
    };
    let key = def.batch.key.as_deref().unwrap_or_default();
    format!(
        "SELECT CAST({key} AS VARCHAR(256)), {time}, {group}, {value} FROM {table} WHERE {clause}",
        key = ident(key),
        time = ident(&def.batch.time),
        table = ident(&def.batch.table),
        clause = crate::report::sql::where_sql(def, from, to),
    )
}

/// Reads [`batch_facts`] rows.
pub fn read_facts(rows: &[Vec<crate::batch::Value>]) -> Vec<Fact> {
    use crate::batch::Value;
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
