//! `GET /v1/reconciliation?report=R&limit=N`: the latest reconciliation results,
//! disagreeing buckets first, each with the line a person reads.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::batch::Value;
use tidemark_core::ports::Query as WarehouseQuery;
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
    let exists_query = WarehouseQuery::with_params(
        "SELECT table_name FROM information_schema.tables WHERE table_name = $1",
        vec![sql::TABLE.to_owned()],
    );
    let tables = batch.warehouse.query(&exists_query).await;
    let exists =
        tables.is_ok_and(|t| t.rows.iter().any(|r| matches!(r.first(), Some(Value::Str(n)) if &**n == sql::TABLE)));
    if !exists {
        return Ok(Json(json!({"results": [], "note": "reconcile has not run yet"})));
    }
    let result = batch
        .warehouse
        .query(&sql::latest(params.report.as_deref(), limit))
        .await
        .map_err(|e| ReportsError::Report(ReportError::Warehouse(e)))?;
    let results: Vec<JsonValue> = result
        .rows
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, JsonValue> =
                result.columns.iter().zip(row).map(|(name, value)| (name.clone(), value.to_json())).collect();
            JsonValue::Object(object)
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}
