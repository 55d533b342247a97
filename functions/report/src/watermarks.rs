//! `GET /v1/watermarks`: per source and table, how far batch has loaded, the rows each
//! loaded table holds now, and the tidemark of every report.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use tidemark_core::event::millis_rfc3339;
use tidemark_core::report::{ReportError, Tidemark};

use crate::{ReportState, ReportsError};

pub async fn get_watermarks(State(state): State<ReportState>) -> Result<Json<Value>, ReportsError> {
    let batch = state.batch()?;
    let marks = batch.warehouse.watermarks().await.map_err(|e| ReportsError::Report(ReportError::Warehouse(e)))?;
    let sources: Vec<Value> = marks
        .iter()
        .map(|m| {
            json!({
                "source": m.source,
                "table": m.table,
                "high_water": m.high_water.as_ref().map(millis_rfc3339::format),
                "load_id": m.load_id,
                "rows_loaded": m.rows_loaded,
                "rows_quarantined": m.rows_quarantined,
                "loaded_at": millis_rfc3339::format(&m.loaded_at),
            })
        })
        .collect();
    let reports: Vec<Value> =
        batch.reports.iter().map(|r| json!({"report": r.name, "tidemark": Tidemark::of(r, &marks)})).collect();
    let mut tables: Vec<&str> = marks.iter().map(|m| m.table.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    let mut counted = Vec::with_capacity(tables.len());
    for table in tables {
        counted.push(json!({"table": table, "rows": rows_in(batch.warehouse.as_ref(), table).await}));
    }
    Ok(Json(json!({ "watermarks": sources, "reports": reports, "tables": counted })))
}

/// The rows `table` holds now; `None` when it cannot be counted (dropped since its
/// load). The name is quoted as an identifier.
async fn rows_in(warehouse: &dyn tidemark_core::ports::Warehouse, table: &str) -> Option<i64> {
    let query =
        tidemark_core::ports::Query::new(format!("SELECT COUNT(*) FROM {}", tidemark_core::batch::sql::ident(table)));
    let answer = warehouse.query(&query).await.ok()?;
    answer.rows.first().and_then(|row| row.first()).and_then(tidemark_core::batch::Value::as_f64).map(|n| n as i64)
}
