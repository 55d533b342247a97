//! Which adapter reads which source kind; `${VAR}` in URLs comes from the environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::pipeline::{expand_vars, SourceDef, SourceKind};
use tidemark_core::ports::{SourceError, SourceReader};

use crate::{FileReader, MysqlReader, PostgresReader};

/// Builds readers; relative file paths are taken from `base_dir` (the pipeline file's folder).
#[derive(Debug, Clone)]
pub struct Connectors {
    pub base_dir: PathBuf,
}

impl Connectors {
    pub fn new(base_dir: impl AsRef<Path>) -> Self {
        Connectors { base_dir: base_dir.as_ref().to_path_buf() }
    }
}

impl SourceFactory for Connectors {
    fn reader(&self, s: &SourceDef) -> Result<Arc<dyn SourceReader>, SourceError> {
        let config = |message: String| SourceError::Connect { source_name: s.name.clone(), message };
        let url = || -> Result<String, SourceError> {
            let raw = s.url.as_deref().ok_or_else(|| config("url is missing".into()))?;
            expand_vars(raw, |v| std::env::var(v).ok()).map_err(config)
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
