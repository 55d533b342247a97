//! The local scheduler: runs batch-extract, batch-load, realtime-compact, reconcile and
//! report-views at the pipeline file's cron
//! times (UTC), one job at a time, inside `tidemark up`. EventBridge does this in AWS.

use std::str::FromStr;

use std::sync::Arc;

use chrono::{Duration, Utc};
use croner::Cron;
use tidemark_core::batch::pipeline::Schedule;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::SearchIndex;
use tokio::sync::watch;

use crate::batch::{print_batch_load, print_compact, print_extract, print_reconcile, BatchEnv};

fn parse_cron(expr: &str) -> Result<Cron, croner::errors::CronError> {
    Cron::from_str(expr)
}

/// Ordered so that at equal times the extract runs before the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Extract,
    Load,
    Compact,
    Reconcile,
    Views,
}

/// The real-time stores that reconcile, realtime-compact and report-views read.
#[derive(Clone)]
pub struct Realtime {
    pub kv: Arc<dyn KvStore>,
    pub index: Arc<dyn SearchIndex>,
    pub layout: KvLayout,
}

/// Every scheduled job with its `schedule.<key>` name and cron expression: one list for
/// the start-up check and the scheduler.
fn jobs(schedule: &Schedule) -> [(Job, &'static str, &str); 5] {
    [
        (Job::Extract, "batch_extract", &schedule.batch_extract),
        (Job::Load, "batch_load", &schedule.batch_load),
        (Job::Compact, "realtime_compact", &schedule.realtime_compact),
        (Job::Reconcile, "reconcile", &schedule.reconcile),
        (Job::Views, "report_views", &schedule.report_views),
    ]
}

/// Checks every cron expression; the error names the `schedule.<key>`.
pub fn validate(schedule: &Schedule) -> Result<(), String> {
    for (_, key, expr) in jobs(schedule) {
        parse_cron(expr).map_err(|e| format!("schedule.{key}: {e}"))?;
    }
    Ok(())
}

/// Runs until `stop` turns true. A failed job is logged and tried again at its next time.
pub async fn run(env: BatchEnv, realtime: Realtime, mut stop: watch::Receiver<bool>) {
    let crons: Vec<(Job, Cron)> =
        jobs(&env.pipeline.schedule).iter().filter_map(|(j, _, e)| parse_cron(e).ok().map(|c| (*j, c))).collect();
    loop {
        let now = Utc::now();
        let next = crons.iter().filter_map(|(j, c)| c.find_next_occurrence(&now, false).ok().map(|t| (t, *j))).min();
        let Some((at, job)) = next else {
            tracing::warn!("no schedule has a next occurrence; the batch scheduler stops");
            return;
        };
        tracing::info!(job = ?job, at = %at, "next batch job scheduled");
        let wait = (at - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        match job {
            Job::Extract => match env.extract(None).await {
                Ok(s) => print_extract(&s),
                Err(e) => tracing::error!(error = %e, "scheduled batch-extract failed"),
            },
            Job::Load => match env.load(None).await {
                Ok(s) => print_batch_load(&s),
                Err(e) => tracing::error!(error = %e, "scheduled batch-load failed"),
            },
            Job::Views => match env.refresh_views(realtime.index.as_ref()).await {
                Ok(v) => tracing::info!(views = v.len(), "report views refreshed"),
                Err(e) => tracing::error!(error = %e, "scheduled report-views failed"),
            },
            Job::Compact => {
                match env.compact(realtime.kv.as_ref(), &realtime.layout, crate::batch::yesterday()).await {
                    Ok(s) => print_compact(&s),
                    Err(e) => tracing::error!(error = %e, "scheduled realtime-compact failed"),
                }
            }
            Job::Reconcile => {
                match env.reconcile(realtime.kv.as_ref(), &realtime.layout, None, Duration::days(7)).await {
                    Ok(s) => print_reconcile(&s),
                    Err(e) => tracing::error!(error = %e, "scheduled reconcile failed"),
                }
            }
        }
    }
}
