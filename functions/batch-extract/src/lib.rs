//! batch-extract: every primary source (or the one the event names) pulled into the
//! interim store, unchanged, from where its last run stopped: databases through their
//! connectors, file sources from S3.

use std::sync::Arc;

use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, JobRequest, LogProgress};
use tidemark_core::batch::jobs::{batch_extract, SourceFactory};
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::Clock;
use tidemark_core::ports::ObjectStore;

pub const JOB: &str = "batch-extract";

pub struct Env {
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<dyn ObjectStore>,
    pub sources: Arc<dyn SourceFactory>,
    pub clock: Arc<dyn Clock>,
}

pub async fn handle(env: &Env, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    let progress = LogProgress::default();
    let only = request.only.as_deref();
    let summaries =
        batch_extract(&env.pipeline, only, env.sources.as_ref(), env.store.as_ref(), env.clock.as_ref(), &progress)
            .await
            .map_err(|e| JobFailure::run(JOB, e))?;
    jobs::answer(JOB, &summaries)
}
