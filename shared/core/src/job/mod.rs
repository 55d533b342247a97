//! The scheduled jobs, defined once: each job's name, its `[schedule]` key and default
//! cron, the options it takes, the ports it needs and the template function that runs
//! it on AWS. `tidemark job run`, the local scheduler in `tidemark up` and every job
//! Lambda name, check and run a job through this module ([`run`]).

mod cron;
pub mod history;
mod launch;
mod live;
mod options;
mod run;

pub use cron::{eventbridge_expression, CronError};
pub use history::{BeginError, JobRun, RunHistory, RunStatus, Trigger};
pub use launch::{JobLauncher, LaunchError};
pub use live::{LiveProgress, ProgressSnapshot};
pub use options::{JobOptions, OptionError, DEFAULT_LOOKBACK_DAYS};
pub use run::{run, run_recorded, JobOutcome, JobPorts, JobRunError, RealtimePorts};

/// A scheduled job. Ordered so that at equal times the extract runs before the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Job {
    BatchExtract,
    BatchLoad,
    RealtimeCompact,
    Reconcile,
    ReportViews,
    Analyze,
}

/// A store a job reads or writes; a deployment gives each job the ones it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The sources' connectors (databases, files).
    Sources,
    /// The interim store of raw extract runs.
    Interim,
    Warehouse,
    /// The real-time key-value store and its key layout.
    Kv,
    /// The real-time search index.
    Index,
}

impl Port {
    pub const fn name(self) -> &'static str {
        match self {
            Port::Sources => "the sources",
            Port::Interim => "the interim store",
            Port::Warehouse => "the warehouse",
            Port::Kv => "the key-value store",
            Port::Index => "the search index",
        }
    }
}

impl Job {
    pub const ALL: [Job; 6] =
        [Job::BatchExtract, Job::BatchLoad, Job::RealtimeCompact, Job::Reconcile, Job::ReportViews, Job::Analyze];

    /// The name on the command line, in logs and in the function's name.
    pub const fn name(self) -> &'static str {
        match self {
            Job::BatchExtract => "batch-extract",
            Job::BatchLoad => "batch-load",
            Job::RealtimeCompact => "realtime-compact",
            Job::Reconcile => "reconcile",
            Job::ReportViews => "report-views",
            Job::Analyze => "analyze",
        }
    }

    /// One line of what it does, for `--help` and the console.
    pub const fn summary(self) -> &'static str {
        match self {
            Job::BatchExtract => "Pull every source (or --source) into the interim store",
            Job::BatchLoad => "Transform and load every table (or --table) into the warehouse",
            Job::RealtimeCompact => {
                "Move a closed day (--day, default yesterday) of real-time events into the warehouse"
            }
            Job::Reconcile => "Compare real time with batch for every bucket batch covers (or --report)",
            Job::ReportViews => "Recreate each report's BI view and refresh its real-time rollup",
            Job::Analyze => "Run every analysis (or --only): forecasts, anomalies, profiles, segments",
        }
    }

    pub fn from_name(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }

    /// Its key under the pipeline file's `[schedule]`.
    pub const fn schedule_key(self) -> &'static str {
        match self {
            Job::BatchExtract => "batch_extract",
            Job::BatchLoad => "batch_load",
            Job::RealtimeCompact => "realtime_compact",
            Job::Reconcile => "reconcile",
            Job::ReportViews => "report_views",
            Job::Analyze => "analyze",
        }
    }

    /// When it runs unless `[schedule]` says otherwise (`sec min hour day month weekday`,
    /// UTC): extract at 02:00, load at 02:15, realtime-compact at 02:30 (after the load,
    /// so that its joins see the night's batch), reconcile at 02:45 (after both), and
    /// report-views every five minutes (the BI views' real-time rollups stay about as
    /// fresh as a dashboard poll), and analyze every quarter hour (an hour that goes
    /// wrong is flagged within about fifteen minutes of its end).
    pub const fn default_cron(self) -> &'static str {
        match self {
            Job::BatchExtract => "0 0 2 * * *",
            Job::BatchLoad => "0 15 2 * * *",
            Job::RealtimeCompact => "0 30 2 * * *",
            Job::Reconcile => "0 45 2 * * *",
            Job::ReportViews => "0 */5 * * * *",
            Job::Analyze => "0 */15 * * * *",
        }
    }

    /// What `only` selects for this job, if it takes one: a source, a table or a report.
    pub const fn only_selects(self) -> Option<&'static str> {
        match self {
            Job::BatchExtract => Some("source"),
            Job::BatchLoad => Some("table"),
            Job::Reconcile => Some("report"),
            Job::Analyze => Some("analysis"),
            Job::RealtimeCompact | Job::ReportViews => None,
        }
    }

    pub const fn takes_day(self) -> bool {
        matches!(self, Job::RealtimeCompact)
    }

    pub const fn takes_lookback(self) -> bool {
        matches!(self, Job::Reconcile)
    }

    /// The stores it needs; a deployment opens these and no others.
    pub fn ports(self) -> &'static [Port] {
        match self {
            Job::BatchExtract => &[Port::Sources, Port::Interim],
            Job::BatchLoad => &[Port::Interim, Port::Warehouse],
            Job::RealtimeCompact => &[Port::Interim, Port::Warehouse, Port::Kv],
            Job::Reconcile => &[Port::Warehouse, Port::Kv],
            Job::ReportViews | Job::Analyze => &[Port::Warehouse, Port::Index],
        }
    }

    pub fn needs(self, port: Port) -> bool {
        self.ports().contains(&port)
    }

    /// The template's logical id of the function that runs it on AWS.
    pub const fn function(self) -> &'static str {
        match self {
            Job::BatchExtract => "BatchExtractFunction",
            Job::BatchLoad => "BatchLoadFunction",
            Job::RealtimeCompact => "RealtimeCompactFunction",
            Job::Reconcile => "ReconcileFunction",
            Job::ReportViews => "ReportViewsFunction",
            Job::Analyze => "AnalyzeFunction",
        }
    }

    /// The template parameter holding its EventBridge schedule expression.
    pub const fn schedule_parameter(self) -> &'static str {
        match self {
            Job::BatchExtract => "BatchExtractSchedule",
            Job::BatchLoad => "BatchLoadSchedule",
            Job::RealtimeCompact => "RealtimeCompactSchedule",
            Job::Reconcile => "ReconcileSchedule",
            Job::ReportViews => "ReportViewsSchedule",
            Job::Analyze => "AnalyzeSchedule",
        }
    }
}

/// A job is written as its name (`"batch-load"`) in the history and the HTTP API.
impl serde::Serialize for Job {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Job {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Job::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("no job is called {name:?}")))
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_has_one_name_and_one_key() {
        for job in Job::ALL {
            assert_eq!(Job::from_name(job.name()), Some(job));
            assert_eq!(job.schedule_key(), job.name().replace('-', "_"));
            assert!(job.function().starts_with(&job.schedule_parameter().replace("Schedule", "")));
        }
        assert_eq!(Job::from_name("views"), None);
    }

    #[test]
    fn a_pipeline_without_a_schedule_runs_every_job_at_its_default() {
        let pipeline = crate::batch::Pipeline::parse("").unwrap().schedule;
        for job in Job::ALL {
            assert_eq!(pipeline.cron(job), job.default_cron(), "{job}");
        }
        let text = "[schedule]\nbatch_load = \"0 0 5 * * *\"\n";
        let pipeline = crate::batch::Pipeline::parse(text).unwrap().schedule;
        assert_eq!(pipeline.cron(Job::BatchLoad), "0 0 5 * * *");
        assert_eq!(pipeline.cron(Job::BatchExtract), Job::BatchExtract.default_cron());
    }

    #[test]
    fn the_nightly_jobs_run_in_dependency_order() {
        let minute = |job: Job| job.default_cron().split(' ').nth(1).and_then(|m| m.parse::<u32>().ok());
        let nightly = [Job::BatchExtract, Job::BatchLoad, Job::RealtimeCompact, Job::Reconcile];
        let minutes: Vec<_> = nightly.iter().map(|j| minute(*j).unwrap()).collect();
        assert!(minutes.windows(2).all(|w| w[0] < w[1]), "{minutes:?}");
    }
}
