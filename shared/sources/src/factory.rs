//! Which adapter reads which source kind; `${VAR}` in URLs comes from the given
//! variables (on AWS, the sources secret), then from the environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::pipeline::{expand_vars, SourceDef, SourceKind};
use tidemark_core::ports::{SourceError, SourceReader};

use crate::aws_api::AwsApi;
use crate::{DynamodbReader, FileReader, MysqlReader, PostgresReader};

/// Builds readers; relative file paths are taken from `base_dir` (the pipeline file's folder).
#[derive(Clone)]
pub struct Connectors {
    pub base_dir: PathBuf,
    /// Values for `${VAR}` in URLs, looked up before the environment. They hold
    /// passwords: `Debug` shows their names only.
    vars: Arc<HashMap<String, String>>,
    /// Where DynamoDB sources send their requests; `None` reads the `AWS_*` environment
    /// when such a source is first opened (only sources that need AWS ask for it).
    aws: Option<Arc<AwsApi>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Connectors").field("base_dir", &self.base_dir).field("vars", &names).finish()
    }
}

impl Connectors {
    pub fn new(base_dir: impl AsRef<Path>) -> Self {
        Connectors { base_dir: base_dir.as_ref().to_path_buf(), vars: Arc::default(), aws: None }
    }

    /// AWS access for DynamoDB sources, instead of the environment's.
    pub fn with_aws(mut self, api: AwsApi) -> Self {
        self.aws = Some(Arc::new(api));
        self
    }

    fn aws(&self) -> Result<Arc<AwsApi>, crate::aws_api::AwsApiError> {
        match &self.aws {
            Some(api) => Ok(api.clone()),
            None => AwsApi::from_env().map(Arc::new),
        }
    }

    /// `${VAR}` values that win over the environment (a secret's, read once at start).
    pub fn with_vars(mut self, vars: HashMap<String, String>) -> Self {
        self.vars = Arc::new(vars);
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned().or_else(|| std::env::var(name).ok())
    }
}

impl SourceFactory for Connectors {
    fn reader(&self, s: &SourceDef) -> Result<Arc<dyn SourceReader>, SourceError> {
        let config = |message: String| SourceError::Connect { source_name: s.name.clone(), message };
        let url = || -> Result<String, SourceError> {
            let raw = s.url.as_deref().ok_or_else(|| config("url is missing".into()))?;
            expand_vars(raw, |v| self.var(v)).map_err(|e| config(e.to_string()))
        };
        Ok(match s.kind {
            SourceKind::Postgres => Arc::new(PostgresReader {
                name: s.name.clone(),
                url: url()?,
                query: s.query.clone().unwrap_or_default(),
                cursor: s.cursor.clone().filter(|_| s.mode == tidemark_core::batch::pipeline::ExtractMode::Incremental),
                key: s.key.clone(),
            }),
            SourceKind::Mysql => Arc::new(MysqlReader {
                name: s.name.clone(),
                url: url()?,
                query: s.query.clone().unwrap_or_default(),
                cursor: s.cursor.clone().filter(|_| s.mode == tidemark_core::batch::pipeline::ExtractMode::Incremental),
                key: s.key.clone(),
            }),
            SourceKind::Dynamodb => Arc::new(DynamodbReader {
                name: s.name.clone(),
                table: s.table.clone().unwrap_or_default(),
                cursor: s.cursor.clone().filter(|_| s.mode == tidemark_core::batch::pipeline::ExtractMode::Incremental),
                segments: s.segments,
                api: self.aws().map_err(|e| config(e.to_string()))?,
            }),
            SourceKind::Realtime => {
                return Err(config("real-time events are compacted from the key-value store, not extracted".into()))
            }
            SourceKind::Csv | SourceKind::Jsonl | SourceKind::Weblog => {
                let path = PathBuf::from(s.path.as_deref().unwrap_or_default());
                Arc::new(FileReader {
                    name: s.name.clone(),
                    kind: s.kind,
                    path: if path.is_absolute() { path } else { self.base_dir.join(path) },
                    mode: s.mode,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_core::batch::pipeline::Pipeline;

    #[test]
    fn given_variables_win_over_the_environment_and_stay_out_of_debug() {
        let pipeline = Pipeline::parse(
            r#"
[[source]]
name  = "orders"
kind  = "postgres"
url   = "${TIDEMARK_TEST_ORDERS_URL}"
query = "SELECT 1"
mode  = "snapshot"
"#,
        )
        .expect("pipeline");
        let source = &pipeline.sources[0];
        let plain = Connectors::new(".");
        let err = plain.reader(source).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("TIDEMARK_TEST_ORDERS_URL is not set"), "{err}");
        let vars = HashMap::from([("TIDEMARK_TEST_ORDERS_URL".to_string(), "postgres://u:secret@db/x".to_string())]);
        let with = Connectors::new(".").with_vars(vars);
        assert!(with.reader(source).is_ok());
        let shown = format!("{with:?}");
        assert!(shown.contains("TIDEMARK_TEST_ORDERS_URL") && !shown.contains("secret"), "{shown}");
    }
}
