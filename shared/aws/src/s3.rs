//! The object store port on S3: the interim store (raw extracts, manifests, quarantine
//! files) and staged data under one bucket and prefix.
//!
//! Objects up to `MULTIPART_THRESHOLD` go up in one `PutObject`; larger ones as a
//! multipart upload of `PART_SIZE` parts, aborted if any part fails so that no
//! half-object is ever visible (S3 shows a multipart object only once it is completed).

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use tidemark_core::ports::object_store::check_key;
use tidemark_core::ports::{ObjectStore, ObjectStoreError};

use crate::retry::describe;

pub const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// S3's minimum part size is 5 MiB (except the last part).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    /// Every key lives under this prefix (empty, or ending in `/`).
    prefix: String,
    multipart_threshold: usize,
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: &str) -> Self {
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Self { client, bucket: bucket.into(), prefix, multipart_threshold: MULTIPART_THRESHOLD }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn put_multipart(&self, key: &str, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        let io = |message: String| ObjectStoreError::Io { key: key.to_string(), message };
        let full = self.full_key(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| io(describe(&e)))?;
        let upload_id = created.upload_id().ok_or_else(|| io("CreateMultipartUpload gave no upload id".into()))?;
        let mut parts = Vec::new();
        let mut failure = None;
        for (n, chunk) in body.chunks(PART_SIZE).enumerate() {
            let number = i32::try_from(n + 1).map_err(|_| io("too many parts".into()))?;
            let sent = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
                }
                Err(e) => {
                    failure = Some(describe(&e));
                    break;
                }
            }
        }
        if failure.is_none() {
            let done = self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await;
            match done {
                Ok(_) => return Ok(()),
                Err(e) => failure = Some(describe(&e)),
            }
        }
        let reason = failure.unwrap_or_default();
        if let Err(e) =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(&full).upload_id(upload_id).send().await
        {
            tracing::warn!(key = %full, error = %describe(&e), "multipart abort failed");
        }
        Err(io(reason))
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        if body.len() > self.multipart_threshold {
            return self.put_multipart(key, body).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ObjectStoreError::Io { key: key.to_string(), message: describe(&e) })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        check_key(key)?;
        let io = |message: String| ObjectStoreError::Io { key: key.to_string(), message };
        match self.client.get_object().bucket(&self.bucket).key(self.full_key(key)).send().await {
            Ok(out) => {
                let bytes = out.body.collect().await.map_err(|e| io(e.to_string()))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => Ok(None),
            Err(e) => Err(io(describe(&e))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ObjectStoreError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(self.full_key(prefix))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| ObjectStoreError::Io { key: prefix.to_string(), message: describe(&e) })?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(key.to_string());
                }
            }
            match page.next_continuation_token {
                Some(next) if page.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ObjectStoreError::Io { key: key.to_string(), message: describe(&e) })
    }
}
