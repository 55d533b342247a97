//! File sources (CSV, JSON lines, web logs) kept in S3, for batch-extract on Lambda:
//! `path = "s3://bucket/key"` in the pipeline file. Incremental runs fetch only the
//! bytes after the last run's offset (a ranged GET) and are cut into parts exactly as
//! local files are ([`FileReader::cut`]). An object shorter than that offset was
//! replaced: it is read from the start.

use async_trait::async_trait;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::Client;
use futures::StreamExt;
use tidemark_core::batch::pipeline::{ExtractMode, SourceKind};
use tidemark_core::ports::{ExtractFrom, Extraction, SourceError, SourceReader};
use tidemark_sources::FileReader;

use crate::retry::describe;

/// A CSV part repeats the header line; an incremental run reads it from this much of the
/// object's start.
const HEADER_BYTES: u64 = 64 * 1024;

/// Splits `s3://bucket/key` into its bucket and key.
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

#[derive(Clone)]
pub struct S3FileReader {
    client: Client,
    bucket: String,
    key: String,
    /// The source's name, kind and mode; its path is the `s3://` URL, for messages.
    file: FileReader,
}

impl S3FileReader {
    pub fn new(client: Client, bucket: String, key: String, file: FileReader) -> Self {
        S3FileReader { client, bucket, key, file }
    }

    fn err(&self, message: impl std::fmt::Display) -> SourceError {
        SourceError::Read {
            source_name: self.file.name.clone(),
            message: format!("s3://{}/{}: {message}", self.bucket, self.key),
        }
    }

    /// The bytes of `range`, from the version `etag` names (a replaced object fails the
    /// read instead of mixing two versions).
    async fn get(&self, range: String, etag: Option<&str>) -> Result<Vec<u8>, SourceError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(range)
            .set_if_match(etag.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.err(describe(&e)))?;
        let bytes = out.body.collect().await.map_err(|e| self.err(e))?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[async_trait]
impl SourceReader for S3FileReader {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError> {
        let head = match self.client.head_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(head) => head,
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => {
                return Err(self.err("no such object"))
            }
            Err(e) => return Err(self.err(describe(&e))),
        };
        let size = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
        let etag = head.e_tag();
        let snapshot = self.file.mode == ExtractMode::Snapshot;
        let start = self.file.start_offset(from.offset, size);
        let parts = if start >= size {
            Vec::new()
        } else {
            let bytes = self.get(format!("bytes={start}-"), etag).await?;
            let header = if start > 0 && self.file.kind == SourceKind::Csv {
                self.get(format!("bytes=0-{}", HEADER_BYTES.min(size) - 1), etag).await?
            } else {
                Vec::new()
            };
            let file_start = if start == 0 { &bytes } else { &header };
            self.file.cut(file_start, &bytes, start, from.part_rows.max(1), snapshot)
        };
        Ok(Extraction { columns: Vec::new(), parts: futures::stream::iter(parts.into_iter().map(Ok)).boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_need_a_bucket_and_a_key() {
        assert_eq!(parse_s3_url("s3://shop/exports/a.csv"), Some(("shop".into(), "exports/a.csv".into())));
        assert_eq!(parse_s3_url("s3://shop/"), None);
        assert_eq!(parse_s3_url("s3:///a.csv"), None);
        assert_eq!(parse_s3_url("exports/a.csv"), None);
    }
}
