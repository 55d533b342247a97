//! Two database users, as the Data API signs in the jobs' and the report function's IAM
//! roles on Redshift Serverless: the jobs' user creates the tables and, in the schema
//! setup, the read-only role and its grants; the report user, given that role (what
//! the `RedshiftDbRoles` tag does at sign-in), reads and cannot write. On the loopback
//! PostgreSQL, with the statements the Redshift adapter runs.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use tidemark_aws::{Dialect, InlineStaging, PgRunner, ReadAccess, SqlWarehouse};
use tidemark_core::batch::{Pipeline, Value};
use tidemark_core::ports::{LoadCommit, Query, Step, Warehouse, WarehouseError};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
const JOBS: &str = "postgres://tm_roles_jobs@127.0.0.1:5432/test";
const REPORT: &str = "postgres://tm_roles_report@127.0.0.1:5432/test";
const SCHEMA: &str = "tm_roles";
const READER: &str = "tm_roles_reader";

const PIPELINE: &str = r#"
[[source]]
name = "shop"
kind = "csv"
path = "orders.csv"

[[table]]
name = "orders"
source = "shop"
key = ["id"]
event_time = "at"
columns = [{ name = "id", type = "bigint" }, { name = "at", type = "timestamp" }]

[[table]]
name = "refunds"
source = "shop"
key = ["id"]
columns = [{ name = "id", type = "bigint" }]
"#;

/// Fresh users (the IAM roles' database users) and no schema: roles outlive schemas, so
/// whatever an earlier run left is dropped first.
async fn fresh_users() {
    let reset = format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
         DO $$ DECLARE r text; BEGIN
           FOREACH r IN ARRAY ARRAY['{READER}', 'tm_roles_report', 'tm_roles_jobs'] LOOP
             IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
               EXECUTE format('DROP OWNED BY %I CASCADE', r);
               EXECUTE format('DROP ROLE %I', r);
             END IF;
           END LOOP;
         END $$;
         CREATE ROLE tm_roles_jobs LOGIN CREATEROLE;
         CREATE ROLE tm_roles_report LOGIN;
         GRANT CREATE ON DATABASE test TO tm_roles_jobs;"
    );
    as_admin(&reset).await;
}

/// What Redshift does when the report user signs in with the role tag.
async fn sign_in_with_reader_role() {
    as_admin(&format!("GRANT {READER} TO tm_roles_report")).await;
}

/// Statements of the test's own set-up, as the superuser.
async fn as_admin(sql: &str) {
    let (admin, connection) = tokio_postgres::connect(ADMIN, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {ADMIN} (start it as .ci/run does): {e}"));
    tokio::spawn(connection);
    admin.batch_execute(sql).await.unwrap();
}

/// The Redshift adapter's SQL on one user's connection.
fn warehouse(runner: PgRunner) -> SqlWarehouse<PgRunner, InlineStaging> {
    SqlWarehouse::new(runner, InlineStaging::default(), Dialect::Postgres)
}

fn denied(result: Result<impl std::fmt::Debug, WarehouseError>, what: &str) {
    match result {
        Err(WarehouseError::Sql { message, .. }) => {
            assert!(message.contains("permission denied") || message.contains("must be owner"), "{what}: {message}")
        }
        other => panic!("{what}: expected permission denied, got {other:?}"),
    }
}

#[tokio::test]
async fn the_jobs_own_the_tables_and_the_report_role_only_reads() {
    fresh_users().await;
    let pipeline = Pipeline::parse(PIPELINE).unwrap();
    let jobs = warehouse(PgRunner::connect(JOBS, Some(SCHEMA)).await.unwrap())
        .with_read_access(ReadAccess { role: READER.into(), schema: SCHEMA.into() });

    // Before the jobs' first run the schema is not there: the report reads no watermark
    // and creates nothing.
    let early = warehouse(PgRunner::attach(REPORT, SCHEMA).await.unwrap());
    assert_eq!(early.watermarks().await.unwrap(), vec![]);

    // The jobs' schema setup creates the tables, the read-only role and its grants; a
    // second setup (every load runs one) finds the role and grants again.
    let orders = &pipeline.tables[0];
    jobs.ensure_tables(&pipeline.tables[..1]).await.unwrap();
    jobs.ensure_tables(&pipeline.tables[..1]).await.unwrap();
    jobs.begin_stage(orders).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
    jobs.stage(orders, vec![vec![Value::Int(1), Value::Timestamp(at)], vec![Value::Int(2), Value::Timestamp(at)]])
        .await
        .unwrap();
    let commit = LoadCommit {
        load_id: "orders:r1..r1".into(),
        extract_runs: vec![("shop".into(), "r1".into())],
        rows_loaded: 2,
        rows_quarantined: 0,
        high_water: Some(at),
        loaded_at: at,
    };
    jobs.commit(orders, &commit).await.unwrap();

    sign_in_with_reader_role().await;
    let report = warehouse(PgRunner::attach(REPORT, SCHEMA).await.unwrap());
    // It reads the tables and the bookkeeping.
    let marks = report.watermarks().await.unwrap();
    assert_eq!((marks.len(), marks[0].high_water), (1, Some(at)));
    let rows = report.query(&Query::new("SELECT COUNT(*) FROM orders")).await.unwrap().rows;
    assert_eq!(rows, vec![vec![Value::Int(2)]]);
    // It cannot write, delete, change a table or create one.
    denied(report.execute(vec![Step::Sql("INSERT INTO orders VALUES (3, now())".into())]).await, "insert");
    denied(report.execute(vec![Step::Sql("DELETE FROM orders".into())]).await, "delete");
    denied(report.execute(vec![Step::Sql("UPDATE tidemark_watermarks SET high_water = NULL".into())]).await, "update");
    denied(report.execute(vec![Step::Sql("ALTER TABLE orders ADD COLUMN x INT".into())]).await, "alter");
    denied(report.ensure_tables(&pipeline.tables).await, "create table");

    // A table the jobs create later is readable too (default privileges).
    jobs.ensure_tables(&pipeline.tables).await.unwrap();
    let rows = report.query(&Query::new("SELECT COUNT(*) FROM refunds")).await.unwrap().rows;
    assert_eq!(rows, vec![vec![Value::Int(0)]]);
}
