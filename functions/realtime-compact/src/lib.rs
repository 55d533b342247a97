//! realtime-compact: a closed day's real-time events (by default the day before the
//! schedule fired) read from the key-value store, written as a run of the realtime
//! source and loaded through the same rules as batch data. Running it again for the
//! same day replaces that day.

use std::sync::Arc;

use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, JobRequest, LogProgress};
use tidemark_core::batch::Pipeline;
use tidemark_core::clock::Clock;
use tidemark_core::compact::Compactor;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::{ObjectStore, Warehouse};

pub const JOB: &str = "realtime-compact";

pub struct Env {
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
    pub kv: Arc<dyn KvStore>,
    pub layout: KvLayout,
    pub clock: Arc<dyn Clock>,
}

pub async fn handle(env: &Env, payload: &Value) -> Result<Value, JobFailure> {
    let request = JobRequest::parse(payload, env.clock.now())?;
    let progress = LogProgress::default();
    let compactor = Compactor {
        pipeline: &env.pipeline,
        store: env.store.as_ref(),
        warehouse: env.warehouse.as_ref(),
        kv: env.kv.as_ref(),
        layout: &env.layout,
        clock: env.clock.as_ref(),
        progress: &progress,
    };
    let summaries = compactor.run(request.compact_day()).await.map_err(|e| JobFailure::run(JOB, e))?;
    jobs::answer(JOB, &summaries)
}
