//! Contract of the warehouse port: staged loads commit with their bookkeeping in one
//! transaction, are idempotent by load id, and leave nothing behind when aborted; the
//! watermark never goes backwards; `execute` is all or nothing; text is staged and bound,
//! never SQL.

use chrono::{DateTime, TimeZone, Utc};

use super::HOSTILE_TEXT;
use crate::batch::pipeline::Pipeline;
use crate::batch::{ColumnType, Value};
use crate::ports::warehouse::{steps, CommitOutcome, LoadCommit, Query, Rows, Step, Warehouse};

const PIPE: &str = r#"
[[source]]
name = "s"
kind = "csv"
path = "s.csv"

[[table]]
name = "facts"
source = "s"
key = ["id"]
event_time = "at"
load = "merge"
columns = [
  { name = "id", type = "bigint" },
  { name = "at", type = "timestamp" },
  { name = "amount", type = "decimal(12,2)" },
  { name = "note", type = "varchar" },
]

[[table]]
name = "daily"
source = "s"
event_time = "at"
load = "overwrite"
overwrite_period = "day"
columns = [
  { name = "at", type = "timestamp" },
  { name = "n", type = "bigint" },
]
"#;

fn t(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).single().unwrap_or_default()
}

fn fact(id: i64, at: DateTime<Utc>, amount: f64, note: &str) -> Vec<Value> {
    vec![Value::Int(id), Value::Timestamp(at), Value::Float(amount), Value::str(note)]
}

fn commit(id: &str, run: &str, rows: u64, hw: DateTime<Utc>) -> LoadCommit {
    LoadCommit {
        load_id: id.into(),
        extract_runs: vec![("s".into(), run.into())],
        rows_loaded: rows,
        rows_quarantined: 0,
        high_water: Some(hw),
        loaded_at: t(25, 12),
    }
}

async fn facts(wh: &dyn Warehouse) -> Vec<Vec<Value>> {
    wh.query(&Query::new(r#"SELECT id, "at", amount, note FROM facts ORDER BY id"#)).await.expect("query").rows
}

/// Merge upserts by key (the last staged row of a key wins), a repeated load id changes
/// nothing, an aborted stage leaves the table and the watermark as they were.
pub async fn staged_loads_are_atomic_and_idempotent(wh: &dyn Warehouse) {
    let p = Pipeline::parse(PIPE).expect("contract pipeline");
    let table = &p.tables[0];
    wh.ensure_tables(&p.tables).await.expect("ddl");
    wh.ensure_tables(&p.tables).await.expect("ddl is idempotent");

    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![fact(1, t(24, 9), 19.99, "a"), fact(2, t(24, 10), 5.0, "b")]).await.expect("stage");
    wh.stage(table, vec![fact(1, t(24, 9), 21.5, "a2")]).await.expect("stage");
    let out = wh.commit(table, &commit("facts:r1..r1", "r1", 2, t(24, 10))).await.expect("commit");
    assert!(matches!(out, CommitOutcome::Committed { .. }));
    assert_eq!(facts(wh).await, vec![fact(1, t(24, 9), 21.5, "a2"), fact(2, t(24, 10), 5.0, "b")]);
    assert_eq!(wh.loaded_runs("facts").await.expect("runs"), vec![("s".to_string(), "r1".to_string())]);

    // The same load id again: nothing changes, even with other rows staged.
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![fact(3, t(24, 11), 1.0, "c")]).await.expect("stage");
    assert_eq!(
        wh.commit(table, &commit("facts:r1..r1", "r1", 1, t(24, 11))).await.expect("commit"),
        CommitOutcome::AlreadyLoaded
    );
    assert_eq!(facts(wh).await.len(), 2);

    // A stage that never commits (a crash, an error ratio exceeded): nothing shows.
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![fact(4, t(25, 1), 1.0, "d")]).await.expect("stage");
    wh.abort(table).await.expect("abort");
    assert_eq!(facts(wh).await.len(), 2);
    let marks = wh.watermarks().await.expect("marks");
    assert_eq!(marks.len(), 1);
    assert_eq!(
        (marks[0].source.as_str(), marks[0].table.as_str(), marks[0].high_water),
        ("s", "facts", Some(t(24, 10)))
    );

    // A later load with older data does not move the watermark back.
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![fact(2, t(23, 10), 6.0, "b2")]).await.expect("stage");
    wh.commit(table, &commit("facts:r2..r2", "r2", 1, t(23, 10))).await.expect("commit");
    let marks = wh.watermarks().await.expect("marks");
    assert_eq!((marks[0].high_water, marks[0].load_id.as_str()), (Some(t(24, 10)), "facts:r2..r2"));
    assert_eq!(facts(wh).await[1], fact(2, t(23, 10), 6.0, "b2"));
}

/// The already-loaded check holds inside the committing transaction: a second commit
/// of a load id that got past the check before the first committed (two runs racing)
/// changes neither the table, nor the load records, nor the watermark.
pub async fn a_load_committed_meanwhile_changes_nothing(wh: &dyn Warehouse) {
    let p = Pipeline::parse(PIPE).expect("contract pipeline");
    let table = &p.tables[0];
    wh.ensure_tables(&p.tables).await.expect("ddl");
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![fact(1, t(24, 9), 19.99, "a")]).await.expect("stage");
    let first = commit("facts:r1..r1", "r1", 1, t(24, 9));
    wh.commit(table, &first).await.expect("commit");
    let loads = Query::new("SELECT COUNT(*) FROM tidemark_loads");
    let before = (facts(wh).await, wh.query(&loads).await.expect("loads").rows, wh.watermarks().await.expect("marks"));

    // The racing run's commit, as its transaction runs it: its own stage, same load id.
    let mut racing = crate::ports::warehouse::steps(crate::batch::sql::create_stage(table));
    let mut columns: Vec<(String, ColumnType)> = table.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
    columns.push((crate::batch::sql::SEQ.to_owned(), ColumnType::BigInt));
    let mut row = fact(1, t(24, 11), 99.0, "racing");
    row.push(Value::Int(0));
    racing.push(Step::Rows(Rows { table: crate::batch::sql::stage_name(&table.name), columns, rows: vec![row] }));
    racing.extend(steps(crate::batch::sql::apply_stage(table, &first.load_id)));
    racing.extend(steps(crate::batch::sql::bookkeeping(table, &commit("facts:r1..r1", "r1", 1, t(24, 11)))));
    racing.push(Step::Sql(crate::batch::sql::drop_stage(table)));
    wh.execute(racing).await.expect("the racing commit runs");
    let after = (facts(wh).await, wh.query(&loads).await.expect("loads").rows, wh.watermarks().await.expect("marks"));
    assert_eq!(after, before, "the second commit of one load changed nothing");
}

/// Overwrite by period replaces only the days present in the staged rows.
pub async fn overwrite_replaces_only_staged_periods(wh: &dyn Warehouse) {
    let p = Pipeline::parse(PIPE).expect("contract pipeline");
    let table = &p.tables[1];
    wh.ensure_tables(&p.tables).await.expect("ddl");
    let row = |d, n| vec![Value::Timestamp(t(d, 0)), Value::Int(n)];
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![row(23, 1), row(24, 2)]).await.expect("stage");
    wh.commit(table, &commit("daily:1", "r1", 2, t(24, 0))).await.expect("commit");
    wh.begin_stage(table).await.expect("stage");
    wh.stage(table, vec![row(24, 5), row(25, 7)]).await.expect("stage");
    wh.commit(table, &commit("daily:2", "r2", 2, t(25, 0))).await.expect("commit");
    let rows = wh.query(&Query::new(r#"SELECT "at", n FROM daily ORDER BY "at""#)).await.expect("query").rows;
    assert_eq!(rows, vec![row(23, 1), row(24, 5), row(25, 7)]);
}

/// `execute` applies all of its statements or none of them.
pub async fn execute_is_all_or_nothing(wh: &dyn Warehouse) {
    let p = Pipeline::parse(PIPE).expect("contract pipeline");
    wh.ensure_tables(&p.tables).await.expect("ddl");
    let insert =
        |n: i64| format!(r#"INSERT INTO daily ("at", n) VALUES (CAST('2026-11-20 00:00:00' AS TIMESTAMP), {n})"#);
    wh.execute(steps([insert(1), insert(2)])).await.expect("two inserts");
    let failed = wh.execute(steps([insert(3), "INSERT INTO no_such_table VALUES (1)".to_owned()])).await;
    assert!(failed.is_err(), "a failing statement fails the call");
    let rows_into_nowhere = Rows {
        table: "no_such_table".into(),
        columns: vec![("n".into(), ColumnType::BigInt)],
        rows: vec![vec![Value::Int(5)]],
    };
    let failed = wh.execute(vec![Step::Sql(insert(4)), Step::Rows(rows_into_nowhere)]).await;
    assert!(failed.is_err(), "rows into a missing table fail the call");
    let rows = wh
        .query(&Query::new(r#"SELECT n FROM daily WHERE "at" < CAST('2026-11-21 00:00:00' AS TIMESTAMP) ORDER BY n"#))
        .await
        .expect("query")
        .rows;
    assert_eq!(rows, vec![vec![Value::Int(1)], vec![Value::Int(2)]], "the failed calls left nothing behind");
}

/// Text from outside reaches the warehouse as staged rows and bound parameters: it
/// comes back byte for byte, matches itself, and changes nothing else.
pub async fn hostile_text_is_staged_and_bound_byte_for_byte(wh: &dyn Warehouse) {
    let create = |name: &str| format!("CREATE TABLE {name} (id BIGINT NOT NULL, t VARCHAR(65535))");
    wh.execute(steps([create("x"), create("hostile")])).await.expect("tables");
    let rows: Vec<Vec<Value>> =
        (0..).zip(HOSTILE_TEXT).map(|(id, text)| vec![Value::Int(id), Value::str(*text)]).collect();
    let columns = vec![("id".to_owned(), ColumnType::BigInt), ("t".to_owned(), ColumnType::Varchar)];
    wh.execute(vec![Step::Rows(Rows { table: "hostile".into(), columns, rows: rows.clone() })]).await.expect("staged");
    let all = wh.query(&Query::new("SELECT id, t FROM hostile ORDER BY id")).await.expect("query").rows;
    assert_eq!(all, rows, "staged text comes back byte for byte");
    for (id, text) in (0..).zip(HOSTILE_TEXT) {
        let bound = Query::with_params("SELECT id FROM hostile WHERE t = $1", vec![(*text).to_owned()]);
        let found = wh.query(&bound).await.expect("bound query").rows;
        assert_eq!(found, vec![vec![Value::Int(id)]], "{text:?} matches itself as a parameter");
    }
    let x = wh.query(&Query::new("SELECT COUNT(*) FROM x")).await.expect("table x is still there").rows;
    assert_eq!(x, vec![vec![Value::Int(0)]]);
}

/// A warehouse nothing was ever loaded into answers `watermarks` with none (reports ask
/// before the first load).
pub async fn fresh_warehouse_has_no_watermarks(wh: &dyn Warehouse) {
    assert!(wh.watermarks().await.expect("watermarks of a fresh warehouse").is_empty());
}
