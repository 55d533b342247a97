//! The SQL warehouse adapter (the statements Redshift runs) over the warehouse contract
//! suite, executed on the loopback PostgreSQL, Redshift's dialect ancestor: staged loads,
//! merge, overwrite by period, idempotent load ids, watermarks, all-or-nothing execute.
//! Staging is inline (`INSERT .. VALUES`); `COPY` from S3 exists only on Redshift.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use tidemark_aws::{Dialect, InlineStaging, PgRunner, SqlWarehouse};
use tidemark_core::contract;

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One connection in its own, fresh schema, so that tests do not see each other's tables.
async fn warehouse(schema: &str) -> SqlWarehouse<PgRunner, InlineStaging> {
    let (client, connection) = tokio_postgres::connect(URL, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {URL} (start it as .ci/run does): {e}"));
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    let runner = PgRunner::connect(URL, Some(schema)).await.unwrap();
    SqlWarehouse::new(runner, InlineStaging::default(), Dialect::Postgres)
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
async fn a_load_committed_meanwhile_changes_nothing() {
    contract::warehouse::a_load_committed_meanwhile_changes_nothing(&warehouse("tm_wh_race").await).await;
}

#[tokio::test]
async fn hostile_text_is_staged_and_bound_byte_for_byte() {
    contract::warehouse::hostile_text_is_staged_and_bound_byte_for_byte(&warehouse("tm_wh_hostile").await).await;
}

#[tokio::test]
async fn fresh_warehouse_has_no_watermarks() {
    let wh = warehouse("tm_wh_fresh").await;
    // The DuckDB adapter creates its bookkeeping tables at open; here ensure_tables does.
    tidemark_core::ports::Warehouse::ensure_tables(&wh, &[]).await.unwrap();
    contract::warehouse::fresh_warehouse_has_no_watermarks(&wh).await;
}
