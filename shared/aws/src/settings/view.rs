//! The settings as the console shows them on AWS (`GET /v1/settings`): every value the
//! function runs with, by the variable that set it. Secrets are named, never read here:
//! the admin tokens and write keys appear as the secret's name.

use serde_json::{json, Value};

use super::{SearchBackend, Settings};
use crate::dynamodb::WriteMode;

impl Settings {
    /// What the console's settings panel shows.
    pub fn view(&self) -> Value {
        let backend = match self.search_backend {
            SearchBackend::Domain => "domain",
            SearchBackend::Serverless => "serverless",
        };
        let write_mode = match self.kv_write_mode {
            WriteMode::Conditional => "conditional",
            WriteMode::Batch => "batch",
        };
        json!({
            "deployment": "aws",
            "endpoint": self.endpoint.url().unwrap_or("AWS"),
            "stream": {"name": self.stream_name, "retention_hours": self.stream_retention_hours},
            "kv": {
                "table": self.kv_table,
                "retention_days": self.kv_retention_days,
                "write_mode": write_mode,
                "write_shards": self.kv_write_shards,
            },
            "search": {"url": self.search_url, "backend": backend, "prefix": self.search_prefix},
            "interim": {
                "bucket": self.bucket,
                "prefix": self.interim_prefix,
                "pipeline_key": self.pipeline_key,
                "raw_retention_days": self.raw_retention.keep.num_days(),
            },
            "warehouse": {
                "redshift_workgroup": self.redshift_workgroup,
                "database": self.redshift_database,
                "read_role": self.read_access.role,
                "schema": self.read_access.schema,
                "sql_timeout_secs": self.sql_timeout.as_secs(),
            },
            "admin_tokens_secret": self.admin_tokens_secret,
            "notify_topic": self.notify_topic,
            "job_functions": self.job_functions,
            "consumer_functions": self.consumer_functions,
            "dead_letter_queues": self.dead_letter_queues,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_names_every_setting_and_no_secret_value() {
        let settings = Settings::from_vars(|var| match var {
            "TIDEMARK_STREAM_NAME" => Some("tidemark-events-dev".into()),
            "TIDEMARK_KV_TABLE" => Some("tidemark-events-dev".into()),
            "TIDEMARK_ADMIN_TOKENS_SECRET" => Some("arn:aws:secretsmanager:eu-west-1:1:secret:tokens".into()),
            "TIDEMARK_CONSUMER_FUNCTIONS" => Some("tidemark-{consumer}-dev".into()),
            _ => None,
        })
        .unwrap();
        let view = settings.view();
        assert_eq!(view["stream"]["name"], "tidemark-events-dev");
        assert_eq!(view["kv"]["write_shards"], 4);
        assert_eq!(view["search"]["backend"], "domain");
        assert_eq!(view["admin_tokens_secret"], "arn:aws:secretsmanager:eu-west-1:1:secret:tokens");
        assert_eq!(view["consumer_functions"], "tidemark-{consumer}-dev");
        assert_eq!(view["endpoint"], "AWS");
    }
}
