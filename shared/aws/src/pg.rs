//! PostgreSQL as a [`SqlRunner`]: the Redshift adapter's statements on Redshift's
//! dialect ancestor, so that SQL is checked on every test run without an AWS account
//! (test support: no Lambda links it).
//!
//! Each `run` is one transaction on the one connection (a lock keeps callers from
//! interleaving); rows are inserted with bound parameters, and queries bind theirs, so
//! no value is ever SQL text. Results are read by each column's type.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tidemark_core::batch::sql::ident;
use tidemark_core::batch::Value;
use tidemark_core::ports::{Query, QueryResult, Rows, Step, WarehouseError};
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::warehouse::SqlRunner;

/// PostgreSQL takes at most 65,535 parameters per statement.
const MAX_PARAMS: usize = 65_535;
const MAX_ROWS_PER_INSERT: usize = 1_000;

pub struct PgRunner {
    client: Mutex<tokio_postgres::Client>,
}

fn sql_err(context: &str, e: tokio_postgres::Error) -> WarehouseError {
    let message = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
    WarehouseError::Sql { context: context.chars().take(160).collect(), message }
}

impl PgRunner {
    /// Connects to `url`; with `schema`, creates it if needed and works inside it.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, WarehouseError> {
        let client = Self::open(url).await?;
        if let Some(schema) = schema {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS {0}; SET search_path TO {0}", ident(schema));
            client.batch_execute(&sql).await.map_err(|e| sql_err(&sql, e))?;
        }
        Ok(PgRunner { client: Mutex::new(client) })
    }

    /// Connects to `url` and works inside `schema`, creating nothing: a reader's
    /// connection, whose user may not create schemas.
    pub async fn attach(url: &str, schema: &str) -> Result<Self, WarehouseError> {
        let client = Self::open(url).await?;
        let sql = format!("SET search_path TO {}", ident(schema));
        client.batch_execute(&sql).await.map_err(|e| sql_err(&sql, e))?;
        Ok(PgRunner { client: Mutex::new(client) })
    }

    async fn open(url: &str) -> Result<tokio_postgres::Client, WarehouseError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| WarehouseError::Unavailable(format!("PostgreSQL warehouse: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "warehouse connection closed");
            }
        });
        Ok(client)
    }
}

/// A value as the text PostgreSQL parses into the column's type (`NULL` as none).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(format!("{f:?}")),
        Value::Float(_) => None,
        Value::Str(s) => Some(s.to_string()),
        Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
        Value::Timestamp(t) => Some(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
    }
}

/// Inserts `rows` with every value a bound text parameter cast to its column's type.
async fn insert(client: &tokio_postgres::Client, rows: &Rows) -> Result<(), WarehouseError> {
    let names: Vec<String> = rows.columns.iter().map(|(name, _)| ident(name)).collect();
    let width = rows.columns.len().max(1);
    let per_statement = (MAX_PARAMS / width).clamp(1, MAX_ROWS_PER_INSERT);
    for chunk in rows.rows.chunks(per_statement) {
        let mut tuples = Vec::with_capacity(chunk.len());
        let mut params: Vec<Option<String>> = Vec::with_capacity(chunk.len() * width);
        for row in chunk {
            let cells: Vec<String> = rows
                .columns
                .iter()
                .zip(row)
                .map(|((_, ty), value)| {
                    params.push(text_of(value));
                    format!("CAST(${}::text AS {})", params.len(), ty.sql())
                })
                .collect();
            tuples.push(format!("({})", cells.join(", ")));
        }
        let sql = format!("INSERT INTO {} ({}) VALUES {}", ident(&rows.table), names.join(", "), tuples.join(", "));
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        client.execute(sql.as_str(), &refs).await.map_err(|e| sql_err(&sql, e))?;
    }
    Ok(())
}

/// A result cell by its column's PostgreSQL type.
fn cell(row: &Row, i: usize, kind: &str) -> Result<Value, tokio_postgres::Error> {
    let value = match kind {
        "int2" => row.try_get::<_, Option<i16>>(i)?.map(|n| Value::Int(n.into())),
        "int4" => row.try_get::<_, Option<i32>>(i)?.map(|n| Value::Int(n.into())),
        "int8" => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        "float4" => row.try_get::<_, Option<f32>>(i)?.map(|f| Value::Float(f.into())),
        "float8" => row.try_get::<_, Option<f64>>(i)?.map(Value::Float),
        "numeric" => row.try_get::<_, Option<Decimal>>(i)?.map(|d| d.to_f64().map_or(Value::Null, Value::Float)),
        "bool" => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
        "timestamp" => row.try_get::<_, Option<NaiveDateTime>>(i)?.map(|t| Value::Timestamp(t.and_utc())),
        "timestamptz" => row.try_get::<_, Option<DateTime<Utc>>>(i)?.map(Value::Timestamp),
        "date" => row.try_get::<_, Option<NaiveDate>>(i)?.map(Value::Date),
        _ => row.try_get::<_, Option<String>>(i)?.map(Value::str),
    };
    Ok(value.unwrap_or(Value::Null))
}

#[async_trait]
impl SqlRunner for PgRunner {
    async fn run(&self, steps: &[Step]) -> Result<(), WarehouseError> {
        let client = self.client.lock().await;
        client.batch_execute("BEGIN").await.map_err(|e| sql_err("BEGIN", e))?;
        for step in steps {
            let outcome = match step {
                Step::Sql(sql) => client.batch_execute(sql).await.map_err(|e| sql_err(sql, e)),
                Step::Rows(rows) => insert(&client, rows).await,
            };
            if let Err(error) = outcome {
                client.batch_execute("ROLLBACK").await.map_err(|r| sql_err("ROLLBACK", r))?;
                return Err(error);
            }
        }
        client.batch_execute("COMMIT").await.map_err(|e| sql_err("COMMIT", e))
    }

    async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError> {
        let client = self.client.lock().await;
        let sql = query.sql.as_str();
        let prepared = client.prepare(sql).await.map_err(|e| sql_err(sql, e))?;
        let types: Vec<String> = prepared.columns().iter().map(|c| c.type_().name().to_string()).collect();
        let params: Vec<&(dyn ToSql + Sync)> = query.params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&prepared, &params).await.map_err(|e| sql_err(sql, e))?;
        let mut result = QueryResult {
            columns: prepared.columns().iter().map(|c| c.name().to_string()).collect(),
            rows: Vec::with_capacity(rows.len()),
        };
        for row in &rows {
            let cells = types.iter().enumerate().map(|(i, kind)| cell(row, i, kind)).collect::<Result<_, _>>();
            result.rows.push(cells.map_err(|e| sql_err(sql, e))?);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn values_are_sent_as_the_text_postgres_parses() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        assert_eq!(text_of(&Value::Timestamp(at)).as_deref(), Some("2026-11-30 10:00:00.000000"));
        assert_eq!(text_of(&Value::Float(12.5)).as_deref(), Some("12.5"));
        assert_eq!(text_of(&Value::Float(f64::NAN)), None);
        assert_eq!(text_of(&Value::str("it's \\")).as_deref(), Some("it's \\"));
        assert_eq!(text_of(&Value::Null), None);
    }
}
