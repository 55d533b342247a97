//! Typed settings of the AWS functions, parsed once at cold start from the variables the
//! SAM template sets ([`Settings::from_env`]); a malformed value fails there, naming its
//! variable, and a variable a function needs but lacks fails when that function builds
//! the adapter that needs it (each function needs only some of them).

use std::sync::Arc;
use std::time::Duration;

use crate::config::{AwsClients, AwsConfigError, Endpoint, ENDPOINT_VAR};
use crate::dynamodb::{DynamoKv, WriteMode};
use crate::kinesis::KinesisStream;
use crate::launcher::LambdaLauncher;
use crate::read_access::ReadAccess;
use crate::redshift::DataApi;
use crate::s3::S3ObjectStore;
use crate::search::{OpenSearchIndex, SearchAuth};
use crate::sns::SnsNotifier;
use crate::stream_health::StreamHealth;
use crate::warehouse::{Dialect, RedshiftWarehouse, S3Staging};
use tidemark_core::batch::pipeline::Pipeline;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::clock::SystemClock;
use tidemark_core::job::RunHistory;
use tidemark_core::key_registry::KeyRegistry;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::kv::KvStore;
use tidemark_core::ports::ObjectStore;

mod view;

/// A Lambda runs at most 15 minutes: a run still holding the job history's lock after
/// this was cut off (a timeout, a crash), and the next run of the job takes it over.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(20);

/// Which OpenSearch the index is: a managed domain (SigV4 service `es`, retention by an
/// ISM policy) or a Serverless collection (`aoss`, no ISM: stream-index drops old
/// daily indices itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchBackend {
    Domain,
    Serverless,
}

impl SearchBackend {
    fn signing_service(self) -> &'static str {
        match self {
            SearchBackend::Domain => "es",
            SearchBackend::Serverless => "aoss",
        }
    }
}

/// How the daily indices expire, `TIDEMARK_KV_RETENTION_DAYS` after their day (the
/// key-value store's retention); see [`Settings::search_expiry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchExpiry {
    IsmPolicy { days: u32 },
    DropDailyIndices { days: u32 },
}

/// Every setting of every function, each from one variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `TIDEMARK_AWS_ENDPOINT`: an emulator instead of AWS.
    pub endpoint: Endpoint,
    /// `TIDEMARK_STREAM_NAME`.
    pub stream_name: Option<String>,
    /// `TIDEMARK_STREAM_RETENTION_HOURS`: how long Kinesis keeps a record (the
    /// template's 168 by default).
    pub stream_retention_hours: u32,
    /// `TIDEMARK_KV_TABLE`.
    pub kv_table: Option<String>,
    /// `TIDEMARK_KV_RETENTION_DAYS`: the items' TTL, and the daily indices' age limit.
    pub kv_retention_days: Option<u32>,
    /// `TIDEMARK_KV_WRITE_MODE`: `conditional` (default) or `batch`.
    pub kv_write_mode: WriteMode,
    /// `TIDEMARK_KV_WRITE_SHARDS`: write shards per hour (default 4, at least 1).
    pub kv_write_shards: u16,
    /// `TIDEMARK_SEARCH_URL`.
    pub search_url: Option<String>,
    /// `TIDEMARK_SEARCH_BACKEND`: `domain` (default) or `serverless`.
    pub search_backend: SearchBackend,
    /// `TIDEMARK_SEARCH_PREFIX`: the daily indices' name prefix.
    pub search_prefix: String,
    /// `TIDEMARK_BUCKET`: the interim store.
    pub bucket: Option<String>,
    /// `TIDEMARK_INTERIM_PREFIX`: a key prefix inside the bucket (default none).
    pub interim_prefix: String,
    /// `TIDEMARK_PIPELINE_KEY`: the pipeline file's key in the bucket.
    pub pipeline_key: Option<String>,
    /// `TIDEMARK_RAW_RETENTION_DAYS`: the bucket lifecycle's age for raw extracts
    /// (default 90, at least 1).
    pub raw_retention: RawRetention,
    /// `TIDEMARK_SCHEDULE`: the EventBridge expression a job function is scheduled with.
    pub schedule: Option<String>,
    /// `TIDEMARK_REDSHIFT_WORKGROUP`.
    pub redshift_workgroup: Option<String>,
    /// `TIDEMARK_REDSHIFT_DATABASE` (default `tidemark`).
    pub redshift_database: String,
    /// `TIDEMARK_REDSHIFT_COPY_ROLE`: the role `COPY` reads staged parts with.
    pub redshift_copy_role: Option<String>,
    /// `TIDEMARK_REDSHIFT_READ_ROLE` (default `tidemark_reader`) on
    /// `TIDEMARK_REDSHIFT_SCHEMA` (default `public`): what the jobs' setup grants.
    pub read_access: ReadAccess,
    /// `TIDEMARK_SQL_TIMEOUT_SECS` (default 25): the longest wait for one statement,
    /// shorter than the function's own timeout, so a slow statement ends in an error
    /// the job reports rather than in a killed function.
    pub sql_timeout: Duration,
    /// `TIDEMARK_ADMIN_TOKENS_SECRET`: the secret holding the console's admin tokens.
    pub admin_tokens_secret: Option<String>,
    /// `TIDEMARK_NOTIFY_TOPIC_ARN`: the SNS topic analyze publishes anomalies to.
    pub notify_topic: Option<String>,
    /// `TIDEMARK_JOB_FUNCTIONS`: the job functions' name with `{job}` for the job, which
    /// the console's Run now invokes.
    pub job_functions: Option<String>,
    /// `TIDEMARK_CONSUMER_FUNCTIONS`: the stream consumers' function name with
    /// `{consumer}`, whose CloudWatch figures the console shows.
    pub consumer_functions: Option<String>,
    /// `TIDEMARK_DEAD_LETTER_QUEUES`: the dead-letter queues' name with `{queue}`.
    pub dead_letter_queues: Option<String>,
}

/// Reads one variable at a time: trimmed, empty as absent.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn text(&self, var: &str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn or(&self, var: &str, default: &str) -> String {
        self.text(var).unwrap_or_else(|| default.to_owned())
    }

    fn number<T: std::str::FromStr>(&self, var: &'static str) -> Result<Option<T>, AwsConfigError> {
        self.text(var)
            .map(|v| v.parse().map_err(|_| AwsConfigError::Invalid { var, reason: format!("{v:?} is not a number") }))
            .transpose()
    }

    fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(
        &self,
        var: &'static str,
        default: T,
    ) -> Result<T, AwsConfigError> {
        let value = self.number(var)?.unwrap_or(default);
        if value < T::from(1) {
            return Err(AwsConfigError::Invalid { var, reason: "must be at least 1".into() });
        }
        Ok(value)
    }

    fn choice<T: Copy>(&self, var: &'static str, choices: &[(&str, T)]) -> Result<T, AwsConfigError> {
        let Some(text) = self.text(var) else { return Ok(choices[0].1) };
        choices.iter().find(|(name, _)| *name == text).map(|(_, value)| *value).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            AwsConfigError::Invalid { var, reason: format!("{text:?}: use {}", names.join(" or ")) }
        })
    }
}

/// A setting the adapter being built needs.
fn needed<'a>(value: &'a Option<String>, var: &'static str) -> Result<&'a str, AwsConfigError> {
    value.as_deref().ok_or_else(|| AwsConfigError::Invalid { var, reason: "must be set".into() })
}

impl Settings {
    /// The process's environment, at cold start.
    pub fn from_env() -> Result<Settings, AwsConfigError> {
        Settings::from_vars(|var| std::env::var(var).ok())
    }

    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, AwsConfigError> {
        let vars = Vars(lookup);
        Ok(Settings {
            endpoint: vars.text(ENDPOINT_VAR).map(|url| Endpoint::parse(&url)).transpose()?.unwrap_or_default(),
            stream_name: vars.text("TIDEMARK_STREAM_NAME"),
            stream_retention_hours: vars.number("TIDEMARK_STREAM_RETENTION_HOURS")?.unwrap_or(168),
            kv_table: vars.text("TIDEMARK_KV_TABLE"),
            kv_retention_days: vars.number("TIDEMARK_KV_RETENTION_DAYS")?,
            kv_write_mode: vars.choice(
                "TIDEMARK_KV_WRITE_MODE",
                &[("conditional", WriteMode::Conditional), ("batch", WriteMode::Batch)],
            )?,
            kv_write_shards: vars.at_least_one("TIDEMARK_KV_WRITE_SHARDS", 4)?,
            search_url: vars.text("TIDEMARK_SEARCH_URL"),
            search_backend: vars.choice(
                "TIDEMARK_SEARCH_BACKEND",
                &[("domain", SearchBackend::Domain), ("serverless", SearchBackend::Serverless)],
            )?,
            search_prefix: vars.or("TIDEMARK_SEARCH_PREFIX", "tidemark-events"),
            bucket: vars.text("TIDEMARK_BUCKET"),
            interim_prefix: vars.or("TIDEMARK_INTERIM_PREFIX", ""),
            pipeline_key: vars.text("TIDEMARK_PIPELINE_KEY"),
            raw_retention: RawRetention {
                keep: chrono::Duration::days(i64::from(vars.at_least_one::<u32>("TIDEMARK_RAW_RETENTION_DAYS", 90)?)),
            },
            schedule: vars.text("TIDEMARK_SCHEDULE"),
            redshift_workgroup: vars.text("TIDEMARK_REDSHIFT_WORKGROUP"),
            redshift_database: vars.or("TIDEMARK_REDSHIFT_DATABASE", "tidemark"),
            redshift_copy_role: vars.text("TIDEMARK_REDSHIFT_COPY_ROLE"),
            read_access: ReadAccess {
                role: vars.or("TIDEMARK_REDSHIFT_READ_ROLE", "tidemark_reader"),
                schema: vars.or("TIDEMARK_REDSHIFT_SCHEMA", "public"),
            },
            sql_timeout: Duration::from_secs(vars.number("TIDEMARK_SQL_TIMEOUT_SECS")?.unwrap_or(25)),
            admin_tokens_secret: vars.text("TIDEMARK_ADMIN_TOKENS_SECRET"),
            notify_topic: vars.text("TIDEMARK_NOTIFY_TOPIC_ARN"),
            job_functions: vars.text("TIDEMARK_JOB_FUNCTIONS"),
            consumer_functions: vars.text("TIDEMARK_CONSUMER_FUNCTIONS"),
            dead_letter_queues: vars.text("TIDEMARK_DEAD_LETTER_QUEUES"),
        })
    }

    /// The anomaly topic's publisher, when a topic is configured.
    pub fn notifier(&self, clients: &AwsClients) -> Option<SnsNotifier> {
        self.notify_topic.as_ref().map(|topic| SnsNotifier::new(clients.sns.clone(), topic.clone()))
    }

    /// The job history in the events table, where every job function records its runs;
    /// `None` without a table.
    pub fn history(&self, clients: &AwsClients) -> Result<Option<RunHistory>, AwsConfigError> {
        if self.kv_table.is_none() {
            return Ok(None);
        }
        let kv: Arc<dyn KvStore> = Arc::new(self.kv(clients)?);
        Ok(Some(RunHistory::new(kv, Arc::new(SystemClock), Some(STALE_AFTER))))
    }

    /// Write keys made in the console, in the events table; `None` without a table.
    pub fn key_registry(&self, clients: &AwsClients) -> Result<Option<KeyRegistry>, AwsConfigError> {
        if self.kv_table.is_none() {
            return Ok(None);
        }
        let kv: Arc<dyn KvStore> = Arc::new(self.kv(clients)?);
        Ok(Some(KeyRegistry::new(kv, Arc::new(SystemClock))))
    }

    /// The stream's CloudWatch figures for the console, when the template names the
    /// stream, the consumer functions and the queues.
    pub fn stream_health(&self, clients: &AwsClients) -> Option<StreamHealth> {
        let (stream, functions, queues) =
            (self.stream_name.as_ref()?, self.consumer_functions.as_ref()?, self.dead_letter_queues.as_ref()?);
        Some(StreamHealth::new(clients.cloudwatch.clone(), stream, functions, queues))
    }

    /// Run now for the console: the job functions invoked asynchronously, when the
    /// template names them and the history is there.
    pub fn launcher(&self, clients: &AwsClients) -> Result<Option<LambdaLauncher>, AwsConfigError> {
        let (Some(functions), Some(history)) = (&self.job_functions, self.history(clients)?) else { return Ok(None) };
        Ok(Some(LambdaLauncher::new(clients.lambda.clone(), functions.clone(), history)))
    }

    pub fn stream(&self, clients: &AwsClients) -> Result<KinesisStream, AwsConfigError> {
        Ok(KinesisStream::new(clients.kinesis.clone(), needed(&self.stream_name, "TIDEMARK_STREAM_NAME")?))
    }

    pub fn kv(&self, clients: &AwsClients) -> Result<DynamoKv, AwsConfigError> {
        let days = u64::from(self.kv_retention_days.unwrap_or(0));
        Ok(DynamoKv::new(clients.dynamodb.clone(), needed(&self.kv_table, "TIDEMARK_KV_TABLE")?)
            .with_mode(self.kv_write_mode)
            .with_retention((days > 0).then(|| Duration::from_secs(days * 86_400))))
    }

    /// The key layout the stream-store writes and the jobs read.
    pub fn kv_layout(&self) -> KvLayout {
        KvLayout { write_shards: self.kv_write_shards, ..KvLayout::default() }
    }

    /// By an ISM policy on a managed domain, by stream-index dropping daily indices on a
    /// Serverless collection (35 days unless `TIDEMARK_KV_RETENTION_DAYS` says); `None`
    /// on an emulator.
    pub fn search_expiry(&self) -> Option<SearchExpiry> {
        if self.search_is_emulated() {
            return None;
        }
        let days = self.kv_retention_days.unwrap_or(35);
        Some(match self.search_backend {
            SearchBackend::Domain => SearchExpiry::IsmPolicy { days },
            SearchBackend::Serverless => SearchExpiry::DropDailyIndices { days },
        })
    }

    /// With `TIDEMARK_AWS_ENDPOINT` set or a plain-HTTP search URL, requests go unsigned
    /// to an emulator.
    fn search_is_emulated(&self) -> bool {
        self.endpoint.url().is_some() || self.search_url.as_deref().is_some_and(|u| u.starts_with("http://"))
    }

    pub fn search(&self, clients: &AwsClients) -> Result<OpenSearchIndex, AwsConfigError> {
        let url = needed(&self.search_url, "TIDEMARK_SEARCH_URL")?;
        let auth = if self.search_is_emulated() {
            SearchAuth::None
        } else {
            // The configuration the clients were built from: loaded once at cold start.
            match (clients.sdk.credentials_provider(), clients.sdk.region()) {
                (Some(credentials), Some(region)) => SearchAuth::SigV4 {
                    credentials,
                    region: region.clone(),
                    service: self.search_backend.signing_service(),
                },
                _ => {
                    return Err(AwsConfigError::Invalid {
                        var: "AWS_REGION",
                        reason: "no credentials or region to sign OpenSearch requests with".into(),
                    })
                }
            }
        };
        OpenSearchIndex::connect(url, auth, &self.search_prefix)
            .map_err(|e| AwsConfigError::Invalid { var: "TIDEMARK_SEARCH_URL", reason: e.to_string() })
    }

    /// The interim store and its `s3://bucket/prefix/` URL.
    pub fn interim(&self, clients: &AwsClients) -> Result<(S3ObjectStore, String), AwsConfigError> {
        let bucket = needed(&self.bucket, "TIDEMARK_BUCKET")?;
        let url = match self.interim_prefix.trim_matches('/') {
            "" => format!("s3://{bucket}/"),
            p => format!("s3://{bucket}/{p}/"),
        };
        Ok((S3ObjectStore::new(clients.s3.clone(), bucket.to_owned(), &self.interim_prefix), url))
    }

    pub fn warehouse(&self, clients: &AwsClients) -> Result<RedshiftWarehouse, AwsConfigError> {
        let workgroup = needed(&self.redshift_workgroup, "TIDEMARK_REDSHIFT_WORKGROUP")?;
        let api = DataApi::new(clients.redshift.clone(), workgroup.to_owned(), self.redshift_database.clone())
            .with_timeout(self.sql_timeout);
        let (store, url) = self.interim(clients)?;
        let copy_role = needed(&self.redshift_copy_role, "TIDEMARK_REDSHIFT_COPY_ROLE")?;
        let staging = S3Staging::new(store, url, copy_role.to_owned());
        Ok(RedshiftWarehouse::new(api, staging, Dialect::Redshift).with_read_access(self.read_access.clone()))
    }

    /// The pipeline file at `TIDEMARK_PIPELINE_KEY` in the interim bucket, parsed and
    /// validated once at cold start.
    pub async fn pipeline(&self, clients: &AwsClients) -> Result<Pipeline, AwsConfigError> {
        let (pipeline, location) = self.pipeline_if_present(clients).await?;
        pipeline.ok_or_else(|| AwsConfigError::Invalid {
            var: "TIDEMARK_PIPELINE_KEY",
            reason: format!("{location}: no such object in TIDEMARK_BUCKET"),
        })
    }

    /// The pipeline file if the bucket holds one (a fresh stack does not), and where it is
    /// looked for (`s3://bucket/key`); one that is there but does not parse is an error.
    pub async fn pipeline_if_present(
        &self,
        clients: &AwsClients,
    ) -> Result<(Option<Pipeline>, String), AwsConfigError> {
        let var = "TIDEMARK_PIPELINE_KEY";
        let key = needed(&self.pipeline_key, var)?;
        let (store, url) = self.interim(clients)?;
        let location = format!("{url}{key}");
        let Some(bytes) = store.get(key).await.map_err(|e| AwsConfigError::Invalid { var, reason: e.to_string() })?
        else {
            return Ok((None, location));
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| AwsConfigError::Invalid { var, reason: format!("{key}: not UTF-8") })?;
        let pipeline =
            Pipeline::parse(&text).map_err(|e| AwsConfigError::Invalid { var, reason: format!("{key}: {e}") })?;
        Ok((Some(pipeline), location))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, AwsConfigError> {
        Settings::from_vars(|name| vars.iter().find(|(var, _)| *var == name).map(|(_, value)| (*value).to_owned()))
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        parse(vars).expect_err("refused").to_string()
    }

    #[test]
    fn nothing_set_gives_the_templates_defaults() {
        let settings = parse(&[]).expect("defaults");
        assert_eq!(settings.endpoint, Endpoint::aws());
        assert_eq!(settings.kv_write_mode, WriteMode::Conditional);
        assert_eq!(settings.kv_layout().write_shards, 4);
        assert_eq!(settings.search_backend, SearchBackend::Domain);
        assert_eq!(settings.search_prefix, "tidemark-events");
        assert_eq!(settings.raw_retention.keep, chrono::Duration::days(90));
        assert_eq!(settings.stream_retention_hours, 168);
        assert_eq!(settings.read_access, ReadAccess { role: "tidemark_reader".into(), schema: "public".into() });
        assert_eq!(settings.sql_timeout, Duration::from_secs(25));
        assert_eq!(settings.search_expiry(), Some(SearchExpiry::IsmPolicy { days: 35 }));
    }

    #[test]
    fn values_are_trimmed_and_empty_is_absent() {
        let settings = parse(&[("TIDEMARK_KV_TABLE", "  events \n"), ("TIDEMARK_BUCKET", "   ")]).expect("parsed");
        assert_eq!(settings.kv_table.as_deref(), Some("events"));
        assert_eq!(settings.bucket, None);
    }

    #[test]
    fn a_malformed_value_is_refused_naming_its_variable_and_rule() {
        assert_eq!(refused(&[("TIDEMARK_KV_WRITE_SHARDS", "0")]), "TIDEMARK_KV_WRITE_SHARDS: must be at least 1");
        assert_eq!(
            refused(&[("TIDEMARK_KV_WRITE_SHARDS", "four")]),
            "TIDEMARK_KV_WRITE_SHARDS: \"four\" is not a number"
        );
        assert_eq!(refused(&[("TIDEMARK_RAW_RETENTION_DAYS", "0")]), "TIDEMARK_RAW_RETENTION_DAYS: must be at least 1");
        assert_eq!(
            refused(&[("TIDEMARK_KV_WRITE_MODE", "fast")]),
            "TIDEMARK_KV_WRITE_MODE: \"fast\": use conditional or batch"
        );
        assert_eq!(
            refused(&[("TIDEMARK_SEARCH_BACKEND", "solr")]),
            "TIDEMARK_SEARCH_BACKEND: \"solr\": use domain or serverless"
        );
        assert!(refused(&[(ENDPOINT_VAR, "localhost:5000")]).starts_with("TIDEMARK_AWS_ENDPOINT: "));
    }

    #[test]
    fn serverless_search_drops_its_own_indices_and_emulators_expire_nothing() {
        let serverless = [("TIDEMARK_SEARCH_BACKEND", "serverless"), ("TIDEMARK_KV_RETENTION_DAYS", "7")];
        assert_eq!(
            parse(&serverless).expect("parsed").search_expiry(),
            Some(SearchExpiry::DropDailyIndices { days: 7 })
        );
        let emulated = [("TIDEMARK_SEARCH_URL", "http://127.0.0.1:9200")];
        assert_eq!(parse(&emulated).expect("parsed").search_expiry(), None);
        let behind_endpoint = [(ENDPOINT_VAR, "http://127.0.0.1:5000")];
        assert_eq!(parse(&behind_endpoint).expect("parsed").search_expiry(), None);
    }

    #[test]
    fn a_variable_is_needed_only_by_the_adapter_that_uses_it() {
        let settings = parse(&[("TIDEMARK_STREAM_NAME", "events")]).expect("a stream function's settings");
        let error = needed(&settings.kv_table, "TIDEMARK_KV_TABLE").expect_err("no table");
        assert_eq!(error.to_string(), "TIDEMARK_KV_TABLE: must be set");
        assert_eq!(needed(&settings.stream_name, "TIDEMARK_STREAM_NAME").expect("set"), "events");
    }
}
