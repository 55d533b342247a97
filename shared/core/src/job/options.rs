//! What a run of a job may be asked for, and each option's default: the same checks for
//! `tidemark job run`'s flags and a Lambda's scheduled event.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Job;

/// reconcile: how many days back from the tidemark it checks unless told.
pub const DEFAULT_LOOKBACK_DAYS: i64 = 7;

/// The options of one run; `None` takes the default. As JSON (the console's Run now,
/// the history) the fields are optional and unknown ones refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    /// One source (batch-extract), table (batch-load), report (reconcile) or analysis
    /// (analyze).
    pub only: Option<String>,
    /// realtime-compact: the UTC day to compact.
    pub day: Option<NaiveDate>,
    /// reconcile: days back from the tidemark, 1 to 366.
    pub lookback_days: Option<i64>,
}

/// An option the job does not take, or a value out of range: named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{job}: option {field}: {rule}")]
pub struct OptionError {
    pub job: Job,
    pub field: &'static str,
    pub rule: String,
}

impl JobOptions {
    /// Refuses what `job` does not take: a misspelt or misplaced option must not quietly
    /// run the whole job.
    pub fn check(&self, job: Job) -> Result<(), OptionError> {
        let refuse = |field, rule: String| Err(OptionError { job, field, rule });
        if self.only.is_some() && job.only_selects().is_none() {
            return refuse("only", "this job runs for the whole pipeline; it takes no `only`".into());
        }
        if let Some(only) = &self.only {
            if only.trim().is_empty() {
                return refuse("only", "must name a source, table, report or analysis".into());
            }
        }
        if self.day.is_some() && !job.takes_day() {
            return refuse("day", "only realtime-compact takes a day".into());
        }
        if let Some(days) = self.lookback_days {
            if !job.takes_lookback() {
                return refuse("lookback_days", "only reconcile takes a lookback".into());
            }
            if !(1..=366).contains(&days) {
                return refuse("lookback_days", format!("{days} is not a whole number of days from 1 to 366"));
            }
        }
        Ok(())
    }

    /// realtime-compact's day: the one asked for, or the day before the run was
    /// scheduled (the injected clock's now for a run started by hand), so that a retry
    /// or a late invocation compacts the same day.
    pub fn compact_day(&self, scheduled_at: DateTime<Utc>) -> NaiveDate {
        self.day.unwrap_or_else(|| (scheduled_at - Duration::days(1)).date_naive())
    }

    /// reconcile's lookback.
    pub fn lookback(&self) -> Duration {
        Duration::days(self.lookback_days.unwrap_or(DEFAULT_LOOKBACK_DAYS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn each_job_takes_only_its_own_options() {
        let only = JobOptions { only: Some("orders".into()), ..JobOptions::default() };
        for job in [Job::BatchExtract, Job::BatchLoad, Job::Reconcile] {
            assert_eq!(only.check(job), Ok(()));
        }
        assert_eq!(only.check(Job::ReportViews).map_err(|e| e.field), Err("only"));
        assert_eq!(only.check(Job::RealtimeCompact).map_err(|e| e.field), Err("only"));
        let a_day = JobOptions { day: Some(day("2026-11-20")), ..JobOptions::default() };
        assert_eq!(a_day.check(Job::RealtimeCompact), Ok(()));
        assert_eq!(a_day.check(Job::BatchLoad).map_err(|e| e.field), Err("day"));
        let lookback = |n| JobOptions { lookback_days: Some(n), ..JobOptions::default() };
        assert_eq!(lookback(30).check(Job::Reconcile), Ok(()));
        assert_eq!(lookback(0).check(Job::Reconcile).map_err(|e| e.field), Err("lookback_days"));
        assert_eq!(lookback(367).check(Job::Reconcile).map_err(|e| e.field), Err("lookback_days"));
        assert_eq!(lookback(3).check(Job::BatchExtract).map_err(|e| e.field), Err("lookback_days"));
    }

    #[test]
    fn the_defaults_follow_the_scheduled_time() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T00:10:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(JobOptions::default().compact_day(at), day("2026-11-28"));
        let asked = JobOptions { day: Some(day("2026-11-01")), ..JobOptions::default() };
        assert_eq!(asked.compact_day(at), day("2026-11-01"));
        assert_eq!(JobOptions::default().lookback(), Duration::days(DEFAULT_LOOKBACK_DAYS));
    }
}
