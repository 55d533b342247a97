//! The SQL warehouse adapter (the statements Redshift runs) over the warehouse contract
//! suite, executed on the loopback PostgreSQL, Redshift's dialect ancestor: staged loads,
//! merge, overwrite by period, idempotent load ids, watermarks, all-or-nothing execute.
//! Staging is inline (`INSERT .. VALUES`); `COPY` from S3 exists only on Redshift.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use chrono::Utc;
use tidemark_aws::{InlineStaging, SqlRunner, SqlWarehouse};
use tidemark_core::batch::value::{parse_date, parse_timestamp};
use tidemark_core::batch::Value;
use tidemark_core::contract;
use tidemark_core::ports::{QueryResult, WarehouseError};
use tokio_postgres::{NoTls, SimpleQueryMessage};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One connection in its own schema, so that tests do not see each other's tables.
struct Pg {
    client: tokio_postgres::Client,
}

async fn pg(schema: &str) -> Pg {
    let (client, connection) = tokio_postgres::connect(URL, NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {URL} (start it as .ci/run does): {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
        ))
        .await
        .unwrap();
    Pg { client }
}

fn sql_err(context: &str, e: tokio_postgres::Error) -> WarehouseError {
    let message = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
    WarehouseError::Sql { context: context.chars().take(160).collect(), message }
}

#[async_trait]
impl SqlRunner for Pg {
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
                let cells = (0..types.len()).map(|i| match row.get(i) {
                    None => Value::Null,
                    Some(text) => match types[i].as_str() {
                        "int2" | "int4" | "int8" => text.parse().map_or(Value::str(text), Value::Int),
                        "float4" | "float8" | "numeric" => text.parse().map_or(Value::str(text), Value::Float),
                        "bool" => Value::Bool(text == "t"),
                        "timestamp" | "timestamptz" => {
                            parse_timestamp(text, &Utc).map_or(Value::str(text), Value::Timestamp)
                        }
                        "date" => parse_date(text).map_or(Value::str(text), Value::Date),
                        _ => Value::str(text),
                    },
                });
                result.rows.push(cells.collect());
            }
        }
        Ok(result)
    }
}

async fn warehouse(schema: &str) -> SqlWarehouse<Pg, InlineStaging> {
    SqlWarehouse::new(pg(schema).await, InlineStaging::default(), false)
}

#[tokio::test]
async fn staged_loads_are_atomic_and_idempotent() {
    contract::warehouse::staged_loads_are_atomic_and_idempotent(&warehouse("tm_wh_atomic").await).await;
}

#[tokio::test]
async fn overwrite_replaces_only_staged_periods() {
    contract::warehouse::overwrite_replaces_only_staged_periods(&warehouse("tm_wh_overwrite").await).await;
}

#[tokio::test]
async fn execute_is_all_or_nothing() {
    contract::warehouse::execute_is_all_or_nothing(&warehouse("tm_wh_execute").await).await;
}

#[tokio::test]
async fn fresh_warehouse_has_no_watermarks() {
    let wh = warehouse("tm_wh_fresh").await;
    // The DuckDB adapter creates its bookkeeping tables at open; here ensure_tables does.
    tidemark_core::ports::Warehouse::ensure_tables(&wh, &[]).await.unwrap();
    contract::warehouse::fresh_warehouse_has_no_watermarks(&wh).await;
}
