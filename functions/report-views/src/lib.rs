//! report-views: every report's BI view in the warehouse (re)created, and its
//! real-time rollup from the tidemark on replaced from the search index, so that
//! QuickSight (or any SQL client) reads batch and real time merged from one view.

use std::sync::Arc;

use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, JobRequest};
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::Clock;
use tidemark_core::ports::{SearchIndex, Warehouse};
use tidemark_core::report::views;

pub const JOB: &str = "report-views";

pub struct Env {
    pub pipeline: Arc<Pipeline>,
    pub warehouse: Arc<dyn Warehouse>,
    pub index: Arc<dyn SearchIndex>,
    pub clock: Arc<dyn Clock>,
}

pub async fn handle(env: &Env, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    if let Some(only) = &request.only {
        return Err(JobFailure::run(JOB, format!("refreshes every report's view; `only` ({only:?}) is not taken")));
    }
    let refreshed = views::refresh(&env.pipeline, env.warehouse.as_ref(), env.index.as_ref(), env.clock.as_ref())
        .await
        .map_err(|e| JobFailure::run(JOB, e))?;
    jobs::answer(JOB, &refreshed)
}
