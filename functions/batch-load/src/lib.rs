//! batch-load: every table (or the one the event names) loaded from the extracted runs
//! through its transform rules, each in its own warehouse transaction; the watermark
//! moves only with the commit. Then the raw state that later loads read is compacted
//! before the bucket's lifecycle would expire it (`raw_retention`).

use std::sync::Arc;

use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, JobRequest, LogProgress};
use tidemark_core::batch::jobs::batch_load_job;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::Clock;
use tidemark_core::ports::{ObjectStore, Warehouse};

pub const JOB: &str = "batch-load";

pub struct Env {
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
    pub clock: Arc<dyn Clock>,
    pub raw_retention: RawRetention,
}

pub async fn handle(env: &Env, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    let progress = LogProgress::default();
    let only = request.only.as_deref();
    let summary = batch_load_job(
        &env.pipeline,
        only,
        env.store.as_ref(),
        env.warehouse.as_ref(),
        env.clock.as_ref(),
        &progress,
        env.raw_retention,
    )
    .await
    .map_err(|e| JobFailure::run(JOB, e))?;
    jobs::answer(JOB, &summary)
}
