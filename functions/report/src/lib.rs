//! report: the read side over HTTP. Live aggregations answered by the search index
//! (`GET /v1/realtime`), and reports merged at the tidemark from the warehouse and the
//! index (`GET /v1/reports/{name}`).

pub mod admin;
mod analysis;
pub mod jobs;
#[cfg(feature = "lambda")]
pub mod on_aws;
mod quarantine;
mod realtime;
mod reconciliation;
mod reports;
mod watermarks;
pub mod write_keys;

use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tidemark_core::analysis::AnalysisDef;
use tidemark_core::clock::Clock;
use tidemark_core::ports::search::SearchIndex;
use tidemark_core::ports::warehouse::Warehouse;
use tidemark_core::ports::ObjectStore;
use tidemark_core::report::ReportDef;

pub use reports::ReportsError;

#[derive(Clone)]
pub struct ReportState {
    pub index: Arc<dyn SearchIndex>,
    pub clock: Arc<dyn Clock>,
    /// The warehouse side, when a pipeline file declares reports.
    pub batch: Option<BatchReports>,
    /// What to tell a reader when there is no pipeline file: how this deployment gets
    /// one (a flag locally, an object in the bucket on AWS).
    pub no_pipeline: Arc<str>,
    /// The job history and Run now, where this deployment has them.
    pub jobs: Option<jobs::JobsConsole>,
    /// Write keys made and revoked in the console, where this deployment has them.
    pub keys: Option<write_keys::KeysConsole>,
}

impl ReportState {
    /// The warehouse side, or the answer that says how to add a pipeline file.
    fn batch(&self) -> Result<&BatchReports, ReportsError> {
        self.batch.as_ref().ok_or_else(|| ReportsError::NoPipeline(Arc::clone(&self.no_pipeline)))
    }
}

#[derive(Clone)]
pub struct BatchReports {
    pub reports: Arc<Vec<ReportDef>>,
    pub analyses: Arc<Vec<AnalysisDef>>,
    pub warehouse: Arc<dyn Warehouse>,
    /// The interim store, for the quarantined rows; `None` where this deployment does
    /// not read it.
    pub interim: Option<Arc<dyn ObjectStore>>,
}

/// The dashboard: one self-contained page (inline SVG chart, no build step) that polls
/// the report, stats, watermark and reconciliation routes.
const DASHBOARD: &str = include_str!("dashboard.html");

/// The console: one self-contained page (no build step) over the same routes, where an
/// operator sees every part of the pipeline, runs a job and repairs what went wrong.
const CONSOLE: &str = include_str!("console.html");

pub fn router(state: ReportState) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Html(DASHBOARD) }))
        .route("/v1/realtime", get(realtime::get_realtime))
        .route("/v1/reports", get(reports::list_reports))
        .route("/v1/reports/{name}", get(reports::get_report))
        .route("/v1/reconciliation", get(reconciliation::get_reconciliation))
        .route("/v1/reconciliation/{report}/keys", get(reconciliation::get_keys))
        .route("/v1/watermarks", get(watermarks::get_watermarks))
        .route("/v1/analysis", get(analysis::list_analyses))
        .route("/v1/analysis/{table}", get(analysis::get_results))
        .route("/console", get(|| async { axum::response::Html(CONSOLE) }))
        .route("/v1/quarantine", get(quarantine::list_quarantine))
        .route("/v1/quarantine/{table}", get(quarantine::get_quarantine))
        .route("/v1/jobs", get(jobs::list_jobs))
        .route("/v1/jobs/{job}/runs", get(jobs::list_runs).post(jobs::start_run))
        .route("/v1/jobs/{job}/runs/{id}", get(jobs::get_run))
        .route("/v1/write-keys", get(write_keys::list_keys).post(write_keys::create_key))
        .route("/v1/write-keys/{id}", axum::routing::delete(write_keys::revoke_key))
        .with_state(state)
}

/// The read side for people in a browser on AWS: the same routes under `/ui/`, behind
/// the admin tokens (API Gateway leaves `/ui/` unsigned; IAM keeps guarding `/v1/`).
/// The dashboard asks relative URLs, so under `/ui/` it reads `/ui/v1/...`.
pub fn browser_router(state: ReportState, guard: admin::AdminGuard) -> Router {
    browser_routes(router(state), guard)
}

/// `app` under `/ui/`, behind the admin tokens.
fn browser_routes(app: Router, guard: admin::AdminGuard) -> Router {
    let ui = guard.protect(app);
    Router::new().route("/ui", get(|| async { axum::response::Redirect::permanent("/ui/") })).nest_service("/ui/", ui)
}

/// What the report function answers behind API Gateway: the routes for programs (the
/// gateway checks their IAM signature) and, under `/ui/`, the same routes for people.
/// `more` are routes only this deployment has (the console's AWS side).
pub fn lambda_router(state: ReportState, more: Router, guard: admin::AdminGuard) -> Router {
    let app = router(state).merge(more);
    app.clone().merge(browser_routes(app, guard))
}

/// Whether the warehouse has `table` yet: the result routes answer "not run yet"
/// rather than a SQL error before the job that creates it first ran. The name is bound.
async fn has_table(warehouse: &dyn Warehouse, table: &str) -> bool {
    let query = tidemark_core::ports::Query::with_params(
        "SELECT table_name FROM information_schema.tables WHERE table_name = $1",
        vec![table.to_owned()],
    );
    let answer = warehouse.query(&query).await;
    answer.is_ok_and(|t| {
        t.rows.iter().any(|r| matches!(r.first(), Some(tidemark_core::batch::Value::Str(n)) if &**n == table))
    })
}

/// A warehouse answer as JSON objects, one per row, keyed by column name.
fn rows_as_json(result: &tidemark_core::ports::QueryResult) -> Vec<serde_json::Value> {
    result
        .rows
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, serde_json::Value> =
                result.columns.iter().zip(row).map(|(name, value)| (name.clone(), value.to_json())).collect();
            serde_json::Value::Object(object)
        })
        .collect()
}

/// An RFC 3339 time parameter, or `default` when absent; the error names the field.
pub fn parse_time(
    field: &'static str,
    text: Option<&str>,
    default: DateTime<Utc>,
) -> Result<DateTime<Utc>, (&'static str, String)> {
    match text {
        None | Some("") => Ok(default),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| (field, format!("{field} must be RFC 3339, e.g. 2026-11-25T13:00:00Z"))),
    }
}
