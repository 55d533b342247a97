//! Profiles: per column of a warehouse table, the statistics a person checks after a
//! load (rows, nulls, distinct values, min/max, mean, standard deviation, percentiles),
//! computed by the warehouse itself, one query per column: Redshift allows several
//! `PERCENTILE_CONT`s in one statement only over the same ordering. Kept per load, so
//! that a column that suddenly goes 40 % null shows as a drift.

use chrono::Duration;

use crate::batch::pipeline::{ColumnDef, Pipeline, TableDef};
use crate::batch::sql::ident;
use crate::batch::{ColumnType, Value};
use crate::ports::warehouse::{Query, QueryResult, Step, Warehouse};

use super::def::ProfileDef;
use super::job::{AnalysisError, AnalysisSummary, Found, RunStamp};
use super::tables::{count, number, Scope, ANOMALIES, PROFILE};

/// Profiles the table as of its latest load, and says which columns' null share rose
/// since the load profiled before.
pub(super) async fn run(
    def: &ProfileDef,
    pipeline: &Pipeline,
    warehouse: &dyn Warehouse,
    stamp: &RunStamp,
) -> Result<Found, AnalysisError> {
    let mut summary = AnalysisSummary::default();
    let table = pipeline.table(&def.table).ok_or_else(|| AnalysisError::Unknown(def.table.clone()))?;
    let latest = warehouse.watermarks().await?.into_iter().filter(|w| w.table == def.table).max_by_key(|w| w.loaded_at);
    let Some(load) = latest else {
        summary.skipped.push(format!("table {} has not been loaded yet", def.table));
        return Ok(Found { summary, new_recent: Vec::new() });
    };
    let mut profiles = Vec::new();
    for column in columns(table, &def.columns) {
        profiles.push(read(column, &warehouse.query(&query(table, column)).await?));
    }
    warehouse.execute(vec![Step::Sql(PROFILE.ddl())]).await?;
    let before = previous_null_shares(warehouse, &def.name, &load.load_id).await?;
    let drifts: Vec<(String, f64, f64)> = profiles
        .iter()
        .filter_map(|p| {
            let was = before.iter().find(|(c, _)| *c == p.column)?.1;
            let said = null_drift(&def.table, &p.column, was, p.null_share(), &load.load_id)?;
            Some((said, was, p.null_share()))
        })
        .collect();
    let rows = profiles.iter().map(|p| profile_row(&def.name, &def.table, &load.load_id, p, stamp)).collect();
    let drift_rows = drifts
        .iter()
        .map(|(said, was, now)| {
            vec![
                Value::str(def.name.as_str()),
                Value::Null,
                Value::Timestamp(load.loaded_at),
                Value::Timestamp(load.loaded_at),
                Value::str("drift"),
                Value::str("above"),
                number(*now),
                number(*was),
                Value::Null,
                Value::Null,
                number((now - was) / NULL_DRIFT),
                Value::str(said.as_str()),
                Value::str(stamp.id.as_str()),
                Value::Timestamp(stamp.at),
            ]
        })
        .collect();
    let mut steps = PROFILE.replace(&Scope { analysis: &def.name, load_id: Some(&load.load_id), window: None }, rows);
    let at_load = (load.loaded_at, load.loaded_at + Duration::seconds(1));
    steps.extend(ANOMALIES.replace(&Scope { analysis: &def.name, load_id: None, window: Some(at_load) }, drift_rows));
    warehouse.execute(steps).await?;
    summary.rows = profiles.len() as u64;
    summary.anomalies = drifts.len();
    summary.now = drifts.into_iter().map(|(said, _, _)| said).collect();
    Ok(Found { summary, new_recent: Vec::new() })
}

/// Each column's null share in the most recent profile of another load.
async fn previous_null_shares(
    warehouse: &dyn Warehouse,
    analysis: &str,
    load_id: &str,
) -> Result<Vec<(String, f64)>, AnalysisError> {
    let query = Query::with_params(
        format!(
            "SELECT column_name, row_count, null_count FROM {} WHERE analysis = $1 AND load_id <> $2 \
             AND run_at = (SELECT MAX(run_at) FROM {} WHERE analysis = $3 AND load_id <> $4)",
            PROFILE.name, PROFILE.name
        ),
        vec![analysis.to_owned(), load_id.to_owned(), analysis.to_owned(), load_id.to_owned()],
    );
    let result = warehouse.query(&query).await?;
    Ok(result
        .rows
        .iter()
        .filter_map(|row| {
            let rows = row.get(1)?.as_f64()?;
            let nulls = row.get(2)?.as_f64()?;
            Some((row.first()?.to_string(), if rows > 0.0 { nulls / rows } else { 0.0 }))
        })
        .collect())
}

fn profile_row(analysis: &str, table: &str, load_id: &str, p: &ColumnProfile, stamp: &RunStamp) -> Vec<Value> {
    let opt = |v: Option<f64>| v.map_or(Value::Null, number);
    let text = |v: &Option<String>| v.as_deref().map_or(Value::Null, Value::str);
    vec![
        Value::str(analysis),
        Value::str(table),
        Value::str(p.column.as_str()),
        Value::str(p.column_type.as_str()),
        Value::str(load_id),
        count(p.rows),
        count(p.nulls),
        count(p.distinct),
        text(&p.min),
        text(&p.max),
        opt(p.mean),
        opt(p.stddev),
        opt(p.p50),
        opt(p.p95),
        opt(p.p99),
        Value::str(stamp.id.as_str()),
        Value::Timestamp(stamp.at),
    ]
}

/// One column's statistics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnProfile {
    pub column: String,
    pub column_type: String,
    pub rows: u64,
    pub nulls: u64,
    pub distinct: u64,
    pub min: Option<String>,
    pub max: Option<String>,
    /// Numbers: the mean; booleans: the share that is true.
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl ColumnProfile {
    fn null_share(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.nulls as f64 / self.rows as f64
        }
    }
}

/// The columns a profile covers: those named, or all of the table's.
pub fn columns<'t>(table: &'t TableDef, named: &[String]) -> Vec<&'t ColumnDef> {
    if named.is_empty() {
        table.columns.iter().collect()
    } else {
        table.columns.iter().filter(|c| named.contains(&c.name)).collect()
    }
}

/// The statistics of one column, in the order [`read`] takes them. Names are the
/// parser's validated identifiers; no value from outside is in the text.
pub fn query(table: &TableDef, column: &ColumnDef) -> Query {
    let col = ident(&column.name);
    let text = "VARCHAR(65535)";
    let none = "CAST(NULL AS DOUBLE PRECISION)";
    let (min, max) = match column.ty {
        ColumnType::Boolean => (format!("CAST(NULL AS {text})"), format!("CAST(NULL AS {text})")),
        _ => (format!("CAST(MIN({col}) AS {text})"), format!("CAST(MAX({col}) AS {text})")),
    };
    let number = match column.ty {
        ty if ty.is_numeric() => Some(format!("CAST({col} AS DOUBLE PRECISION)")),
        ColumnType::Boolean => Some(format!("CASE WHEN {col} THEN 1.0 WHEN NOT {col} THEN 0.0 END")),
        _ => None,
    };
    let (mean, stddev) = match &number {
        Some(x) => (format!("AVG({x})"), format!("STDDEV_SAMP({x})")),
        None => (none.to_owned(), none.to_owned()),
    };
    let percentile = |p: &str| match (&number, column.ty) {
        (Some(x), ty) if ty.is_numeric() => format!("PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {x})"),
        _ => none.to_owned(),
    };
    Query::new(format!(
        "SELECT COUNT(*), COUNT({col}), COUNT(DISTINCT {col}), {min}, {max}, {mean}, {stddev}, {}, {}, {} FROM {}",
        percentile("0.5"),
        percentile("0.95"),
        percentile("0.99"),
        ident(&table.name)
    ))
}

/// A column's profile from [`query`]'s answer.
pub fn read(column: &ColumnDef, result: &QueryResult) -> ColumnProfile {
    let row = result.rows.first().cloned().unwrap_or_default();
    let cell = |i: usize| row.get(i).cloned().unwrap_or(Value::Null);
    let whole = |i: usize| cell(i).as_f64().map_or(0, |v| v.max(0.0) as u64);
    let float = |i: usize| cell(i).as_f64().filter(|v| v.is_finite());
    let text = |i: usize| match cell(i) {
        Value::Null => None,
        v => Some(v.to_string()),
    };
    let rows = whole(0);
    ColumnProfile {
        column: column.name.clone(),
        column_type: column.ty.name(),
        rows,
        nulls: rows.saturating_sub(whole(1)),
        distinct: whole(2),
        min: text(3),
        max: text(4),
        mean: float(5),
        stddev: float(6),
        p50: float(7),
        p95: float(8),
        p99: float(9),
    }
}

/// A rise in a column's null share between two loads large enough to say so: at least
/// this many points of the whole.
pub const NULL_DRIFT: f64 = 0.2;

/// The sentence for a column whose null share rose from `before` to `now`, or `None`
/// when it did not rise by [`NULL_DRIFT`].
fn null_drift(table: &str, column: &str, before: f64, now: f64, load_id: &str) -> Option<String> {
    (now - before >= NULL_DRIFT).then(|| {
        format!(
            "{table}.{column} is {:.0} % null in load {load_id}, up from {:.0} % in the load before",
            now * 100.0,
            before * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Pipeline;

    fn orders() -> TableDef {
        let text = "[[source]]\nname = \"s\"\nkind = \"csv\"\npath = \"x\"\n[[table]]\nname = \"orders\"\nsource = \"s\"\nload = \"append\"\n\
                    columns = [{ name = \"amount\", type = \"decimal(12,2)\" }, { name = \"country\", type = \"varchar\" }, \
                    { name = \"paid\", type = \"boolean\" }]\n";
        Pipeline::parse(text).unwrap().tables.remove(0)
    }

    #[test]
    fn numbers_get_percentiles_text_gets_counts_and_bounds_booleans_a_share() {
        let table = orders();
        let amount = query(&table, &table.columns[0]).sql;
        assert!(amount.contains("PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY CAST(\"amount\" AS DOUBLE PRECISION))"));
        assert!(amount.ends_with("FROM \"orders\""), "{amount}");
        let country = query(&table, &table.columns[1]).sql;
        assert!(!country.contains("PERCENTILE") && country.contains("COUNT(DISTINCT \"country\")"), "{country}");
        let paid = query(&table, &table.columns[2]).sql;
        assert!(paid.contains("AVG(CASE WHEN \"paid\" THEN 1.0") && !paid.contains("MIN(\"paid\")"), "{paid}");
    }

    #[test]
    fn a_column_going_null_is_a_drift_and_a_steady_one_is_not() {
        let said = null_drift("orders", "coupon", 0.02, 0.41, "orders:1..2").unwrap();
        assert_eq!(said, "orders.coupon is 41 % null in load orders:1..2, up from 2 % in the load before");
        assert_eq!(null_drift("orders", "coupon", 0.02, 0.10, "l"), None);
        assert_eq!(null_drift("orders", "coupon", 0.60, 0.05, "l"), None, "fewer nulls is no alarm");
    }
}
