//! `GET /v1/reconciliation?report=R&limit=N`: the latest reconciliation results,
//! disagreeing buckets first, each with the line a person reads.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::reconcile::sql;
use tidemark_core::report::ReportError;

use crate::{ReportState, ReportsError};

#[derive(Debug, Deserialize)]
pub struct Params {
    report: Option<String>,
    limit: Option<usize>,
}

pub async fn get_reconciliation(
    State(state): State<ReportState>,
    Query(params): Query<Params>,
) -> Result<Json<JsonValue>, ReportsError> {
    let batch = state.batch()?;
    let limit = params.limit.unwrap_or(100).clamp(1, 10_000);
    if !crate::has_table(batch.warehouse.as_ref(), sql::TABLE).await {
        return Ok(Json(json!({"results": [], "note": "reconcile has not run yet"})));
    }
    let result = batch
        .warehouse
        .query(&sql::latest(params.report.as_deref(), limit))
        .await
        .map_err(|e| ReportsError::Report(ReportError::Warehouse(e)))?;
    Ok(Json(json!({ "results": crate::rows_as_json(&result) })))
}
