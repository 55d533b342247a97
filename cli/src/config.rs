//! Configuration of `tidemark up`, parsed once from flags and environment variables
//! and validated at start; an error names the variable.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tidemark_core::ingest::WriteKeys;
use tidemark_core::job::{Job, JobOptions, OptionError};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::validate::ValidationLimits;
use tidemark_local::RunnerConfig;

use crate::http::ServeLimits;
use crate::retention::Retention;
use tidemark_core::batch::raw_retention::RawRetention;

/// The development write key that `tidemark up` accepts when none is configured.
pub const DEV_WRITE_KEYS: &str = "dev-write-key=web";
/// ... which everyone knows, so it never serves a non-loopback address.
pub const DEV_WRITE_KEY: &str = "dev-write-key";
/// The shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Directory for every embedded store (log, key-value, index).
    #[arg(long, env = "TIDEMARK_DATA_DIR", default_value = "./tidemark-data")]
    pub data_dir: PathBuf,
    /// HTTP address of ingest: the beacon routes (`/v1/events`, `/v1/p.gif`,
    /// `/v1/beacon.js`) and `/healthz`. The one listener that may face the internet.
    #[arg(long, env = "TIDEMARK_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// HTTP address of the read side: reports, stats, reconciliation, watermarks, the
    /// dashboard. Loopback only, unless TIDEMARK_ADMIN_TOKEN is set.
    #[arg(long, env = "TIDEMARK_ADMIN_ADDR", default_value = "127.0.0.1:8081")]
    pub admin_addr: String,
    /// Bearer token(s) the read side requires, comma-separated for rotation (16+
    /// characters each). Browsers sign in once at /login.
    #[arg(long, env = "TIDEMARK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Host names the read side answers to besides loopback ones, comma-separated.
    #[arg(long, env = "TIDEMARK_ALLOWED_HOSTS", default_value = "")]
    pub allowed_hosts: String,
    /// Open connections per HTTP listener; more are answered 503.
    #[arg(long, env = "TIDEMARK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (and the keep-alive idle limit).
    #[arg(long, env = "TIDEMARK_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// UDP address for datagram events; `off` to disable.
    #[arg(long, env = "TIDEMARK_UDP_ADDR", default_value = "127.0.0.1:8125")]
    pub udp_addr: String,
    /// Write keys and their sources: `key=source,key2=source2` (keys of 8+ characters).
    #[arg(long, env = "TIDEMARK_WRITE_KEYS", default_value = DEV_WRITE_KEYS, hide_env_values = true)]
    pub write_keys: String,
    /// Shards of the embedded event stream (fixed once the log exists).
    #[arg(long, env = "TIDEMARK_STREAM_SHARDS", default_value_t = 4)]
    pub stream_shards: usize,
    /// Write shards per hour bucket in the key-value store.
    #[arg(long, env = "TIDEMARK_KV_WRITE_SHARDS", default_value_t = 4)]
    pub kv_write_shards: u16,
    /// How far ahead of the server clock an event's occurred_at may be, in seconds.
    #[arg(long, env = "TIDEMARK_MAX_FUTURE_SKEW_SECS", default_value_t = 300)]
    pub max_future_skew_secs: i64,
    /// How old an event may be when it arrives, in hours.
    #[arg(long, env = "TIDEMARK_MAX_EVENT_AGE_HOURS", default_value_t = 168)]
    pub max_event_age_hours: i64,

    /// Hours a log record is kept once both consumers have it (trimmed hourly).
    #[arg(long, env = "TIDEMARK_RETAIN_LOG_HOURS", default_value_t = 168)]
    pub retain_log_hours: i64,
    /// Days events are kept in the key-value store and the search index.
    #[arg(long, env = "TIDEMARK_RETAIN_EVENTS_DAYS", default_value_t = 35)]
    pub retain_events_days: i64,
    /// Days dead letters are kept.
    #[arg(long, env = "TIDEMARK_RETAIN_DEAD_LETTERS_DAYS", default_value_t = 30)]
    pub retain_dead_letters_days: i64,
    /// Days a raw extract run is kept in the interim store (state that loads read is
    /// compacted by batch-load before it expires).
    #[arg(long, env = "TIDEMARK_RETAIN_RAW_DAYS", default_value_t = 90)]
    pub retain_raw_days: i64,
    /// Free MiB on the data directory's disk below which ingest pauses (answers 503).
    #[arg(long, env = "TIDEMARK_DISK_MIN_FREE_MB", default_value_t = 1024)]
    pub disk_min_free_mb: u64,

    /// Under steady load, how often the consumers commit a batch to the index and the
    /// key-value store, in milliseconds: lower makes events searchable sooner, higher
    /// leaves more of the cores to ingest (fewer index segments to merge).
    #[arg(long, env = "TIDEMARK_COMMIT_INTERVAL_MS", default_value_t = tidemark_local::runner::COMMIT_INTERVAL_MS)]
    pub commit_interval_ms: u64,

    /// Pipeline file of the batch side; when set, `up` runs its schedules.
    #[arg(long, env = "TIDEMARK_PIPELINE")]
    pub pipeline: Option<PathBuf>,
    /// A URL the scheduled analyze POSTs the anomalies it finds to, as JSON.
    #[arg(long, env = "TIDEMARK_NOTIFY_WEBHOOK")]
    pub notify_webhook: Option<String>,
}

/// `tidemark job run <job>`: the job's name, one of [`Job::ALL`], with its summary in `--help`.
pub fn job_parser() -> impl clap::builder::TypedValueParser<Value = Job> {
    use clap::builder::TypedValueParser;
    let values = Job::ALL.map(|job| clap::builder::PossibleValue::new(job.name()).help(job.summary()));
    clap::builder::PossibleValuesParser::new(values)
        .try_map(|name: String| Job::from_name(&name).ok_or(UnknownJob(name)))
}

/// Unreachable behind the possible values, but a parser must say something.
#[derive(Debug, thiserror::Error)]
#[error("no job named {0:?}")]
pub struct UnknownJob(String);

#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    /// The pipeline file.
    #[arg(long, env = "TIDEMARK_PIPELINE", default_value = "./tidemark.toml")]
    pub pipeline: PathBuf,
    /// Where the interim store and the warehouse live.
    #[arg(long, env = "TIDEMARK_DATA_DIR", default_value = "./tidemark-data")]
    pub data_dir: PathBuf,
    /// batch-extract: only this source.
    #[arg(long)]
    pub source: Option<String>,
    /// batch-load: only this table.
    #[arg(long)]
    pub table: Option<String>,
    /// reconcile: only this report.
    #[arg(long)]
    pub report: Option<String>,
    /// analyze: only this analysis.
    #[arg(long)]
    pub analysis: Option<String>,
    /// Any job that selects: only this source, table, report or analysis.
    #[arg(long)]
    pub only: Option<String>,
    /// reconcile: how many days back from the tidemark to check (default 7).
    #[arg(long)]
    pub days: Option<i64>,
    /// realtime-compact: the UTC day to compact, YYYY-MM-DD (default yesterday).
    #[arg(long)]
    pub day: Option<chrono::NaiveDate>,
    /// Write shards per hour bucket in the key-value store (as `tidemark up` was given).
    #[arg(long, env = "TIDEMARK_KV_WRITE_SHARDS", default_value_t = 4)]
    pub kv_write_shards: u16,
    /// batch-load: days a raw extract run is kept (as `tidemark up` was given).
    #[arg(long, env = "TIDEMARK_RETAIN_RAW_DAYS", default_value_t = 90)]
    pub retain_raw_days: i64,
    /// analyze: a URL the anomalies found are POSTed to as JSON.
    #[arg(long, env = "TIDEMARK_NOTIFY_WEBHOOK")]
    pub notify_webhook: Option<String>,
}

impl JobArgs {
    /// The flags as the job's options; `--source`, `--table`, `--report` and
    /// `--analysis` each go with the one job that selects by them, `--only` with any.
    pub fn options(&self, job: Job) -> Result<JobOptions, OptionError> {
        let given =
            [("source", &self.source), ("table", &self.table), ("report", &self.report), ("analysis", &self.analysis)];
        let mut only = self.only.clone();
        for (flag, value) in given {
            if let Some(value) = value {
                if job.only_selects() != Some(flag) {
                    let rule = format!("--{flag} does not go with this job");
                    return Err(OptionError { job, field: flag, rule });
                }
                only = Some(value.clone());
            }
        }
        let options = JobOptions { only, day: self.day, lookback_days: self.days };
        options.check(job)?;
        Ok(options)
    }
}

/// `TIDEMARK_NOTIFY_WEBHOOK`, checked; unset or empty: no notifications.
pub fn notify_webhook(webhook: Option<&str>) -> Result<Option<reqwest::Url>, ConfigError> {
    webhook.filter(|url| !url.trim().is_empty()).map(crate::notify::webhook_url).transpose()
}

/// The notifier analyze sends anomalies to, if a webhook is configured.
pub fn notifier(webhook: Option<&reqwest::Url>) -> Option<std::sync::Arc<dyn tidemark_core::ports::Notifier>> {
    webhook.map(|url| std::sync::Arc::new(crate::notify::WebhookNotifier::new(url.clone())) as _)
}

/// `TIDEMARK_RETAIN_RAW_DAYS`, checked.
pub fn raw_retention(days: i64) -> Result<RawRetention, ConfigError> {
    if !(2..=3_660).contains(&days) {
        return Err(invalid("TIDEMARK_RETAIN_RAW_DAYS", "must be from 2 to 3660"));
    }
    Ok(RawRetention { keep: chrono::Duration::days(days) })
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct UpConfig {
    pub data_dir: PathBuf,
    /// Ingest: the beacon routes.
    pub http_addr: SocketAddr,
    /// The read side: reports, stats, dashboard.
    pub admin_addr: SocketAddr,
    /// Tokens the read side requires; empty: none (loopback only).
    pub admin_tokens: Vec<String>,
    /// Host names the read side answers to besides loopback ones.
    pub allowed_hosts: Vec<String>,
    pub serve: ServeLimits,
    /// How long each local store keeps what it holds.
    pub retention: Retention,
    /// Free bytes on the data directory's disk below which ingest pauses.
    pub disk_min_free: u64,
    /// `None` turns UDP ingest off.
    pub udp_addr: Option<SocketAddr>,
    pub write_keys: WriteKeys,
    pub stream_shards: usize,
    pub kv_layout: KvLayout,
    pub limits: ValidationLimits,
    pub runner: RunnerConfig,
    /// Start the stream consumers (off only to measure ingest alone).
    pub run_consumers: bool,
    /// The batch pipeline file, whose schedules `up` runs.
    pub pipeline: Option<PathBuf>,
    /// Where analyze POSTs the anomalies it finds.
    pub notify_webhook: Option<reqwest::Url>,
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { variable, message: message.into() }
}

impl UpConfig {
    pub fn from_args(args: &UpArgs) -> Result<Self, ConfigError> {
        let http_addr: SocketAddr = args
            .http_addr
            .parse()
            .map_err(|_| invalid("TIDEMARK_HTTP_ADDR", format!("{:?} is not host:port", args.http_addr)))?;
        let udp_addr = match args.udp_addr.as_str() {
            "off" | "" => None,
            text => Some(
                text.parse().map_err(|_| invalid("TIDEMARK_UDP_ADDR", format!("{text:?} is not host:port or off")))?,
            ),
        };
        let admin_addr: SocketAddr = args
            .admin_addr
            .parse()
            .map_err(|_| invalid("TIDEMARK_ADMIN_ADDR", format!("{:?} is not host:port", args.admin_addr)))?;
        let write_keys =
            WriteKeys::parse(&args.write_keys).map_err(|e| invalid("TIDEMARK_WRITE_KEYS", e.to_string()))?;
        if !http_addr.ip().is_loopback() && write_keys.contains_key(DEV_WRITE_KEY) {
            return Err(invalid(
                "TIDEMARK_WRITE_KEYS",
                format!("the development key {DEV_WRITE_KEY:?} must not serve {http_addr}: set keys of your own"),
            ));
        }
        let admin_tokens: Vec<String> = args
            .admin_token
            .iter()
            .flat_map(|list| list.split(','))
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty())
            .collect();
        if admin_tokens.iter().any(|token| token.len() < MIN_ADMIN_TOKEN_LEN) {
            return Err(invalid("TIDEMARK_ADMIN_TOKEN", format!("each token needs {MIN_ADMIN_TOKEN_LEN}+ characters")));
        }
        if !admin_addr.ip().is_loopback() && admin_tokens.is_empty() {
            return Err(invalid(
                "TIDEMARK_ADMIN_ADDR",
                format!("the read side listens on loopback only unless TIDEMARK_ADMIN_TOKEN is set ({admin_addr})"),
            ));
        }
        if args.max_connections == 0 {
            return Err(invalid("TIDEMARK_MAX_CONNECTIONS", "must be at least 1"));
        }
        if !(1..=3_600).contains(&args.header_timeout_secs) {
            return Err(invalid("TIDEMARK_HEADER_TIMEOUT_SECS", "must be from 1 to 3600"));
        }
        if !(1..=256).contains(&args.stream_shards) {
            return Err(invalid("TIDEMARK_STREAM_SHARDS", "must be from 1 to 256"));
        }
        if !(1..=100).contains(&args.kv_write_shards) {
            return Err(invalid("TIDEMARK_KV_WRITE_SHARDS", "must be from 1 to 100"));
        }
        if !(0..=86_400).contains(&args.max_future_skew_secs) {
            return Err(invalid("TIDEMARK_MAX_FUTURE_SKEW_SECS", "must be from 0 to 86400"));
        }
        if !(1..=24 * 366).contains(&args.max_event_age_hours) {
            return Err(invalid("TIDEMARK_MAX_EVENT_AGE_HOURS", "must be from 1 to 8784"));
        }
        if !(1..=24 * 3_660).contains(&args.retain_log_hours) {
            return Err(invalid("TIDEMARK_RETAIN_LOG_HOURS", "must be from 1 to 87840"));
        }
        if !(2..=3_660).contains(&args.retain_events_days) {
            return Err(invalid(
                "TIDEMARK_RETAIN_EVENTS_DAYS",
                "must be from 2 to 3660 (realtime-compact reads yesterday's events)",
            ));
        }
        if !(1..=3_660).contains(&args.retain_dead_letters_days) {
            return Err(invalid("TIDEMARK_RETAIN_DEAD_LETTERS_DAYS", "must be from 1 to 3660"));
        }
        if args.commit_interval_ms > 60_000 {
            return Err(invalid("TIDEMARK_COMMIT_INTERVAL_MS", "must be at most 60000"));
        }
        let raw = raw_retention(args.retain_raw_days)?;
        let notify_webhook = notify_webhook(args.notify_webhook.as_deref())?;
        if let Some(p) = &args.pipeline {
            if !p.is_file() {
                return Err(invalid("TIDEMARK_PIPELINE", format!("{} is not a file", p.display())));
            }
        }
        Ok(Self {
            data_dir: args.data_dir.clone(),
            http_addr,
            admin_addr,
            admin_tokens,
            allowed_hosts: args
                .allowed_hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect(),
            serve: ServeLimits {
                max_connections: args.max_connections,
                header_timeout: Duration::from_secs(args.header_timeout_secs),
            },
            retention: Retention {
                log: chrono::Duration::hours(args.retain_log_hours),
                events: chrono::Duration::days(args.retain_events_days),
                dead_letters: chrono::Duration::days(args.retain_dead_letters_days),
                raw,
            },
            disk_min_free: args.disk_min_free_mb.saturating_mul(1024 * 1024),
            udp_addr,
            write_keys,
            stream_shards: args.stream_shards,
            kv_layout: KvLayout { stream: "events".to_owned(), write_shards: args.kv_write_shards },
            limits: ValidationLimits {
                max_future_skew: chrono::Duration::seconds(args.max_future_skew_secs),
                max_age: chrono::Duration::hours(args.max_event_age_hours),
                ..ValidationLimits::default()
            },
            runner: RunnerConfig {
                commit_interval: Duration::from_millis(args.commit_interval_ms),
                ..RunnerConfig::default()
            },
            run_consumers: true,
            pipeline: args.pipeline.clone(),
            notify_webhook,
        })
    }

    /// A configuration for tests: ephemeral ports on loopback, data under `data_dir`.
    pub fn for_tests(data_dir: PathBuf, write_keys: WriteKeys) -> Self {
        Self {
            data_dir,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_tokens: Vec::new(),
            allowed_hosts: Vec::new(),
            serve: ServeLimits::default(),
            retention: Retention::default(),
            disk_min_free: 64 * 1024 * 1024,
            udp_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            write_keys,
            stream_shards: 4,
            kv_layout: KvLayout::default(),
            limits: ValidationLimits::default(),
            runner: RunnerConfig {
                linger: Duration::from_millis(20),
                commit_interval: Duration::from_millis(20),
                ..RunnerConfig::default()
            },
            run_consumers: true,
            pipeline: None,
            notify_webhook: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        up: UpArgs,
    }

    fn parse(args: &[&str]) -> Result<UpConfig, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("tidemark").chain(args.iter().copied())).unwrap();
        UpConfig::from_args(&cli.up)
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let config = parse(&[]).unwrap();
        assert!(config.http_addr.ip().is_loopback());
        assert_eq!(config.write_keys.source_of("dev-write-key"), Some("web"));
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(parse(&["--http-addr", "nowhere"]).unwrap_err().variable, "TIDEMARK_HTTP_ADDR");
        assert_eq!(parse(&["--write-keys", "abc"]).unwrap_err().variable, "TIDEMARK_WRITE_KEYS");
        assert_eq!(parse(&["--stream-shards", "0"]).unwrap_err().variable, "TIDEMARK_STREAM_SHARDS");
        assert!(parse(&["--udp-addr", "off"]).unwrap().udp_addr.is_none());
    }

    #[test]
    fn nothing_is_exposed_by_accident() {
        let public_dev_key = parse(&["--http-addr", "0.0.0.0:8080"]).unwrap_err();
        assert_eq!(public_dev_key.variable, "TIDEMARK_WRITE_KEYS");
        assert!(public_dev_key.message.contains("development key"), "{public_dev_key}");
        let own_keys = parse(&["--http-addr", "0.0.0.0:8080", "--write-keys", "  a-real-key-123 =web"]).unwrap();
        assert_eq!(own_keys.write_keys.source_of("a-real-key-123"), Some("web"));
        assert_eq!(parse(&["--admin-addr", "0.0.0.0:8081"]).unwrap_err().variable, "TIDEMARK_ADMIN_ADDR");
        let guarded =
            parse(&["--admin-addr", "0.0.0.0:8081", "--admin-token", "token-one-0123456789,token-two-0123456789"]);
        assert_eq!(guarded.unwrap().admin_tokens.len(), 2);
        assert_eq!(parse(&["--admin-token", "short"]).unwrap_err().variable, "TIDEMARK_ADMIN_TOKEN");
    }

    #[derive(Parser)]
    struct JobCli {
        #[arg(value_parser = job_parser())]
        job: Job,
        #[command(flatten)]
        args: JobArgs,
    }

    fn job_options(args: &[&str]) -> Result<(Job, JobOptions), OptionError> {
        let cli = JobCli::try_parse_from(std::iter::once("job").chain(args.iter().copied())).unwrap();
        cli.args.options(cli.job).map(|options| (cli.job, options))
    }

    #[test]
    fn each_job_takes_its_own_flags() {
        let (job, options) = job_options(&["batch-load", "--table", "orders"]).unwrap();
        assert_eq!((job, options.only.as_deref()), (Job::BatchLoad, Some("orders")));
        let (_, options) = job_options(&["reconcile", "--report", "sales", "--days", "30"]).unwrap();
        assert_eq!((options.only.as_deref(), options.lookback_days), (Some("sales"), Some(30)));
        assert_eq!(job_options(&["batch-extract", "--table", "orders"]).unwrap_err().field, "table");
        assert_eq!(job_options(&["report-views", "--report", "sales"]).unwrap_err().field, "report");
        assert_eq!(job_options(&["batch-load", "--day", "2026-11-01"]).unwrap_err().field, "day");
        assert_eq!(job_options(&["reconcile", "--days", "0"]).unwrap_err().field, "lookback_days");
        let (job, options) = job_options(&["analyze", "--only", "sales_forecast"]).unwrap();
        assert_eq!((job, options.only.as_deref()), (Job::Analyze, Some("sales_forecast")));
        assert_eq!(job_options(&["analyze", "--analysis", "a"]).unwrap().1.only.as_deref(), Some("a"));
        assert_eq!(job_options(&["report-views", "--only", "x"]).unwrap_err().field, "only");
        assert!(JobCli::try_parse_from(["job", "views"]).is_err(), "not a job");
    }
}
