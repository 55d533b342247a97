//! `GET /v1/reports` (the declared reports) and `GET /v1/reports/{name}`: a report
//! merged at the tidemark.
//!
//! Parameters: `from`, `to` (RFC 3339; default the last 24 hours), `interval`
//! (minute | hour | day, or 1m | 1h | 1d; default hour), `by` (a dimension of the
//! report), `format` (json | csv; default json).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use tidemark_core::bucket::Interval;
use tidemark_core::report::{self, ReportError, ReportQuery};

use crate::{parse_time, ReportState};

#[derive(Debug, Deserialize)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    by: Option<String>,
    format: Option<String>,
}

/// Why a report was not answered; each variant decides its status.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// No pipeline file: the text says how this deployment gets one.
    #[error("{0}")]
    NoPipeline(std::sync::Arc<str>),
    #[error("no report named {0:?}")]
    Unknown(String),
    #[error("no analysis named {0:?}")]
    UnknownAnalysis(String),
    #[error("{message}")]
    BadParameter { field: &'static str, message: String },
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl IntoResponse for ReportsError {
    fn into_response(self) -> Response {
        let status = match &self {
            ReportsError::NoPipeline(_) | ReportsError::Unknown(_) | ReportsError::UnknownAnalysis(_) => {
                StatusCode::NOT_FOUND
            }
            ReportsError::BadParameter { .. } | ReportsError::Report(ReportError::BadRequest { .. }) => {
                StatusCode::BAD_REQUEST
            }
            ReportsError::Report(ReportError::Search(error)) if error.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
            ReportsError::Report(ReportError::Warehouse(
                tidemark_core::ports::warehouse::WarehouseError::Unavailable(_),
            )) => StatusCode::SERVICE_UNAVAILABLE,
            ReportsError::Report(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let field = match &self {
            ReportsError::BadParameter { field, .. } | ReportsError::Report(ReportError::BadRequest { field, .. }) => {
                Some(*field)
            }
            _ => None,
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "report failed");
        }
        (status, Json(json!({"error": self.to_string(), "field": field}))).into_response()
    }
}

/// The declared reports; with no pipeline file, none, and how to add one.
pub async fn list_reports(State(state): State<ReportState>) -> Result<Json<serde_json::Value>, ReportsError> {
    let Some(batch) = state.batch.as_ref() else {
        return Ok(Json(json!({ "reports": [], "note": &*state.no_pipeline })));
    };
    let reports: Vec<serde_json::Value> = batch
        .reports
        .iter()
        .map(|r| json!({"name": r.name, "title": r.title(), "measure": r.measure, "dimensions": r.dimensions().collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({ "reports": reports })))
}

pub async fn get_report(
    State(state): State<ReportState>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ReportsError> {
    let batch = state.batch()?;
    let def = batch.reports.iter().find(|r| r.name == name).ok_or(ReportsError::Unknown(name))?;
    let bad = |field: &'static str, message: String| ReportsError::BadParameter { field, message };
    let interval =
        params.interval.as_deref().unwrap_or("hour").parse::<Interval>().map_err(|message| bad("interval", message))?;
    let to = parse_time("to", params.to.as_deref(), state.clock.now()).map_err(|(f, m)| bad(f, m))?;
    let from = parse_time("from", params.from.as_deref(), to - Duration::hours(24)).map_err(|(f, m)| bad(f, m))?;
    let csv = match params.format.as_deref() {
        None | Some("" | "json") => false,
        Some("csv") => true,
        Some(other) => return Err(bad("format", format!("unknown format {other:?}; use json or csv"))),
    };
    let query = ReportQuery { interval, from, to, by: params.by.filter(|by| !by.is_empty()) };
    let answer = report::run_report(def, &query, batch.warehouse.as_ref(), state.index.as_ref()).await?;
    if csv {
        let body = report::to_csv(&answer.points).map_err(|e| ReportsError::Report(ReportError::Csv(e)))?;
        let disposition = format!("inline; filename=\"{}-{}.csv\"", answer.report, stamp(answer.from));
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
            body,
        )
            .into_response());
    }
    Ok(Json(answer).into_response())
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M").to_string()
}
