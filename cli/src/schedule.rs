//! The local scheduler: runs every job of [`Job::ALL`] at the pipeline file's cron times
//! (UTC), one job at a time, inside `tidemark up`. EventBridge does this in AWS.

use std::str::FromStr;

use chrono::Utc;
use croner::Cron;
use tidemark_core::batch::pipeline::Schedule;
use tidemark_core::job::{Job, JobOptions, Trigger};
use tokio::sync::watch;

use crate::batch::print_outcome;
use crate::jobs::{LocalJobs, LocalRunError};

/// A `[schedule]` entry croner cannot read; names its key.
#[derive(Debug, thiserror::Error)]
#[error("schedule.{key}: {source}")]
pub struct ScheduleError {
    pub key: &'static str,
    #[source]
    pub source: croner::errors::CronError,
}

fn crons(schedule: &Schedule) -> Result<Vec<(Job, Cron)>, ScheduleError> {
    Job::ALL
        .into_iter()
        .map(|job| {
            Cron::from_str(schedule.cron(job))
                .map(|cron| (job, cron))
                .map_err(|source| ScheduleError { key: job.schedule_key(), source })
        })
        .collect()
}

/// Checks every cron expression; the error names the `schedule.<key>`.
pub fn validate(schedule: &Schedule) -> Result<(), ScheduleError> {
    crons(schedule).map(|_| ())
}

/// Runs until `stop` turns true. A failed job is logged and tried again at its next
/// time; a job still running (started from the console) is skipped, with a log line.
pub async fn run(jobs: LocalJobs, mut stop: watch::Receiver<bool>) {
    let crons = match crons(&jobs.pipeline().schedule) {
        Ok(crons) => crons,
        Err(e) => return tracing::error!(error = %e, "the batch scheduler does not start"),
    };
    loop {
        let now = Utc::now();
        let next = crons.iter().filter_map(|(j, c)| c.find_next_occurrence(&now, false).ok().map(|t| (t, *j))).min();
        let Some((at, job)) = next else {
            tracing::warn!("no schedule has a next occurrence; the batch scheduler stops");
            return;
        };
        tracing::info!(%job, at = %at, "next batch job scheduled");
        let wait = (at - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        match jobs.run(job, &JobOptions::default(), Trigger::Schedule).await {
            Ok(outcome) => print_outcome(&outcome),
            Err(LocalRunError::Begin(e)) => tracing::warn!(%job, error = %e, "scheduled run skipped"),
            Err(e) => tracing::error!(%job, error = %e, "scheduled job failed"),
        }
    }
}
