//! The warehouse port on an embedded DuckDB file.
//!
//! DDL, merge and watermark statements come from `tidemark_core::batch::sql` (shared
//! with Redshift); staging uses DuckDB's appender, the local counterpart of Redshift's
//! `COPY` from S3. DuckDB allows one writer per file: the connection lives behind a
//! mutex and every call runs on the blocking pool.

mod convert;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use duckdb::Connection;
use tidemark_core::batch::pipeline::TableDef;
use tidemark_core::batch::{sql, ColumnType, Value};
use tidemark_core::ports::{
    CommitOutcome, LoadCommit, Query, QueryResult, Rows, Step, Warehouse, WarehouseError, Watermark,
};

pub use convert::{from_duck, to_duck};

#[derive(Clone)]
pub struct DuckWarehouse {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    conn: Connection,
    /// Next `tidemark_seq` of the open stage.
    seq: i64,
}

fn err(context: &str, e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Sql { context: context.to_string(), message: e.to_string() }
}

impl DuckWarehouse {
    pub fn open(path: &Path) -> Result<Self, WarehouseError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(&path.display().to_string(), e))?;
        }
        let conn = Connection::open(path).map_err(|e| err(&format!("open {}", path.display()), e))?;
        Self::with(conn)
    }

    pub fn in_memory() -> Result<Self, WarehouseError> {
        Self::with(Connection::open_in_memory().map_err(|e| err("open in memory", e))?)
    }

    /// The bookkeeping tables exist from the start: reports read the watermarks before
    /// anything was ever loaded.
    fn with(conn: Connection) -> Result<Self, WarehouseError> {
        for stmt in sql::meta_ddl() {
            exec(&conn, &stmt)?;
        }
        Ok(DuckWarehouse { inner: Arc::new(Mutex::new(Inner { conn, seq: 0 })) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, WarehouseError> + Send + 'static,
    ) -> Result<T, WarehouseError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard: MutexGuard<'_, Inner> = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| WarehouseError::Unavailable(format!("warehouse task failed: {e}")))?
    }
}

/// Statements of a load that take over a second are logged with their time: the merge
/// of a large stage is where a load spends it.
fn log_slow(stmt: &str, started: std::time::Instant) {
    let elapsed = started.elapsed();
    if elapsed.as_secs() >= 1 {
        let head: String = stmt.chars().take(120).collect();
        tracing::info!(statement = %head, elapsed_ms = elapsed.as_millis() as u64, "slow warehouse statement");
    }
}

/// Rows through the appender, as a load stages them: no value becomes SQL text.
fn append(conn: &Connection, rows: &Rows) -> Result<(), WarehouseError> {
    let mut app = conn.appender(&rows.table).map_err(|e| err(&rows.table, e))?;
    for row in &rows.rows {
        let cells = row.iter().zip(&rows.columns).map(|(v, (_, ty))| to_duck(v, ty));
        app.append_row(duckdb::appender_params_from_iter(cells)).map_err(|e| err(&rows.table, e))?;
    }
    app.flush().map_err(|e| err(&rows.table, e))
}

fn exec(conn: &Connection, stmt: &str) -> Result<(), WarehouseError> {
    conn.execute_batch(stmt).map_err(|e| err(stmt, e))
}

fn query(conn: &Connection, q: &Query) -> Result<QueryResult, WarehouseError> {
    let stmt = q.sql.as_str();
    let mut s = conn.prepare(stmt).map_err(|e| err(stmt, e))?;
    let mut rows = s.query(duckdb::params_from_iter(q.params.iter())).map_err(|e| err(stmt, e))?;
    let mut out = QueryResult::default();
    while let Some(row) = rows.next().map_err(|e| err(stmt, e))? {
        let stmt_ref = row.as_ref();
        if out.columns.is_empty() {
            out.columns = stmt_ref.column_names();
        }
        let mut cells = Vec::with_capacity(out.columns.len());
        for i in 0..stmt_ref.column_count() {
            let v: duckdb::types::Value = row.get(i).map_err(|e| err(stmt, e))?;
            cells.push(from_duck(v));
        }
        out.rows.push(cells);
    }
    if out.columns.is_empty() {
        out.columns = s.column_names();
    }
    Ok(out)
}

#[async_trait]
impl Warehouse for DuckWarehouse {
    async fn ensure_tables(&self, tables: &[TableDef]) -> Result<(), WarehouseError> {
        let ddl: Vec<String> = sql::meta_ddl().into_iter().chain(tables.iter().map(sql::create_table)).collect();
        self.blocking(move |i| ddl.iter().try_for_each(|s| exec(&i.conn, s))).await
    }

    async fn loaded_runs(&self, table: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let stmt = sql::loaded_runs(table);
        let res = self.blocking(move |i| query(&i.conn, &stmt)).await?;
        Ok(res.rows.into_iter().map(|r| (r[0].to_string(), r[1].to_string())).collect())
    }

    async fn begin_stage(&self, table: &TableDef) -> Result<(), WarehouseError> {
        let stmts = sql::create_stage(table);
        self.blocking(move |i| {
            i.seq = 0;
            stmts.iter().try_for_each(|s| exec(&i.conn, s))
        })
        .await
    }

    async fn stage(&self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), WarehouseError> {
        let stage = sql::stage_name(&table.name);
        let types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
        self.blocking(move |i| {
            let mut seq = i.seq;
            {
                let mut app = i.conn.appender(&stage).map_err(|e| err(&stage, e))?;
                for row in rows {
                    let mut cells: Vec<duckdb::types::Value> =
                        row.iter().zip(&types).map(|(v, t)| to_duck(v, t)).collect();
                    cells.push(duckdb::types::Value::BigInt(seq));
                    seq += 1;
                    app.append_row(duckdb::appender_params_from_iter(cells)).map_err(|e| err(&stage, e))?;
                }
                app.flush().map_err(|e| err(&stage, e))?;
            }
            i.seq = seq;
            Ok(())
        })
        .await
    }

    async fn commit(&self, table: &TableDef, commit: &LoadCommit) -> Result<CommitOutcome, WarehouseError> {
        let check = sql::already_loaded(&commit.load_id);
        let apply = sql::apply_stage(table, &commit.load_id);
        let book = sql::bookkeeping(table, commit);
        let drop_stage = sql::drop_stage(table);
        let staged_count = format!("SELECT COUNT(*) FROM {}", sql::stage_name(&table.name));
        self.blocking(move |i| {
            let staged = query(&i.conn, &Query::new(staged_count))?.single_int().map_or(0, |n| n as u64);
            let tx = i.conn.transaction().map_err(|e| err("begin", e))?;
            // The already-loaded check inside the committing transaction.
            let done = query(&tx, &check)?;
            if done.single_int().is_some_and(|n| n > 0) {
                tx.rollback().map_err(|e| err("rollback", e))?;
                exec(&i.conn, &drop_stage)?;
                return Ok(CommitOutcome::AlreadyLoaded);
            }
            for s in apply.iter().chain(book.iter()) {
                let started = std::time::Instant::now();
                tx.execute_batch(s).map_err(|e| err(s, e))?;
                log_slow(s, started);
            }
            let started = std::time::Instant::now();
            tx.commit().map_err(|e| err("commit", e))?;
            log_slow("COMMIT", started);
            exec(&i.conn, &drop_stage)?;
            Ok(CommitOutcome::Committed { rows: staged })
        })
        .await
    }

    async fn abort(&self, table: &TableDef) -> Result<(), WarehouseError> {
        let drop = sql::drop_stage(table);
        self.blocking(move |i| exec(&i.conn, &drop)).await
    }

    async fn watermarks(&self) -> Result<Vec<Watermark>, WarehouseError> {
        let stmt = sql::watermarks();
        let res = self.blocking(move |i| query(&i.conn, &stmt)).await?;
        Ok(res.rows.iter().map(|r| Watermark::from_row(r)).collect())
    }

    async fn execute(&self, steps: Vec<Step>) -> Result<(), WarehouseError> {
        self.blocking(move |i| {
            let tx = i.conn.transaction().map_err(|e| err("begin", e))?;
            for step in &steps {
                match step {
                    Step::Sql(s) => tx.execute_batch(s).map_err(|e| err(s, e))?,
                    Step::Rows(rows) => append(&tx, rows)?,
                }
            }
            tx.commit().map_err(|e| err("commit", e))
        })
        .await
    }

    async fn query(&self, q: &Query) -> Result<QueryResult, WarehouseError> {
        let q = q.clone();
        self.blocking(move |i| query(&i.conn, &q)).await
    }
}
