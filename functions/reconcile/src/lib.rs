//! reconcile: every report's (or the one the event names) buckets compared between real
//! time (the key-value store) and batch (the warehouse) for `lookback_days` back from
//! the tidemark (default 7, as the local scheduler), the results stored in the warehouse.

use std::sync::Arc;

use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, JobRequest};
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::Clock;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::Warehouse;
use tidemark_core::reconcile::Reconciler;

pub const JOB: &str = "reconcile";
pub const DEFAULT_LOOKBACK_DAYS: i64 = 7;

pub struct Env {
    pub pipeline: Arc<Pipeline>,
    pub warehouse: Arc<dyn Warehouse>,
    pub kv: Arc<dyn KvStore>,
    pub layout: KvLayout,
    pub clock: Arc<dyn Clock>,
}

pub async fn handle(env: &Env, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    let reconciler = Reconciler {
        pipeline: &env.pipeline,
        warehouse: env.warehouse.as_ref(),
        kv: env.kv.as_ref(),
        layout: &env.layout,
        clock: env.clock.as_ref(),
        lookback: chrono::Duration::days(request.lookback_days.unwrap_or(DEFAULT_LOOKBACK_DAYS)),
    };
    let summaries = reconciler.run(request.only.as_deref()).await.map_err(|e| JobFailure::run(JOB, e))?;
    jobs::answer(JOB, &summaries)
}
