//! Reading the whole table page by page, and deleting by key: what forgetting a
//! person needs from a store keyed by time.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use tidemark_core::kv_key::{KvItem, KvKey};
use tidemark_core::ports::KvError;

use super::{item_from, key_attributes, DynamoKv, BATCH_WRITE_MAX};
use crate::retry::{describe, is_retryable};

impl DynamoKv {
    /// Up to `limit` items (strongly consistent) after `after`: DynamoDB resumes a scan
    /// from the key it last returned, which is what `after` is. A `Scan` answer stops at
    /// 1 MB, so pages are read until `limit` items are in hand or the table ends: fewer
    /// than `limit` means the end.
    pub(super) async fn scan_page(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        let limit = limit.max(1);
        let mut start = after.as_ref().map(key_attributes);
        let mut items = Vec::new();
        let mut delays = self.retry.delays();
        while items.len() < limit {
            let want = i32::try_from(limit - items.len()).unwrap_or(i32::MAX);
            let sent = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .limit(want)
                .set_exclusive_start_key(start.clone())
                .send()
                .await;
            match sent {
                Ok(page) => {
                    for attrs in page.items() {
                        items.push(item_from(attrs)?);
                    }
                    match page.last_evaluated_key {
                        Some(key) if !key.is_empty() => start = Some(key),
                        _ => break,
                    }
                }
                Err(e) if is_retryable(&e) => match delays.next() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => return Err(KvError::Unavailable(format!("Scan {}: {}", self.table, describe(&e)))),
                },
                Err(e) => return Err(KvError::Rejected(format!("Scan {}: {}", self.table, describe(&e)))),
            }
        }
        Ok(items)
    }

    /// `BatchWriteItem` deletes in groups of 25 (without repeats: a group naming one key
    /// twice is refused).
    pub(super) async fn delete_keys(&self, mut keys: Vec<KvKey>) -> Result<(), KvError> {
        keys.sort();
        keys.dedup();
        for group in keys.chunks(BATCH_WRITE_MAX) {
            let mut requests = Vec::with_capacity(group.len());
            for key in group {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key_attributes(key)))
                    .build()
                    .map_err(|e| KvError::Rejected(e.to_string()))?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            self.send_writes(requests).await?;
        }
        Ok(())
    }
}
