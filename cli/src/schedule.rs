//! The local scheduler: runs batch-extract and batch-load at the pipeline file's cron
//! times (UTC), one job at a time, inside `tidemark up`. EventBridge does this in AWS.

use std::str::FromStr;

use chrono::Utc;
use croner::Cron;
use tokio::sync::watch;

use crate::batch::{print_extract, print_load, BatchEnv};

pub fn parse_cron(expr: &str) -> Result<Cron, croner::errors::CronError> {
    Cron::from_str(expr)
}

/// Ordered so that at equal times the extract runs before the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Extract,
    Load,
}

/// Runs until `stop` turns true. A failed job is logged and tried again at its next time.
pub async fn run(env: BatchEnv, mut stop: watch::Receiver<bool>) {
    let crons = [(Job::Extract, &env.pipeline.schedule.batch_extract), (Job::Load, &env.pipeline.schedule.batch_load)];
    let crons: Vec<(Job, Cron)> = crons.iter().filter_map(|(j, e)| parse_cron(e).ok().map(|c| (*j, c))).collect();
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
                Ok(s) => print_load(&s),
                Err(e) => tracing::error!(error = %e, "scheduled batch-load failed"),
            },
        }
    }
}
