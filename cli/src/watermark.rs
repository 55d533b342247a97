//! Moving a source's watermarks to a chosen time, backwards too (after a source's clock
//! ran ahead, or to have real time answer a period again): `tidemark watermark reset
//! --source S --to T [--table X]` on a data directory no `tidemark up` holds, and
//! `POST /v1/watermarks/{source}/reset` (`{"to": T, "table": X}`) on the read side of a
//! running one, which the console's Reset button calls after a confirmation. Each
//! change is printed or answered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tidemark_core::batch::sql;
use tidemark_core::event::millis_rfc3339;
use tidemark_core::ports::{Step, Warehouse, WarehouseError, Watermark};

use crate::batch::BatchEnv;

#[derive(Debug, Clone, clap::Args)]
pub struct ResetArgs {
    /// The pipeline file.
    #[arg(long, env = "TIDEMARK_PIPELINE", default_value = "./tidemark.toml")]
    pub pipeline: std::path::PathBuf,
    /// Where the warehouse lives.
    #[arg(long, env = "TIDEMARK_DATA_DIR", default_value = "./tidemark-data")]
    pub data_dir: std::path::PathBuf,
    /// The source whose watermarks move.
    #[arg(long)]
    pub source: String,
    /// Only the watermark of this table (default: every table the source feeds).
    #[arg(long)]
    pub table: Option<String>,
    /// The new high-water mark, RFC 3339 (`2026-11-30T00:00:00Z`).
    #[arg(long)]
    pub to: DateTime<Utc>,
}

/// One reset: which source (and table), to when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    #[serde(skip)]
    pub source: String,
    pub table: Option<String>,
    pub to: DateTime<Utc>,
}

/// One watermark a reset moved.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    pub source: String,
    pub table: String,
    #[serde(with = "millis_rfc3339::option")]
    pub from: Option<DateTime<Utc>>,
    #[serde(with = "millis_rfc3339")]
    pub to: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("{0:?} is not a source of the pipeline file")]
    UnknownSource(String),
    #[error("{0:?} is not a table of the pipeline file")]
    UnknownTable(String),
    #[error("the warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
}

impl IntoResponse for ResetError {
    fn into_response(self) -> Response {
        let (status, field) = match &self {
            ResetError::UnknownSource(_) => (StatusCode::NOT_FOUND, Some("source")),
            ResetError::UnknownTable(_) => (StatusCode::BAD_REQUEST, Some("table")),
            ResetError::Warehouse(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
        };
        (status, Json(json!({ "error": self.to_string(), "field": field }))).into_response()
    }
}

/// The watermark rows a reset changes.
fn affected<'a>(marks: &'a [Watermark], reset: &Reset) -> Vec<&'a Watermark> {
    marks.iter().filter(|m| m.source == reset.source && reset.table.as_ref().is_none_or(|t| &m.table == t)).collect()
}

/// Moves the watermarks `reset` names; nothing is reloaded, and reports follow the new
/// tidemark at once. Names are checked against the pipeline file before any SQL.
pub async fn reset_in(env: &BatchEnv, reset: &Reset) -> Result<Vec<Moved>, ResetError> {
    if env.pipeline.source(&reset.source).is_none() {
        return Err(ResetError::UnknownSource(reset.source.clone()));
    }
    if let Some(table) = &reset.table {
        if env.pipeline.table(table).is_none() {
            return Err(ResetError::UnknownTable(table.clone()));
        }
    }
    let before = env.warehouse.watermarks().await?;
    let changes = affected(&before, reset);
    if !changes.is_empty() {
        let statement = sql::reset_watermark(&reset.source, reset.table.as_deref(), reset.to);
        env.warehouse.execute(vec![Step::Sql(statement)]).await?;
    }
    Ok(changes
        .into_iter()
        .map(|m| Moved { source: m.source.clone(), table: m.table.clone(), from: m.high_water, to: reset.to })
        .collect())
}

pub fn router<S>(env: BatchEnv) -> Router<S> {
    Router::new().route("/v1/watermarks/{source}/reset", post(reset_route)).with_state(env)
}

async fn reset_route(
    State(env): State<BatchEnv>,
    Path(source): Path<String>,
    Json(mut reset): Json<Reset>,
) -> Result<Json<serde_json::Value>, ResetError> {
    reset.source = source;
    let moved = reset_in(&env, &reset).await?;
    tracing::warn!(source = %reset.source, to = %reset.to, moved = moved.len(), "watermark reset over HTTP");
    Ok(Json(json!({ "moved": moved })))
}

pub async fn reset(args: &ResetArgs) -> anyhow::Result<()> {
    let env = BatchEnv::open(&args.pipeline, &args.data_dir)?;
    let reset = Reset { source: args.source.clone(), table: args.table.clone(), to: args.to };
    let moved = reset_in(&env, &reset).await.map_err(|e| anyhow::anyhow!("{e} ({})", args.pipeline.display()))?;
    if moved.is_empty() {
        println!("no watermark of source {} to reset: nothing was loaded from it yet", args.source);
    }
    let format = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    for mark in moved {
        println!(
            "watermark {}/{}: {} -> {} (nothing reloaded; reports follow the new tidemark at once)",
            mark.source,
            mark.table,
            format(mark.from),
            format(Some(mark.to))
        );
    }
    Ok(())
}
