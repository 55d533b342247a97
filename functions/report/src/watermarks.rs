//! `GET /v1/watermarks`: per source and table, how far batch has loaded, and the
//! tidemark of every report.

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
    Ok(Json(json!({ "watermarks": sources, "reports": reports })))
}
