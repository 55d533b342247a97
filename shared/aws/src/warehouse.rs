//! The warehouse port over SQL submitted statement by statement: Redshift through the
//! Data API in AWS, and any runner of the same SQL (the tests run it on PostgreSQL,
//! Redshift's dialect ancestor). Every statement comes from `tidemark_core::batch::sql`,
//! as for DuckDB; only staging differs:
//! - [`S3Staging`]: each chunk becomes a JSON-lines object under
//!   `staged/<table>/`, and the commit fills the stage table with
//!   `COPY .. FROM 's3://..' IAM_ROLE .. FORMAT AS JSON 'auto'` (Redshift's bulk path);
//! - [`InlineStaging`]: rows kept until the commit and inserted there with bound
//!   parameters (small loads, and databases without COPY from S3).
//!
//! The commit is one transaction (`BatchExecuteStatement`): create the stage table, fill
//! it, apply it by load mode, record the load, move the watermark, drop the stage.
//! Rows of other transactions (reconciliation results, rollups) take the same path, so
//! no event value is ever written into SQL text.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};
use tidemark_core::batch::pipeline::TableDef;
use tidemark_core::batch::{sql, ColumnType, Value};
use tidemark_core::ports::{
    steps, CommitOutcome, LoadCommit, ObjectStore, Query, QueryResult, Rows, Step, Warehouse, WarehouseError, Watermark,
};

use crate::read_access::ReadAccess;
use crate::redshift::DataApi;
use crate::s3::S3ObjectStore;

/// Runs steps in one transaction, or one query with its parameters bound.
#[async_trait]
pub trait SqlRunner: Send + Sync {
    /// `Step::Rows` reaches a runner only from [`InlineStaging`], which pairs with a
    /// runner that binds them (PostgreSQL); S3 staging turns rows into `COPY` first.
    async fn run(&self, steps: &[Step]) -> Result<(), WarehouseError>;
    async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError>;
}

#[async_trait]
impl SqlRunner for DataApi {
    async fn run(&self, steps: &[Step]) -> Result<(), WarehouseError> {
        let statements = steps
            .iter()
            .map(|step| match step {
                Step::Sql(sql) => Ok(sql.clone()),
                // `BatchExecuteStatement` takes no parameters: rows must come staged.
                Step::Rows(rows) => Err(WarehouseError::Sql {
                    context: rows.table.clone(),
                    message: "the Data API takes rows only through S3 staging".into(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        DataApi::run(self, &statements).await
    }

    async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError> {
        DataApi::query(self, query).await
    }
}

/// Where staged rows wait for the commit. Each load stages under its own `stage` id, so
/// two loads of one table never touch each other's parts.
#[async_trait]
pub trait Staging: Send + Sync {
    /// Keeps one chunk: rows in the table's column order, then their `tidemark_seq`.
    async fn put(&self, table: &TableDef, stage: &str, part: u64, rows: Vec<Vec<Value>>) -> Result<(), WarehouseError>;
    /// Steps that fill the (existing, empty) stage table, run inside the commit.
    async fn load_steps(&self, table: &TableDef, stage: &str) -> Result<Vec<Step>, WarehouseError>;
    /// Forgets everything staged for `table` under `stage`.
    async fn clear(&self, table: &TableDef, stage: &str) -> Result<(), WarehouseError>;
    /// A transaction's rows as the runner takes them; `tag` names them uniquely.
    async fn rows(&self, rows: Rows, tag: &str) -> Result<Step, WarehouseError>;
    /// Forgets what [`Staging::rows`] kept for `tag`, once its transaction ended.
    async fn forget_rows(&self, table: &str, tag: &str) -> Result<(), WarehouseError>;
}

fn staging_err(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Unavailable(format!("staging: {e}"))
}

/// JSON-lines parts in S3, loaded with `COPY`.
pub struct S3Staging {
    store: S3ObjectStore,
    /// `s3://bucket/prefix/` of the store's keys.
    url: String,
    copy_role_arn: String,
}

impl S3Staging {
    pub fn new(store: S3ObjectStore, url: impl Into<String>, copy_role_arn: impl Into<String>) -> Self {
        Self { store, url: url.into(), copy_role_arn: copy_role_arn.into() }
    }

    fn dir(table: &TableDef, stage: &str) -> String {
        format!("staged/{}/{stage}/", table.name)
    }

    fn rows_key(table: &str, tag: &str) -> String {
        format!("staged/tx/{table}/{tag}.jsonl")
    }

    fn copy(&self, table: &str, columns: &str, key: &str) -> String {
        format!(
            "COPY {table}{columns} FROM '{}{key}' IAM_ROLE '{}' FORMAT AS JSON 'auto' TIMEFORMAT 'auto' DATEFORMAT 'auto'",
            self.url,
            self.copy_role_arn.replace('\'', "")
        )
    }
}

/// One staged row as a JSON object keyed by column name, the shape `FORMAT AS JSON
/// 'auto'` maps onto the stage table.
fn json_row(table: &TableDef, row: &[Value]) -> Json {
    let names = table.columns.iter().map(|c| c.name.as_str()).chain(std::iter::once(sql::SEQ));
    json_object(names, row)
}

fn json_object<'a>(names: impl Iterator<Item = &'a str>, row: &[Value]) -> Json {
    let mut object = Map::new();
    for (name, v) in names.zip(row) {
        let cell = match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.to_string()),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::Timestamp(t) => Json::String(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        };
        object.insert(name.to_string(), cell);
    }
    Json::Object(object)
}

#[async_trait]
impl Staging for S3Staging {
    async fn put(&self, table: &TableDef, stage: &str, part: u64, rows: Vec<Vec<Value>>) -> Result<(), WarehouseError> {
        let mut body = Vec::with_capacity(rows.len() * 128);
        for row in &rows {
            body.extend_from_slice(json_row(table, row).to_string().as_bytes());
            body.push(b'\n');
        }
        let key = format!("{}part-{part:06}.jsonl", Self::dir(table, stage));
        self.store.put(&key, body).await.map_err(staging_err)
    }

    async fn load_steps(&self, table: &TableDef, stage: &str) -> Result<Vec<Step>, WarehouseError> {
        Ok(vec![Step::Sql(self.copy(&sql::stage_name(&table.name), "", &Self::dir(table, stage)))])
    }

    async fn clear(&self, table: &TableDef, stage: &str) -> Result<(), WarehouseError> {
        for key in self.store.list(&Self::dir(table, stage)).await.map_err(staging_err)? {
            self.store.delete(&key).await.map_err(staging_err)?;
        }
        Ok(())
    }

    async fn rows(&self, rows: Rows, tag: &str) -> Result<Step, WarehouseError> {
        let mut body = Vec::with_capacity(rows.rows.len() * 128);
        for row in &rows.rows {
            body.extend_from_slice(
                json_object(rows.columns.iter().map(|(n, _)| n.as_str()), row).to_string().as_bytes(),
            );
            body.push(b'\n');
        }
        let key = Self::rows_key(&rows.table, tag);
        self.store.put(&key, body).await.map_err(staging_err)?;
        let columns: Vec<String> = rows.columns.iter().map(|(name, _)| sql::ident(name)).collect();
        Ok(Step::Sql(self.copy(&rows.table, &format!(" ({})", columns.join(", ")), &key)))
    }

    async fn forget_rows(&self, table: &str, tag: &str) -> Result<(), WarehouseError> {
        self.store.delete(&Self::rows_key(table, tag)).await.map_err(staging_err)
    }
}

/// Staged rows kept in memory until the commit, where the runner inserts them with
/// bound parameters (test support, with [`crate::PgRunner`]).
#[cfg(any(test, feature = "test-support"))]
#[derive(Default)]
pub struct InlineStaging {
    rows: Mutex<HashMap<String, Vec<Vec<Value>>>>,
}

#[cfg(any(test, feature = "test-support"))]
#[async_trait]
impl Staging for InlineStaging {
    async fn put(
        &self,
        table: &TableDef,
        stage: &str,
        _part: u64,
        rows: Vec<Vec<Value>>,
    ) -> Result<(), WarehouseError> {
        let mut map = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(format!("{}/{stage}", table.name)).or_default().extend(rows);
        Ok(())
    }

    async fn load_steps(&self, table: &TableDef, stage: &str) -> Result<Vec<Step>, WarehouseError> {
        let map = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}/{stage}", table.name);
        let Some(rows) = map.get(&key).filter(|rows| !rows.is_empty()) else { return Ok(Vec::new()) };
        let mut columns: Vec<(String, ColumnType)> = table.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
        columns.push((sql::SEQ.to_owned(), ColumnType::BigInt));
        Ok(vec![Step::Rows(Rows { table: sql::stage_name(&table.name), columns, rows: rows.clone() })])
    }

    async fn clear(&self, table: &TableDef, stage: &str) -> Result<(), WarehouseError> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).remove(&format!("{}/{stage}", table.name));
        Ok(())
    }

    async fn rows(&self, rows: Rows, _tag: &str) -> Result<Step, WarehouseError> {
        Ok(Step::Rows(rows))
    }

    async fn forget_rows(&self, _table: &str, _tag: &str) -> Result<(), WarehouseError> {
        Ok(())
    }
}

/// Per table: the load's stage id, the next part number, the next `tidemark_seq`, rows
/// staged.
#[derive(Default, Clone)]
struct StageState {
    id: String,
    part: u64,
    seq: i64,
    rows: u64,
}

/// Which SQL the runner speaks where the two differ: Redshift takes a table's sort key as
/// a table attribute (`COMPOUND SORTKEY`), PostgreSQL has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Redshift,
    Postgres,
}

pub struct SqlWarehouse<R, S> {
    runner: R,
    staging: S,
    dialect: Dialect,
    /// The read-only role the schema setup grants; `None`: no grants (one user does all).
    read_access: Option<ReadAccess>,
    stages: Mutex<HashMap<String, StageState>>,
}

/// Redshift through the Data API, staging through S3 and COPY.
pub type RedshiftWarehouse = SqlWarehouse<DataApi, S3Staging>;

impl<R: SqlRunner, S: Staging> SqlWarehouse<R, S> {
    pub fn new(runner: R, staging: S, dialect: Dialect) -> Self {
        Self { runner, staging, dialect, read_access: None, stages: Mutex::default() }
    }

    /// The schema setup (`ensure_tables`, run by the jobs) also grants `access`.
    pub fn with_read_access(self, access: ReadAccess) -> Self {
        Self { read_access: Some(access), ..self }
    }

    /// Creates the read-only role if it is missing, then grants it what it reads.
    async fn grant_read_access(&self, access: &ReadAccess) -> Result<(), WarehouseError> {
        let found = self.runner.query(&access.role_exists(self.dialect)).await?;
        if found.single_int().is_none_or(|n| n <= 0) {
            self.runner.run(&steps([access.create_role()])).await?;
        }
        self.runner.run(&steps(access.grants(self.dialect))).await
    }

    /// A fresh warehouse, before the jobs' first schema setup: no bookkeeping table yet.
    async fn has_no_watermarks_table(&self) -> Result<bool, WarehouseError> {
        let query = Query::with_params(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
            vec![sql::WATERMARKS.to_owned()],
        );
        let found = self.runner.query(&query).await?;
        Ok(found.single_int() == Some(0))
    }

    fn state(&self, table: &str) -> StageState {
        self.stages.lock().unwrap_or_else(|p| p.into_inner()).get(table).cloned().unwrap_or_default()
    }

    fn set_state(&self, table: &str, state: Option<StageState>) {
        let mut map = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        match state {
            Some(s) => map.insert(table.to_string(), s),
            None => map.remove(table),
        };
    }
}

#[async_trait]
impl<R: SqlRunner, S: Staging> Warehouse for SqlWarehouse<R, S> {
    async fn ensure_tables(&self, tables: &[TableDef]) -> Result<(), WarehouseError> {
        let mut ddl: Vec<String> = sql::meta_ddl().into_iter().collect();
        for t in tables {
            let suffix = match self.dialect {
                Dialect::Redshift => sql::redshift_sort_key(t),
                Dialect::Postgres => String::new(),
            };
            ddl.push(format!("{}{suffix}", sql::create_table(t)));
        }
        self.runner.run(&steps(ddl)).await?;
        match &self.read_access {
            Some(access) => self.grant_read_access(access).await,
            None => Ok(()),
        }
    }

    async fn loaded_runs(&self, table: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let res = self.runner.query(&sql::loaded_runs(table)).await?;
        Ok(res.rows.into_iter().map(|r| (r[0].to_string(), r[1].to_string())).collect())
    }

    async fn begin_stage(&self, table: &TableDef) -> Result<(), WarehouseError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.set_state(&table.name, Some(StageState { id, ..StageState::default() }));
        Ok(())
    }

    async fn stage(&self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), WarehouseError> {
        let mut state = self.state(&table.name);
        let count = rows.len() as u64;
        let rows: Vec<Vec<Value>> = rows
            .into_iter()
            .enumerate()
            .map(|(i, mut row)| {
                row.push(Value::Int(state.seq + i as i64));
                row
            })
            .collect();
        self.staging.put(table, &state.id, state.part, rows).await?;
        state.part += 1;
        state.seq += count as i64;
        state.rows += count;
        self.set_state(&table.name, Some(state));
        Ok(())
    }

    async fn commit(&self, table: &TableDef, commit: &LoadCommit) -> Result<CommitOutcome, WarehouseError> {
        let done = self.runner.query(&sql::already_loaded(&commit.load_id)).await?;
        if done.single_int().is_some_and(|n| n > 0) {
            self.abort(table).await?;
            return Ok(CommitOutcome::AlreadyLoaded);
        }
        let mut work = steps(sql::create_stage(table));
        let stage = self.state(&table.name).id;
        work.extend(self.staging.load_steps(table, &stage).await?);
        work.extend(steps(sql::apply_stage(table, &commit.load_id)));
        work.extend(steps(sql::bookkeeping(table, commit)));
        work.push(Step::Sql(sql::drop_stage(table)));
        self.runner.run(&work).await?;
        let rows = self.state(&table.name).rows;
        self.staging.clear(table, &stage).await?;
        self.set_state(&table.name, None);
        Ok(CommitOutcome::Committed { rows })
    }

    async fn abort(&self, table: &TableDef) -> Result<(), WarehouseError> {
        self.staging.clear(table, &self.state(&table.name).id).await?;
        self.set_state(&table.name, None);
        self.runner.run(&[Step::Sql(sql::drop_stage(table))]).await
    }

    /// None before the first load: a reader runs no DDL, so on a fresh warehouse the
    /// table is not there yet, and that is no watermark rather than an error.
    async fn watermarks(&self) -> Result<Vec<Watermark>, WarehouseError> {
        match self.runner.query(&sql::watermarks()).await {
            Ok(res) => Ok(res.rows.iter().map(|r| Watermark::from_row(r)).collect()),
            Err(e) if self.has_no_watermarks_table().await.unwrap_or(false) => {
                tracing::debug!(error = %e, "no watermarks table yet");
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    async fn execute(&self, work: Vec<Step>) -> Result<(), WarehouseError> {
        let tag = uuid::Uuid::now_v7().to_string();
        let mut staged = Vec::new();
        let mut ready = Vec::with_capacity(work.len());
        for step in work {
            match step {
                Step::Rows(rows) => {
                    staged.push(rows.table.clone());
                    ready.push(self.staging.rows(rows, &tag).await?);
                }
                sql => ready.push(sql),
            }
        }
        let outcome = self.runner.run(&ready).await;
        for table in &staged {
            self.staging.forget_rows(table, &tag).await?;
        }
        outcome
    }

    async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError> {
        self.runner.query(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use tidemark_core::batch::pipeline::Pipeline;

    const PIPE: &str = r#"
[[source]]
name = "s"
kind = "csv"
path = "s.csv"

[[table]]
name = "facts"
source = "s"
key = ["id"]
columns = [
  { name = "id", type = "bigint" },
  { name = "at", type = "timestamp" },
  { name = "amount", type = "decimal(12,2)" },
  { name = "note", type = "varchar" },
]
"#;

    #[test]
    fn staged_rows_are_json_objects_by_column_name() {
        let p = Pipeline::parse(PIPE).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 13, 5, 0).unwrap();
        let row = vec![Value::Int(7), Value::Timestamp(at), Value::Float(59.9), Value::Null, Value::Int(3)];
        let json = json_row(&p.tables[0], &row);
        let expected = serde_json::json!({
            "id": 7, "at": "2026-11-24 13:05:00.000000", "amount": 59.9, "note": null, "tidemark_seq": 3
        });
        assert_eq!(json, expected);
    }

    #[tokio::test]
    async fn inline_staging_keeps_rows_for_the_stage_table() {
        let p = Pipeline::parse(PIPE).unwrap();
        let staging = InlineStaging::default();
        let rows: Vec<Vec<Value>> = (0..501)
            .map(|n| vec![Value::Int(n), Value::Null, Value::Float(1.5), Value::str("it's \\"), Value::Int(n)])
            .collect();
        staging.put(&p.tables[0], "load-1", 0, rows.clone()).await.unwrap();
        assert!(staging.load_steps(&p.tables[0], "load-2").await.unwrap().is_empty(), "another load's stage");
        let steps = staging.load_steps(&p.tables[0], "load-1").await.unwrap();
        let [Step::Rows(staged)] = steps.as_slice() else { panic!("one step of rows: {steps:?}") };
        assert_eq!((staged.table.as_str(), staged.columns.len()), ("tidemark_stage_facts", 5));
        assert_eq!(staged.rows, rows, "values stay values, never SQL");
        staging.clear(&p.tables[0], "load-1").await.unwrap();
        assert!(staging.load_steps(&p.tables[0], "load-1").await.unwrap().is_empty());
    }
}
