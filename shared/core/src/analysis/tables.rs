//! The four result tables (`analysis_forecast`, `analysis_anomalies`,
//! `analysis_profile`, `analysis_segments`) and the statements that replace and read
//! their rows, in SQL that DuckDB, PostgreSQL and Redshift all run. Result rows carry
//! event data (groups, entity ids, column minima): they are staged, never written as SQL.

use chrono::{DateTime, Utc};

use crate::batch::sql::{name_literal, timestamp};
use crate::batch::{ColumnType, Value};
use crate::ports::warehouse::{Query, Rows, Step};

/// A result table: its name and columns, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultTable {
    pub name: &'static str,
    columns: &'static [(&'static str, ColumnType)],
}

use ColumnType::{BigInt, Double, Timestamp, Varchar};

pub const FORECAST: ResultTable = ResultTable {
    name: "analysis_forecast",
    columns: &[
        ("analysis", Varchar),
        ("grp", Varchar),
        ("bucket", Timestamp),
        // `history` (the fit of the past), `recent` (held out and checked), `ahead`.
        ("phase", Varchar),
        ("expected", Double),
        ("low", Double),
        ("high", Double),
        ("actual", Double),
        ("run_id", Varchar),
        ("run_at", Timestamp),
    ],
};

pub const ANOMALIES: ResultTable = ResultTable {
    name: "analysis_anomalies",
    columns: &[
        ("analysis", Varchar),
        ("grp", Varchar),
        ("bucket_start", Timestamp),
        ("bucket_end", Timestamp),
        // `recent` (happening now), `history` (an outlier in the fitted past) or
        // `drift` (a profiled column changed between loads).
        ("phase", Varchar),
        ("direction", Varchar),
        ("actual", Double),
        ("expected", Double),
        ("low", Double),
        ("high", Double),
        ("score", Double),
        ("sentence", Varchar),
        ("run_id", Varchar),
        ("run_at", Timestamp),
    ],
};

pub const PROFILE: ResultTable = ResultTable {
    name: "analysis_profile",
    columns: &[
        ("analysis", Varchar),
        ("table_name", Varchar),
        ("column_name", Varchar),
        ("column_type", Varchar),
        ("load_id", Varchar),
        ("row_count", BigInt),
        ("null_count", BigInt),
        ("distinct_count", BigInt),
        ("min_value", Varchar),
        ("max_value", Varchar),
        ("mean", Double),
        ("stddev", Double),
        ("p50", Double),
        ("p95", Double),
        ("p99", Double),
        ("run_id", Varchar),
        ("run_at", Timestamp),
    ],
};

pub const SEGMENTS: ResultTable = ResultTable {
    name: "analysis_segments",
    columns: &[
        ("analysis", Varchar),
        ("entity", Varchar),
        ("segment", BigInt),
        // The entity's features as a JSON object, feature name → value.
        ("features", Varchar),
        // The segment's centre and size, in words.
        ("description", Varchar),
        ("run_id", Varchar),
        ("run_at", Timestamp),
    ],
};

pub const ALL: [ResultTable; 4] = [FORECAST, ANOMALIES, PROFILE, SEGMENTS];

impl ResultTable {
    pub fn ddl(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|(name, ty)| format!("{name} {}", ty.sql())).collect();
        format!("CREATE TABLE IF NOT EXISTS {} ({})", self.name, columns.join(", "))
    }

    fn rows(&self, rows: Vec<Vec<Value>>) -> Step {
        let columns = self.columns.iter().map(|(name, ty)| ((*name).to_owned(), *ty)).collect();
        Step::Rows(Rows { table: self.name.to_owned(), columns, rows })
    }

    /// Creates the table, deletes the rows `scope` covers and stages `rows` in their
    /// place: run as one transaction, so a re-run of the same window leaves one set.
    pub fn replace(&self, scope: &Scope<'_>, rows: Vec<Vec<Value>>) -> Vec<Step> {
        vec![
            Step::Sql(self.ddl()),
            Step::Sql(format!("DELETE FROM {} WHERE {}", self.name, scope.sql())),
            self.rows(rows),
        ]
    }

    /// The column names, in order, for reads.
    fn column_list(&self) -> String {
        self.columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }
}

/// The rows one run replaces: an analysis's rows, narrowed to a load or a time window.
pub struct Scope<'a> {
    pub analysis: &'a str,
    /// A profile's load id.
    pub load_id: Option<&'a str>,
    /// Anomalies whose bucket starts in `[from, to)`.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Scope<'_> {
    fn sql(&self) -> String {
        let mut sql = format!("analysis = {}", name_literal(self.analysis));
        if let Some(load_id) = self.load_id {
            sql += &format!(" AND load_id = {}", name_literal(load_id));
        }
        if let Some((from, to)) = self.window {
            sql += &format!(" AND bucket_start >= {} AND bucket_start < {}", timestamp(from), timestamp(to));
        }
        sql
    }
}

/// The id of one analysis's run at `at`.
pub fn run_id(analysis: &str, at: DateTime<Utc>) -> String {
    format!("analyze:{analysis}:{}", at.format("%Y%m%dT%H%M%S"))
}

/// A result table's rows for reading: those of one analysis (bound) or all, in the
/// table's natural order, at most `limit`.
pub fn read(table: ResultTable, analysis: Option<&str>, limit: usize) -> Query {
    let filter = if analysis.is_some() { "WHERE analysis = $1 " } else { "" };
    let order = match table.name {
        "analysis_forecast" => "analysis, grp, bucket",
        "analysis_anomalies" => "bucket_start DESC, score DESC",
        "analysis_profile" => "run_at DESC, analysis, column_name",
        _ => "analysis, segment, entity",
    };
    Query::with_params(
        format!("SELECT {} FROM {} {filter}ORDER BY {order} LIMIT {limit}", table.column_list(), table.name),
        analysis.map(str::to_owned).into_iter().collect(),
    )
}

/// One series of a forecast, oldest bucket first: the total (`group` None) or a group's.
pub fn read_forecast(analysis: &str, group: Option<&str>, limit: usize) -> Query {
    let (filter, mut params) = match group {
        Some(group) => ("grp = $2", vec![group.to_owned()]),
        None => ("grp IS NULL", vec![]),
    };
    params.insert(0, analysis.to_owned());
    Query::with_params(
        format!(
            "SELECT {} FROM {} WHERE analysis = $1 AND {filter} ORDER BY bucket LIMIT {limit}",
            FORECAST.column_list(),
            FORECAST.name
        ),
        params,
    )
}

/// A number for a result row: NaN and infinities are no value.
pub fn number(v: f64) -> Value {
    if v.is_finite() {
        Value::Float(v)
    } else {
        Value::Null
    }
}

/// A count for a result row.
pub fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_replace_deletes_only_what_the_run_covers_and_stages_the_rows() {
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let scope = Scope { analysis: "eu_revenue", load_id: None, window: Some((at, at + chrono::Duration::days(1))) };
        let steps = ANOMALIES.replace(&scope, vec![vec![Value::str("eu_revenue'; DROP TABLE x; --")]]);
        let Step::Sql(delete) = &steps[1] else { panic!("{steps:?}") };
        assert_eq!(
            delete,
            "DELETE FROM analysis_anomalies WHERE analysis = 'eu_revenue' AND bucket_start >= \
             CAST('2026-12-03 10:00:00.000000' AS TIMESTAMP) AND bucket_start < CAST('2026-12-04 10:00:00.000000' AS TIMESTAMP)"
        );
        assert!(matches!(&steps[2], Step::Rows(rows) if rows.table == "analysis_anomalies"), "data is staged");
        let profile =
            PROFILE.replace(&Scope { analysis: "p", load_id: Some("orders:20261203T020000Z"), window: None }, vec![]);
        assert!(
            matches!(&profile[1], Step::Sql(s) if s.ends_with("analysis = 'p' AND load_id = 'orders:20261203T020000Z'"))
        );
    }

    #[test]
    fn every_table_is_created_with_its_columns_in_order() {
        for table in ALL {
            let ddl = table.ddl();
            assert!(ddl.starts_with(&format!("CREATE TABLE IF NOT EXISTS {} (analysis VARCHAR", table.name)), "{ddl}");
            assert!(ddl.ends_with("run_id VARCHAR(65535), run_at TIMESTAMP)"), "{ddl}");
        }
        let query = read(FORECAST, Some("x"), 10);
        assert_eq!(query.params, vec!["x".to_owned()], "the analysis name is bound");
    }
}
