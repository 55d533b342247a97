//! Write keys as the console manages them: `GET /v1/write-keys` (the keys made here,
//! active and revoked, and how many keys the configuration sets per source),
//! `POST /v1/write-keys` (`{"source": "app", "label": "ios"}`: `201` with the key, shown
//! this once) and `DELETE /v1/write-keys/{id}` (revoke).
//!
//! The keys live in the [`KeyRegistry`]; where ingest runs in this process (locally) it
//! takes the new set at once, elsewhere (the beacon function on AWS) at its next
//! refresh, within a minute.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use tidemark_core::ingest::{Ingestor, WriteKeys};
use tidemark_core::key_registry::{KeyError, KeyRegistry};

use crate::ReportState;

#[derive(Clone)]
pub struct KeysConsole {
    pub registry: KeyRegistry,
    /// The keys the deployment's configuration sets: listed by source, never revoked here.
    pub configured: Arc<WriteKeys>,
    /// Ingest in this process, which takes a change at once; `None` on AWS.
    pub ingestor: Option<Arc<Ingestor>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("write keys are not managed by this deployment")]
    NotHere,
    #[error("body: {0}")]
    Body(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl IntoResponse for KeysError {
    fn into_response(self) -> Response {
        let (status, field) = match &self {
            KeysError::NotHere | KeysError::Key(KeyError::Unknown(_)) => (StatusCode::NOT_FOUND, None),
            KeysError::Body(_) => (StatusCode::BAD_REQUEST, None),
            KeysError::Key(KeyError::BadSource(_)) => (StatusCode::BAD_REQUEST, Some("source")),
            KeysError::Key(KeyError::BadLabel) => (StatusCode::BAD_REQUEST, Some("label")),
            KeysError::Key(KeyError::TooMany) => (StatusCode::CONFLICT, None),
            KeysError::Key(KeyError::Store(_)) => (StatusCode::SERVICE_UNAVAILABLE, None),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "write-key route failed");
        }
        (status, Json(json!({"error": self.to_string(), "field": field}))).into_response()
    }
}

impl ReportState {
    fn keys(&self) -> Result<&KeysConsole, KeysError> {
        self.keys.as_ref().ok_or(KeysError::NotHere)
    }
}

impl KeysConsole {
    /// Hands ingest in this process the keys valid from now on.
    async fn apply(&self) -> Result<(), KeysError> {
        if let Some(ingestor) = &self.ingestor {
            ingestor.replace_write_keys(self.registry.effective(&self.configured).await?);
        }
        Ok(())
    }
}

pub async fn list_keys(State(state): State<ReportState>) -> Result<Json<JsonValue>, KeysError> {
    let console = state.keys()?;
    let configured: Vec<JsonValue> = console
        .configured
        .per_source()
        .into_iter()
        .map(|(source, keys)| json!({"source": source, "keys": keys}))
        .collect();
    Ok(Json(json!({"keys": console.registry.list().await?, "configured": configured})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    source: String,
    label: Option<String>,
}

pub async fn create_key(
    State(state): State<ReportState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<JsonValue>), KeysError> {
    let console = state.keys()?;
    let body: NewKeyBody = serde_json::from_slice(&body).map_err(|e| KeysError::Body(e.to_string()))?;
    let made = console.registry.create(&body.source, body.label.as_deref()).await?;
    console.apply().await?;
    tracing::info!(id = %made.key.id, source = %made.key.source, "write key created");
    Ok((StatusCode::CREATED, Json(json!(made))))
}

pub async fn revoke_key(
    State(state): State<ReportState>,
    Path(id): Path<String>,
) -> Result<Json<JsonValue>, KeysError> {
    let console = state.keys()?;
    let revoked = console.registry.revoke(&id).await?;
    console.apply().await?;
    tracing::info!(id = %revoked.id, source = %revoked.source, "write key revoked");
    Ok(Json(json!(revoked)))
}
