//! `GET /v1/analysis`: the declared analyses; `GET /v1/analysis/{table}` with `table`
//! one of `forecast`, `anomalies`, `profile`, `segments`: that result table's rows,
//! of one analysis (`?analysis=NAME`) or all, newest or natural order first, at most
//! `limit`. A forecast is read one series at a time: the total, or `?group=G`.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::analysis::tables;
use tidemark_core::analysis::AnalysisDef;
use tidemark_core::report::ReportError;

use crate::{ReportState, ReportsError};

#[derive(Debug, Deserialize)]
pub struct Params {
    analysis: Option<String>,
    group: Option<String>,
    limit: Option<usize>,
}

/// What each analysis is of, for the dashboard and the console.
pub async fn list_analyses(State(state): State<ReportState>) -> Result<Json<JsonValue>, ReportsError> {
    let batch = state.batch()?;
    let analyses: Vec<JsonValue> = batch
        .analyses
        .iter()
        .map(|a| match a {
            AnalysisDef::Forecast(f) | AnalysisDef::Anomaly(f) => {
                json!({"name": f.name, "kind": a.kind(), "report": f.report, "by": f.by, "grain": f.grain})
            }
            AnalysisDef::Profile(p) => json!({"name": p.name, "kind": a.kind(), "table": p.table}),
            AnalysisDef::Segments(s) => json!({"name": s.name, "kind": a.kind(), "table": s.table, "k": s.k}),
        })
        .collect();
    Ok(Json(json!({ "analyses": analyses })))
}

pub async fn get_results(
    State(state): State<ReportState>,
    Path(table): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<JsonValue>, ReportsError> {
    let batch = state.batch()?;
    let table = match table.as_str() {
        "forecast" => tables::FORECAST,
        "anomalies" => tables::ANOMALIES,
        "profile" => tables::PROFILE,
        "segments" => tables::SEGMENTS,
        other => {
            return Err(ReportsError::BadParameter {
                field: "table",
                message: format!("{other:?} is not a result: use forecast, anomalies, profile or segments"),
            })
        }
    };
    if let Some(name) = &params.analysis {
        if !batch.analyses.iter().any(|a| a.name() == name) {
            return Err(ReportsError::UnknownAnalysis(name.clone()));
        }
    }
    let limit = params.limit.unwrap_or(1_000).clamp(1, 20_000);
    let query = match (table, &params.analysis) {
        (tables::FORECAST, Some(name)) => tables::read_forecast(name, params.group.as_deref(), limit),
        (tables::FORECAST, None) => {
            let message = "a forecast is read one analysis at a time: add ?analysis=NAME".to_owned();
            return Err(ReportsError::BadParameter { field: "analysis", message });
        }
        (_, name) => tables::read(table, name.as_deref(), limit),
    };
    if !crate::has_table(batch.warehouse.as_ref(), table.name).await {
        return Ok(Json(json!({"results": [], "note": "analyze has not run yet: tidemark job run analyze"})));
    }
    let result = batch.warehouse.query(&query).await.map_err(|e| ReportsError::Report(ReportError::Warehouse(e)))?;
    Ok(Json(json!({ "results": crate::rows_as_json(&result) })))
}
