//! `GET /v1/quarantine`: every table with quarantined rows and its loads that had some;
//! `GET /v1/quarantine/{table}?load=ID&limit=N`: the rows of one load (the latest unless
//! `load` says), each with its source, extract run, part, line, rule, field and reason,
//! as batch-load wrote them to `quarantine/<table>/<load>.jsonl` in the interim store,
//! and whether that load is the table's latest (`current`).

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use std::collections::BTreeMap;
use tidemark_core::batch::quarantine;
use tidemark_core::ports::ObjectStore;
use tidemark_core::report::ReportError;

use crate::{ReportState, ReportsError};

const PREFIX: &str = "quarantine/";

/// Rows answered at most per request; the file holds them all.
const MAX_ROWS: usize = 1_000;

fn store(state: &ReportState) -> Result<&dyn ObjectStore, ReportsError> {
    let batch = state.batch()?;
    batch.interim.as_deref().ok_or_else(|| ReportsError::BadParameter {
        field: "quarantine",
        message: "this deployment does not read the interim store".into(),
    })
}

fn unavailable(error: impl std::fmt::Display) -> ReportsError {
    ReportsError::Report(ReportError::Warehouse(tidemark_core::ports::WarehouseError::Unavailable(format!(
        "reading the quarantine: {error}"
    ))))
}

/// Tables are SQL identifiers: anything else cannot name a quarantine directory.
fn table_name(table: &str) -> Result<&str, ReportsError> {
    let ok = !table.is_empty() && table.len() <= 128 && table.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(table).ok_or_else(|| ReportsError::BadParameter {
        field: "table",
        message: format!("{table:?} is not a table name (letters, digits and _)"),
    })
}

/// The load ids of a table's quarantine files, oldest first.
fn loads_of<'a>(keys: &'a [String], table: &str) -> Vec<&'a str> {
    let dir = format!("{PREFIX}{table}/");
    keys.iter().filter_map(|k| k.strip_prefix(&dir)?.strip_suffix(".jsonl")).collect()
}

pub async fn list_quarantine(State(state): State<ReportState>) -> Result<Json<JsonValue>, ReportsError> {
    let keys = store(&state)?.list(PREFIX).await.map_err(unavailable)?;
    let mut tables: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for key in &keys {
        if let Some((table, file)) = key.strip_prefix(PREFIX).and_then(|rest| rest.split_once('/')) {
            if let Some(load) = file.strip_suffix(".jsonl") {
                tables.entry(table).or_default().push(load);
            }
        }
    }
    let tables: Vec<JsonValue> =
        tables.into_iter().map(|(table, loads)| json!({"table": table, "loads": loads})).collect();
    Ok(Json(json!({ "tables": tables })))
}

#[derive(Debug, Deserialize)]
pub struct Params {
    load: Option<String>,
    limit: Option<usize>,
}

pub async fn get_quarantine(
    State(state): State<ReportState>,
    Path(table): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<JsonValue>, ReportsError> {
    let store = store(&state)?;
    let table = table_name(&table)?;
    let keys = store.list(&format!("{PREFIX}{table}/")).await.map_err(unavailable)?;
    let loads = loads_of(&keys, table);
    let load = match &params.load {
        Some(wanted) => loads.iter().find(|l| *l == wanted).copied().ok_or_else(|| ReportsError::BadParameter {
            field: "load",
            message: format!("table {table} has no quarantine for load {wanted:?}"),
        })?,
        None => match loads.last() {
            Some(latest) => latest,
            None => return Ok(Json(json!({"table": table, "load": null, "count": 0, "rows": []}))),
        },
    };
    // Whether this is the table's latest load: after a fixed source was reloaded, the
    // newest quarantine file is an earlier load's, and the table has none now.
    let marks = state.batch()?.warehouse.watermarks().await.map_err(unavailable)?;
    let latest = marks.iter().filter(|m| m.table == table).max_by_key(|m| m.loaded_at);
    let current = latest.is_some_and(|m| quarantine::file_id(&m.load_id) == load);
    let body = store.get(&format!("{PREFIX}{table}/{load}.jsonl")).await.map_err(unavailable)?.unwrap_or_default();
    let limit = params.limit.unwrap_or(100).clamp(1, MAX_ROWS);
    let lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let count = lines.clone().count();
    let rows: Vec<JsonValue> = lines.take(limit).filter_map(|line| serde_json::from_slice(line).ok()).collect();
    Ok(Json(json!({"table": table, "load": load, "current": current, "loads": loads, "count": count, "rows": rows})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identifiers_name_a_table() {
        assert!(table_name("orders_2026").is_ok());
        for bad in ["", "../raw", "orders/x", "orders.jsonl", "a b"] {
            assert!(table_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_tables_loads_are_its_own_files() {
        let keys: Vec<String> = [
            "quarantine/orders/l1.jsonl",
            "quarantine/orders/l2.jsonl",
            "quarantine/orders_eu/l3.jsonl",
            "quarantine/orders/x.tmp",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(loads_of(&keys, "orders"), ["l1", "l2"]);
    }
}
