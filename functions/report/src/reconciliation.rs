//! `GET /v1/reconciliation?report=R&limit=N`: the latest reconciliation results,
//! disagreeing buckets first, each with the line a person reads; and
//! `GET /v1/reconciliation/{report}/keys?bucket=T&group=G`: the keys behind one bucket's
//! counts, which orders real time missed, which batch lacks, which differ in value.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::reconcile::compare::DRILL_KEYS;
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

#[derive(Debug, Deserialize)]
pub struct KeyParams {
    bucket: Option<String>,
    group: Option<String>,
    limit: Option<usize>,
}

pub async fn get_keys(
    State(state): State<ReportState>,
    Path(report): Path<String>,
    Query(params): Query<KeyParams>,
) -> Result<Json<JsonValue>, ReportsError> {
    let batch = state.batch()?;
    if !batch.reports.iter().any(|r| r.name == report) {
        return Err(ReportsError::Unknown(report));
    }
    let Some(bucket) = params.bucket.as_deref().filter(|b| !b.is_empty()) else {
        return Err(ReportsError::BadParameter {
            field: "bucket",
            message: "bucket is required: the bucket's start, RFC 3339".into(),
        });
    };
    let bucket = parse_bucket(bucket)?;
    let limit = params.limit.unwrap_or(DRILL_KEYS).clamp(1, DRILL_KEYS);
    if !crate::has_table(batch.warehouse.as_ref(), sql::KEYS_TABLE).await {
        return Ok(Json(json!({"report": report, "keys": [], "note": "reconcile has not run yet"})));
    }
    let group = params.group.as_deref().filter(|g| !g.is_empty());
    let result = batch
        .warehouse
        .query(&sql::keys(&report, bucket, group, limit))
        .await
        .map_err(|e| ReportsError::Report(ReportError::Warehouse(e)))?;
    Ok(Json(json!({
        "report": report,
        "bucket": bucket.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "group": group,
        "keys": crate::rows_as_json(&result),
        "kept": format!("up to {DRILL_KEYS} keys per bucket, for {} days", sql::KEYS_KEPT.num_days()),
    })))
}

/// The bucket's start as RFC 3339, or as `/v1/reconciliation` prints it
/// (`2026-11-24 11:00:00.000000`, UTC), so that a result's bucket can be passed back.
fn parse_bucket(text: &str) -> Result<chrono::DateTime<chrono::Utc>, ReportsError> {
    let printed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc());
    printed.or_else(|_| {
        crate::parse_time("bucket", Some(text), chrono::Utc::now())
            .map_err(|(field, message)| ReportsError::BadParameter { field, message })
    })
}
