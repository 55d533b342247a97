//! The warehouse SQL, shared by the DuckDB and Redshift adapters. Kept to what both
//! accept: plain DDL, `CREATE TABLE .. AS SELECT`, `DELETE .. USING`, `ROW_NUMBER()`,
//! `DATE_TRUNC`, explicit transactions. Names come from the validated pipeline file;
//! rows reach tables through staging and text reaches queries as bound parameters, so
//! the only text literals are names and ids ([`name_literal`]).

use chrono::{DateTime, Utc};

use super::pipeline::{LoadMode, TableDef};
use crate::ports::warehouse::{LoadCommit, Query};

pub const LOADS: &str = "tidemark_loads";
pub const WATERMARKS: &str = "tidemark_watermarks";
/// The staging table's extra column: arrival order, so merge keeps the last row per key.
pub const SEQ: &str = "tidemark_seq";

pub fn stage_name(table: &str) -> String {
    format!("tidemark_stage_{table}")
}

pub fn meta_ddl() -> [String; 2] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {LOADS} (load_id VARCHAR(256) NOT NULL, table_name VARCHAR(128) NOT NULL, \
             source VARCHAR(128) NOT NULL, extract_run_id VARCHAR(64) NOT NULL, rows_loaded BIGINT NOT NULL, \
             rows_quarantined BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {WATERMARKS} (source VARCHAR(128) NOT NULL, table_name VARCHAR(128) NOT NULL, \
             high_water TIMESTAMP, load_id VARCHAR(256) NOT NULL, rows_loaded BIGINT NOT NULL, \
             rows_quarantined BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)"
        ),
    ]
}

pub fn create_table(t: &TableDef) -> String {
    let mut cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let not_null = !c.nullable || t.key.contains(&c.name);
            format!("{} {}{}", ident(&c.name), c.ty.sql(), if not_null { " NOT NULL" } else { "" })
        })
        .collect();
    if !t.key.is_empty() {
        cols.push(format!("PRIMARY KEY ({})", idents(&t.key)));
    }
    format!("CREATE TABLE IF NOT EXISTS {} ({})", ident(&t.name), cols.join(", "))
}

/// Redshift takes the sort key as a table attribute; DuckDB has none, so the adapter
/// for Redshift appends this to `create_table`.
pub fn redshift_sort_key(t: &TableDef) -> String {
    if t.sort_key.is_empty() {
        String::new()
    } else {
        format!(" COMPOUND SORTKEY ({})", idents(&t.sort_key))
    }
}

pub fn create_stage(t: &TableDef) -> [String; 2] {
    let stage = stage_name(&t.name);
    [
        format!("DROP TABLE IF EXISTS {stage}"),
        format!("CREATE TABLE {stage} AS SELECT *, CAST(0 AS BIGINT) AS {SEQ} FROM {} WHERE 1 = 0", ident(&t.name)),
    ]
}

pub fn drop_stage(t: &TableDef) -> String {
    format!("DROP TABLE IF EXISTS {}", stage_name(&t.name))
}

pub fn already_loaded(load_id: &str) -> Query {
    Query::with_params(format!("SELECT COUNT(*) FROM {LOADS} WHERE load_id = $1"), vec![load_id.to_owned()])
}

pub fn loaded_runs(table: &str) -> Query {
    Query::with_params(
        format!("SELECT DISTINCT source, extract_run_id FROM {LOADS} WHERE table_name = $1 ORDER BY 1, 2"),
        vec![table.to_owned()],
    )
}

/// `NOT EXISTS` a load record of `load_id`: the already-loaded check, made inside the
/// committing transaction, in every statement that changes the table. A load committed
/// meanwhile by another run (the check before the transaction passed for both) then
/// changes nothing the second time.
fn not_loaded(load_id: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM {LOADS} WHERE load_id = {})", name_literal(load_id))
}

/// The statements that move staged rows into the table, by load mode. Run inside the
/// load's transaction; each does nothing when `load_id` is already recorded.
pub fn apply_stage(t: &TableDef, load_id: &str) -> Vec<String> {
    let stage = stage_name(&t.name);
    let table = ident(&t.name);
    let fresh = not_loaded(load_id);
    let cols = t.columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
    let insert_all = format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} WHERE {fresh}");
    // The last staged row per key wins, as when the same order arrives twice in one load.
    let insert_latest = |key: &[String]| {
        format!(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER \
             (PARTITION BY {key} ORDER BY {SEQ} DESC) AS tidemark_rn FROM {stage}) latest WHERE tidemark_rn = 1 \
             AND {fresh}",
            key = idents(key)
        )
    };
    let insert = if t.key.is_empty() { insert_all } else { insert_latest(&t.key) };
    match (t.load, t.overwrite_period, &t.event_time) {
        (LoadMode::Append, _, _) => vec![insert],
        (LoadMode::Merge, _, _) => {
            let on = t
                .key
                .iter()
                .map(|k| format!("{table}.{k} = {stage}.{k}", k = ident(k)))
                .collect::<Vec<_>>()
                .join(" AND ");
            vec![format!("DELETE FROM {table} USING {stage} WHERE {on} AND {fresh}"), insert]
        }
        (LoadMode::Overwrite, Some(period), Some(et)) => {
            let (unit, et) = (period.sql_unit(), ident(et));
            vec![
                format!(
                    "DELETE FROM {table} WHERE DATE_TRUNC('{unit}', {et}) IN \
                     (SELECT DISTINCT DATE_TRUNC('{unit}', {et}) FROM {stage}) AND {fresh}"
                ),
                insert,
            ]
        }
        (LoadMode::Overwrite, _, _) => vec![format!("DELETE FROM {table} WHERE {fresh}"), insert],
    }
}

/// The load's bookkeeping, committed with its rows: one load record per extract run it
/// consumed, then the table's watermark.
pub fn bookkeeping(t: &TableDef, c: &LoadCommit) -> Vec<String> {
    let mut book: Vec<String> = c
        .extract_runs
        .iter()
        .map(|(source, run)| {
            record_load(&t.name, &c.load_id, source, run, c.rows_loaded, c.rows_quarantined, c.loaded_at)
        })
        .collect();
    book.extend(set_watermark(
        &t.source,
        &t.name,
        c.high_water,
        &c.load_id,
        c.rows_loaded,
        c.rows_quarantined,
        c.loaded_at,
    ));
    book
}

fn record_load(
    table: &str,
    load_id: &str,
    source: &str,
    run_id: &str,
    rows: u64,
    bad: u64,
    at: DateTime<Utc>,
) -> String {
    let (id, run) = (name_literal(load_id), name_literal(run_id));
    format!(
        "INSERT INTO {LOADS} (load_id, table_name, source, extract_run_id, rows_loaded, rows_quarantined, loaded_at) \
         SELECT {id}, {}, {}, {run}, {rows}, {bad}, {} WHERE NOT EXISTS \
         (SELECT 1 FROM {LOADS} WHERE load_id = {id} AND extract_run_id = {run})",
        name_literal(table),
        name_literal(source),
        timestamp(at)
    )
}

/// Replaces the watermark row of (source, table) with this load's, keeping the larger
/// of the old and new marks: a watermark never goes backwards.
fn set_watermark(
    source: &str,
    table: &str,
    high_water: Option<DateTime<Utc>>,
    load_id: &str,
    rows: u64,
    bad: u64,
    at: DateTime<Utc>,
) -> [String; 2] {
    let new = high_water.map_or("CAST(NULL AS TIMESTAMP)".to_string(), timestamp);
    let (s, t, id) = (name_literal(source), name_literal(table), name_literal(load_id));
    [
        format!(
            "INSERT INTO {WATERMARKS} (source, table_name, high_water, load_id, rows_loaded, rows_quarantined, loaded_at) \
             SELECT {s}, {t}, CASE WHEN MAX(high_water) IS NULL THEN {new} WHEN {new} IS NULL THEN MAX(high_water) \
             WHEN {new} > MAX(high_water) THEN {new} ELSE MAX(high_water) END, {id}, {rows}, {bad}, {} \
             FROM {WATERMARKS} WHERE source = {s} AND table_name = {t} HAVING NOT EXISTS \
             (SELECT 1 FROM {WATERMARKS} WHERE source = {s} AND table_name = {t} AND load_id = {id})",
            timestamp(at)
        ),
        format!("DELETE FROM {WATERMARKS} WHERE source = {s} AND table_name = {t} AND load_id <> {id}"),
    ]
}

pub fn watermarks() -> Query {
    Query::new(format!(
        "SELECT source, table_name, high_water, load_id, rows_loaded, rows_quarantined, loaded_at \
         FROM {WATERMARKS} ORDER BY source, table_name"
    ))
}

/// Sets the watermarks of `source` (every table it feeds, or only `table`) to `to`,
/// backwards as well as forwards: the one way a watermark goes back, for the day a
/// source's clock ran ahead. Nothing is reloaded; the tidemark follows at once.
pub fn reset_watermark(source: &str, table: Option<&str>, to: DateTime<Utc>) -> String {
    let only_table = table.map(|t| format!(" AND table_name = {}", name_literal(t))).unwrap_or_default();
    format!(
        "UPDATE {WATERMARKS} SET high_water = {} WHERE source = {}{only_table}",
        timestamp(to),
        name_literal(source)
    )
}

/// A table or column name, quoted: `at`, `hour` or `order` are keywords somewhere.
/// Names are validated lowercase `[a-z0-9_]`, so quoting never changes their meaning.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn idents(names: &[String]) -> String {
    names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
}

/// A name or an id as a SQL string literal: a table, source or report name (the
/// pipeline parser allows `[a-z0-9_]`), or an id Tidemark makes (`orders:20261125T020000123Z..`,
/// `reconcile:sales:20261125T024500`). Text from outside never comes here: it is bound
/// or staged. Such text has no quote or backslash, so every engine reads the literal
/// the same way (Redshift treats `\` as an escape, DuckDB and PostgreSQL do not); a
/// character outside the set, which no caller produces, becomes `_`.
pub fn name_literal(name: &str) -> String {
    debug_assert!(name.chars().all(is_name_char), "not a name or id: {name:?}");
    let safe: String = name.chars().map(|c| if is_name_char(c) { c } else { '_' }).collect();
    format!("'{safe}'")
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// A time as a literal; formatted here from a typed value, so never text from outside.
pub fn timestamp(t: DateTime<Utc>) -> String {
    format!("CAST('{}' AS TIMESTAMP)", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::pipeline::Pipeline;

    const PIPE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "orders.csv"

[[table]]
name = "orders"
source = "orders"
key = ["order_id"]
event_time = "ordered_at"
columns = [
  { name = "order_id", type = "bigint" },
  { name = "ordered_at", type = "timestamp" },
  { name = "amount", type = "decimal(12,2)" },
]
"#;

    #[test]
    fn merge_deletes_by_key_and_inserts_the_latest_staged_row() {
        let p = Pipeline::parse(PIPE).unwrap();
        let t = &p.tables[0];
        assert_eq!(
            create_table(t),
            r#"CREATE TABLE IF NOT EXISTS "orders" ("order_id" BIGINT NOT NULL, "ordered_at" TIMESTAMP, "amount" DECIMAL(12,2), PRIMARY KEY ("order_id"))"#
        );
        let stmts = apply_stage(t, "orders:r1..r1");
        assert_eq!(
            stmts[0],
            r#"DELETE FROM "orders" USING tidemark_stage_orders WHERE "orders"."order_id" = tidemark_stage_orders."order_id" AND NOT EXISTS (SELECT 1 FROM tidemark_loads WHERE load_id = 'orders:r1..r1')"#
        );
        assert!(stmts[1].contains(r#"ROW_NUMBER() OVER (PARTITION BY "order_id" ORDER BY tidemark_seq DESC)"#));
        assert_eq!(
            name_literal("orders:20261125T020000123Z..20261126T020000123Z"),
            "'orders:20261125T020000123Z..20261126T020000123Z'"
        );
    }
}
