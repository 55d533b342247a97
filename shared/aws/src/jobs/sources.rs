//! The source readers on AWS: databases through the same connectors as on one machine
//! (their `${VAR}`s from the sources secret), file sources from `s3://` paths.

use std::path::PathBuf;
use std::sync::Arc;

use tidemark_core::batch::jobs::SourceFactory;
use tidemark_core::batch::pipeline::SourceDef;
use tidemark_core::ports::{SourceError, SourceReader};
use tidemark_sources::{Connectors, FileReader};

use crate::s3_source::{parse_s3_url, S3FileReader};

#[derive(Clone)]
pub struct AwsSources {
    pub connectors: Connectors,
    pub s3: aws_sdk_s3::Client,
}

impl SourceFactory for AwsSources {
    fn reader(&self, s: &SourceDef) -> Result<Arc<dyn SourceReader>, SourceError> {
        if !s.kind.is_file() {
            return self.connectors.reader(s);
        }
        let path = s.path.as_deref().unwrap_or_default();
        let (bucket, key) = parse_s3_url(path).ok_or_else(|| SourceError::Connect {
            source_name: s.name.clone(),
            message: format!("path {path:?}: on AWS a file source is read from S3: s3://bucket/key"),
        })?;
        let file = FileReader { name: s.name.clone(), kind: s.kind, path: PathBuf::from(path), mode: s.mode };
        Ok(Arc::new(S3FileReader::new(self.s3.clone(), bucket, key, file)))
    }
}
