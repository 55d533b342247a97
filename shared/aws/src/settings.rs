//! Typed settings of the AWS functions, read once at cold start from the variables the
//! SAM template sets; each error names its variable.

use std::time::Duration;

use crate::config::{AwsClients, AwsConfigError, Endpoint};
use crate::dynamodb::{DynamoKv, WriteMode};
use crate::kinesis::KinesisStream;
use crate::read_access::ReadAccess;
use crate::redshift::DataApi;
use crate::s3::S3ObjectStore;
use crate::search::{OpenSearchIndex, SearchAuth};
use crate::warehouse::{Dialect, RedshiftWarehouse, S3Staging};
use tidemark_core::batch::pipeline::Pipeline;
use tidemark_core::batch::raw_retention::RawRetention;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::ObjectStore;

fn required(var: &'static str) -> Result<String, AwsConfigError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(AwsConfigError::Invalid { var, reason: "must be set".into() }),
    }
}

fn optional(var: &'static str) -> Option<String> {
    std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(var: &'static str, default: T) -> Result<T, AwsConfigError> {
    match optional(var) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| AwsConfigError::Invalid { var, reason: format!("{v:?} is not a number") }),
    }
}

/// `TIDEMARK_STREAM_NAME`.
pub fn stream(clients: &AwsClients) -> Result<KinesisStream, AwsConfigError> {
    Ok(KinesisStream::new(clients.kinesis.clone(), required("TIDEMARK_STREAM_NAME")?))
}

/// `TIDEMARK_KV_TABLE`, `TIDEMARK_KV_RETENTION_DAYS` (default none),
/// `TIDEMARK_KV_WRITE_MODE` (`conditional` | `batch`).
pub fn kv(clients: &AwsClients) -> Result<DynamoKv, AwsConfigError> {
    let days: u64 = number("TIDEMARK_KV_RETENTION_DAYS", 0)?;
    let mode = match optional("TIDEMARK_KV_WRITE_MODE").as_deref() {
        None | Some("conditional") => WriteMode::Conditional,
        Some("batch") => WriteMode::Batch,
        Some(other) => {
            return Err(AwsConfigError::Invalid {
                var: "TIDEMARK_KV_WRITE_MODE",
                reason: format!("{other:?}: expected conditional or batch"),
            })
        }
    };
    Ok(DynamoKv::new(clients.dynamodb.clone(), required("TIDEMARK_KV_TABLE")?)
        .with_mode(mode)
        .with_retention((days > 0).then(|| Duration::from_secs(days * 86_400))))
}

/// `TIDEMARK_KV_WRITE_SHARDS` (default 4).
pub fn write_shards() -> Result<u16, AwsConfigError> {
    let n: u16 = number("TIDEMARK_KV_WRITE_SHARDS", 4)?;
    if n == 0 {
        return Err(AwsConfigError::Invalid { var: "TIDEMARK_KV_WRITE_SHARDS", reason: "must be at least 1".into() });
    }
    Ok(n)
}

/// The key layout the stream-store writes and the jobs read: `TIDEMARK_KV_WRITE_SHARDS`
/// write shards per hour.
pub fn kv_layout() -> Result<KvLayout, AwsConfigError> {
    Ok(KvLayout { write_shards: write_shards()?, ..KvLayout::default() })
}

/// How the daily indices expire, `TIDEMARK_KV_RETENTION_DAYS` after their day (the
/// key-value store's retention): by an ISM policy on a managed domain, by stream-index
/// dropping them on a Serverless collection; `None` on an emulator.
pub fn search_expiry(endpoint: &Endpoint) -> Result<Option<SearchExpiry>, AwsConfigError> {
    let emulated =
        endpoint.url().is_some() || optional("TIDEMARK_SEARCH_URL").is_some_and(|u| u.starts_with("http://"));
    if emulated {
        return Ok(None);
    }
    let days = number("TIDEMARK_KV_RETENTION_DAYS", 35)?;
    match optional("TIDEMARK_SEARCH_BACKEND").as_deref() {
        None | Some("domain") => Ok(Some(SearchExpiry::IsmPolicy { days })),
        Some("serverless") => Ok(Some(SearchExpiry::DropDailyIndices { days })),
        Some(other) => Err(AwsConfigError::Invalid {
            var: "TIDEMARK_SEARCH_BACKEND",
            reason: format!("{other:?}: use domain or serverless"),
        }),
    }
}

/// See [`search_expiry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchExpiry {
    IsmPolicy { days: u32 },
    DropDailyIndices { days: u32 },
}

/// `TIDEMARK_SEARCH_URL`, `TIDEMARK_SEARCH_BACKEND` (`domain` | `serverless`: SigV4
/// as `es` or `aoss`; with `TIDEMARK_AWS_ENDPOINT` set, requests go unsigned to an
/// emulator), `TIDEMARK_SEARCH_PREFIX` (default `tidemark-events`).
pub fn search(endpoint: &Endpoint, clients: &AwsClients) -> Result<OpenSearchIndex, AwsConfigError> {
    let url = required("TIDEMARK_SEARCH_URL")?;
    let service = match optional("TIDEMARK_SEARCH_BACKEND").as_deref() {
        None | Some("domain") => "es",
        Some("serverless") => "aoss",
        Some(other) => {
            return Err(AwsConfigError::Invalid {
                var: "TIDEMARK_SEARCH_BACKEND",
                reason: format!("{other:?}: expected domain or serverless"),
            })
        }
    };
    let auth = if endpoint.url().is_some() || url.starts_with("http://") {
        SearchAuth::None
    } else {
        // The configuration the clients were built from: loaded once at cold start.
        match (clients.sdk.credentials_provider(), clients.sdk.region()) {
            (Some(credentials), Some(region)) => SearchAuth::SigV4 { credentials, region: region.clone(), service },
            _ => {
                return Err(AwsConfigError::Invalid {
                    var: "AWS_REGION",
                    reason: "no credentials or region to sign OpenSearch requests with".into(),
                })
            }
        }
    };
    let prefix = optional("TIDEMARK_SEARCH_PREFIX").unwrap_or_else(|| "tidemark-events".into());
    OpenSearchIndex::connect(&url, auth, &prefix)
        .map_err(|e| AwsConfigError::Invalid { var: "TIDEMARK_SEARCH_URL", reason: e.to_string() })
}

/// `TIDEMARK_STREAM_RETENTION_HOURS`: how long Kinesis keeps a record (default 168,
/// the template's).
pub fn stream_retention_hours() -> Result<u32, AwsConfigError> {
    number("TIDEMARK_STREAM_RETENTION_HOURS", 168)
}

/// `TIDEMARK_RAW_RETENTION_DAYS`: how long the bucket's lifecycle keeps a raw extract
/// (the template passes `RawRetentionDays`; default 90). batch-load compacts the state
/// that loads read before it is half that old.
pub fn raw_retention() -> Result<RawRetention, AwsConfigError> {
    let days: u32 = number("TIDEMARK_RAW_RETENTION_DAYS", 90)?;
    if days == 0 {
        return Err(AwsConfigError::Invalid {
            var: "TIDEMARK_RAW_RETENTION_DAYS",
            reason: "must be at least 1".into(),
        });
    }
    Ok(RawRetention { keep: chrono::Duration::days(i64::from(days)) })
}

/// `TIDEMARK_SCHEDULE`: the EventBridge expression the template schedules a job
/// function with (its `<Job>Schedule` parameter), checked against the pipeline file's.
pub fn schedule() -> Option<String> {
    optional("TIDEMARK_SCHEDULE")
}

/// `TIDEMARK_BUCKET` (the interim store), `TIDEMARK_INTERIM_PREFIX` (default none).
pub fn interim(clients: &AwsClients) -> Result<(S3ObjectStore, String), AwsConfigError> {
    let bucket = required("TIDEMARK_BUCKET")?;
    let prefix = optional("TIDEMARK_INTERIM_PREFIX").unwrap_or_default();
    let url = match prefix.trim_matches('/') {
        "" => format!("s3://{bucket}/"),
        p => format!("s3://{bucket}/{p}/"),
    };
    Ok((S3ObjectStore::new(clients.s3.clone(), bucket, &prefix), url))
}

/// `TIDEMARK_REDSHIFT_WORKGROUP`, `TIDEMARK_REDSHIFT_DATABASE` (default `tidemark`),
/// `TIDEMARK_REDSHIFT_COPY_ROLE` (the role COPY reads the staged parts with), and the
/// read-only database role the jobs' schema setup grants, `TIDEMARK_REDSHIFT_READ_ROLE`
/// (default `tidemark_reader`) on `TIDEMARK_REDSHIFT_SCHEMA` (default `public`).
pub fn warehouse(clients: &AwsClients) -> Result<RedshiftWarehouse, AwsConfigError> {
    // The longest wait for one statement: shorter than the function's own timeout
    // (the template sets it per function), so a slow statement ends in an error the
    // job reports rather than in a killed function.
    let wait = std::time::Duration::from_secs(number("TIDEMARK_SQL_TIMEOUT_SECS", 25)?);
    let api = DataApi::new(
        clients.redshift.clone(),
        required("TIDEMARK_REDSHIFT_WORKGROUP")?,
        optional("TIDEMARK_REDSHIFT_DATABASE").unwrap_or_else(|| "tidemark".into()),
    )
    .with_timeout(wait);
    let (store, url) = interim(clients)?;
    let staging = S3Staging::new(store, url, required("TIDEMARK_REDSHIFT_COPY_ROLE")?);
    let access = ReadAccess {
        role: optional("TIDEMARK_REDSHIFT_READ_ROLE").unwrap_or_else(|| "tidemark_reader".into()),
        schema: optional("TIDEMARK_REDSHIFT_SCHEMA").unwrap_or_else(|| "public".into()),
    };
    Ok(RedshiftWarehouse::new(api, staging, Dialect::Redshift).with_read_access(access))
}

/// The pipeline file at `TIDEMARK_PIPELINE_KEY` in the interim bucket, parsed and
/// validated once at cold start.
pub async fn pipeline(clients: &AwsClients) -> Result<Pipeline, AwsConfigError> {
    let (pipeline, location) = pipeline_if_present(clients).await?;
    pipeline.ok_or_else(|| AwsConfigError::Invalid {
        var: "TIDEMARK_PIPELINE_KEY",
        reason: format!("{location}: no such object in TIDEMARK_BUCKET"),
    })
}

/// The pipeline file if the bucket holds one (a fresh stack does not), and where it is
/// looked for (`s3://bucket/key`); one that is there but does not parse is an error.
pub async fn pipeline_if_present(clients: &AwsClients) -> Result<(Option<Pipeline>, String), AwsConfigError> {
    let var = "TIDEMARK_PIPELINE_KEY";
    let key = required(var)?;
    let (store, url) = interim(clients)?;
    let location = format!("{url}{key}");
    let Some(bytes) = store.get(&key).await.map_err(|e| AwsConfigError::Invalid { var, reason: e.to_string() })? else {
        return Ok((None, location));
    };
    let text =
        String::from_utf8(bytes).map_err(|_| AwsConfigError::Invalid { var, reason: format!("{key}: not UTF-8") })?;
    let pipeline =
        Pipeline::parse(&text).map_err(|e| AwsConfigError::Invalid { var, reason: format!("{key}: {e}") })?;
    Ok((Some(pipeline), location))
}
