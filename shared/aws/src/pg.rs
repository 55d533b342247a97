//! PostgreSQL as a [`SqlRunner`]: the Redshift adapter's statements on Redshift's
//! dialect ancestor. It checks that SQL on every test run without an AWS account, and
//! serves a small deployment that keeps its warehouse in PostgreSQL (RDS, Aurora).
//!
//! Each `run` is one transaction on one connection; values come back through the simple
//! query protocol as text and are typed by the prepared statement's column types.

use async_trait::async_trait;
use chrono::Utc;
use tidemark_core::batch::value::{parse_date, parse_timestamp};
use tidemark_core::batch::Value;
use tidemark_core::ports::{QueryResult, WarehouseError};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::warehouse::SqlRunner;

pub struct PgRunner {
    client: tokio_postgres::Client,
}

fn sql_err(context: &str, e: tokio_postgres::Error) -> WarehouseError {
    let message = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
    WarehouseError::Sql { context: context.chars().take(160).collect(), message }
}

impl PgRunner {
    /// Connects to `url`; with `schema`, creates it if needed and works inside it.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, WarehouseError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| WarehouseError::Unavailable(format!("PostgreSQL warehouse: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "warehouse connection closed");
            }
        });
        if let Some(schema) = schema {
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            let sql = format!("CREATE SCHEMA IF NOT EXISTS {quoted}; SET search_path TO {quoted}");
            client.batch_execute(&sql).await.map_err(|e| sql_err(&sql, e))?;
        }
        Ok(PgRunner { client })
    }
}

fn typed(kind: &str, text: &str) -> Value {
    match kind {
        "int2" | "int4" | "int8" => text.parse().map_or(Value::str(text), Value::Int),
        "float4" | "float8" | "numeric" => text.parse().map_or(Value::str(text), Value::Float),
        "bool" => Value::Bool(text == "t"),
        "timestamp" | "timestamptz" => parse_timestamp(text, &Utc).map_or(Value::str(text), Value::Timestamp),
        "date" => parse_date(text).map_or(Value::str(text), Value::Date),
        _ => Value::str(text),
    }
}

#[async_trait]
impl SqlRunner for PgRunner {
    async fn run(&self, statements: &[String]) -> Result<(), WarehouseError> {
        let body = statements.join(";\n");
        match self.client.batch_execute(&format!("BEGIN;\n{body};\nCOMMIT")).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.client.batch_execute("ROLLBACK").await.map_err(|r| sql_err("ROLLBACK", r))?;
                Err(sql_err(&body, e))
            }
        }
    }

    async fn query(&self, sql: &str) -> Result<QueryResult, WarehouseError> {
        let prepared = self.client.prepare(sql).await.map_err(|e| sql_err(sql, e))?;
        let types: Vec<String> = prepared.columns().iter().map(|c| c.type_().name().to_string()).collect();
        let mut result = QueryResult {
            columns: prepared.columns().iter().map(|c| c.name().to_string()).collect(),
            rows: Vec::new(),
        };
        for message in self.client.simple_query(sql).await.map_err(|e| sql_err(sql, e))? {
            if let SimpleQueryMessage::Row(row) = message {
                let cells =
                    types.iter().enumerate().map(|(i, kind)| row.get(i).map_or(Value::Null, |t| typed(kind, t)));
                result.rows.push(cells.collect());
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_typed_by_the_column_type() {
        assert_eq!(typed("int8", "42"), Value::Int(42));
        assert_eq!(typed("numeric", "12.50"), Value::Float(12.5));
        assert_eq!(typed("bool", "t"), Value::Bool(true));
        assert_eq!(typed("varchar", "x"), Value::str("x"));
        assert!(matches!(typed("timestamp", "2026-11-30 10:00:00"), Value::Timestamp(_)));
        assert!(matches!(typed("date", "2026-11-30"), Value::Date(_)));
    }
}
