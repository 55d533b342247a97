//! The warehouse port: DuckDB locally, Redshift (Data API) in AWS. Both run the SQL of
//! `batch::sql`; only staging differs (DuckDB's appender, Redshift's COPY from S3).
//!
//! Data never becomes SQL text. A value from outside reaches the warehouse either as a
//! bound parameter of a [`Query`] or as [`Rows`] written the way a load stages its rows.
//! SQL text holds only names the pipeline parser validated, ids Tidemark generates,
//! and numbers and times it formats itself (see `batch::sql::name_literal`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::batch::pipeline::TableDef;
use crate::batch::value::{ColumnType, Value};

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("warehouse: {context}: {message}")]
    Sql { context: String, message: String },
    #[error("warehouse: {0}")]
    Unavailable(String),
}

/// What one load commits, in one transaction with its rows.
#[derive(Debug, Clone)]
pub struct LoadCommit {
    pub load_id: String,
    /// The extract runs this load consumed, as (source, run_id).
    pub extract_runs: Vec<(String, String)>,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// New high-water mark of event time, per source of the table.
    pub high_water: Option<DateTime<Utc>>,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed {
        rows: u64,
    },
    /// This load id was committed before: nothing changed.
    AlreadyLoaded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub source: String,
    pub table: String,
    pub high_water: Option<DateTime<Utc>>,
    pub load_id: String,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub loaded_at: DateTime<Utc>,
}

impl Watermark {
    /// A row of `batch::sql::watermarks()`, as any warehouse answers it.
    pub fn from_row(r: &[Value]) -> Watermark {
        let cell = |i: usize| r.get(i).cloned().unwrap_or(Value::Null);
        Watermark {
            source: cell(0).to_string(),
            table: cell(1).to_string(),
            high_water: match cell(2) {
                Value::Timestamp(t) => Some(t),
                _ => None,
            },
            load_id: cell(3).to_string(),
            rows_loaded: cell(4).as_f64().unwrap_or(0.0) as u64,
            rows_quarantined: cell(5).as_f64().unwrap_or(0.0) as u64,
            loaded_at: match cell(6) {
                Value::Timestamp(t) => t,
                _ => DateTime::UNIX_EPOCH,
            },
        }
    }
}

/// A read with text parameters the engine binds: `$1`, `$2`, … in `sql`, in order.
/// Every warehouse accepts the placeholders where a value of text is compared or
/// returned; where the type is not clear from the context, the SQL casts them.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<String>,
}

impl Query {
    /// A query without parameters.
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), params: Vec::new() }
    }

    pub fn with_params(sql: impl Into<String>, params: Vec<String>) -> Self {
        Self { sql: sql.into(), params }
    }
}

/// Rows put into a table inside a transaction, by the path a load's rows take (DuckDB's
/// appender, `COPY` from S3 on Redshift, bound parameters on PostgreSQL). `columns`
/// names every column of the table, in the table's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub table: String,
    pub columns: Vec<(String, ColumnType)>,
    pub rows: Vec<Vec<Value>>,
}

/// One step of a transaction: SQL that carries no data, or rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Sql(String),
    Rows(Rows),
}

impl From<String> for Step {
    fn from(sql: String) -> Self {
        Step::Sql(sql)
    }
}

/// Statements as steps.
pub fn steps(statements: impl IntoIterator<Item = String>) -> Vec<Step> {
    statements.into_iter().map(Step::Sql).collect()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl QueryResult {
    /// The first cell of the first row as a whole number: what a `SELECT COUNT(*)`
    /// answers (`None` for no row or another type).
    pub fn single_int(&self) -> Option<i64> {
        match self.rows.first().and_then(|r| r.first()) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }
}

#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Creates the bookkeeping tables and every declared table that does not exist.
    async fn ensure_tables(&self, tables: &[TableDef]) -> Result<(), WarehouseError>;

    /// Extract runs (source, run_id) already loaded into `table`.
    async fn loaded_runs(&self, table: &str) -> Result<Vec<(String, String)>, WarehouseError>;

    /// Starts a fresh staging table for `table`, dropping any left by a crashed run.
    async fn begin_stage(&self, table: &TableDef) -> Result<(), WarehouseError>;

    /// Appends rows (in the table's column order) to the staging table.
    async fn stage(&self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), WarehouseError>;

    /// Moves the staged rows into the table by its load mode, records the load and
    /// advances the watermark: all in one transaction, or nothing.
    async fn commit(&self, table: &TableDef, commit: &LoadCommit) -> Result<CommitOutcome, WarehouseError>;

    /// Drops the staging table of a load that will not commit.
    async fn abort(&self, table: &TableDef) -> Result<(), WarehouseError>;

    async fn watermarks(&self) -> Result<Vec<Watermark>, WarehouseError>;

    /// Runs the steps in one transaction: all of them or none (reconciliation results,
    /// report views).
    async fn execute(&self, steps: Vec<Step>) -> Result<(), WarehouseError>;

    /// A read-only query, for reports and tests.
    async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError>;
}
