//! The key-value port on DynamoDB: the bucketed, write-sharded layout of DESIGN.md.
//!
//! Item: `pk` (S, `<stream>#<hour>#<write shard>`), `sk` (S, `<time>#<event_id>`),
//! `v` (B, the event's JSON) and, when retention is set, `expires_at` (N, epoch seconds,
//! the table's TTL attribute), except on partitions under `PERMANENT_PREFIX` (write keys
//! made in the console), which stay until they are deleted.
//!
//! Two write modes:
//! - `Conditional` (default): one `PutItem` per item with `attribute_not_exists(pk)`,
//!   many in flight. A `ConditionalCheckFailedException` is a duplicate delivery,
//!   counted as absorbed; the first write of a key wins, as in the embedded store.
//! - `Batch`: `BatchWriteItem` in groups of 25, `UnprocessedItems` resent after a
//!   jittered pause. Half the request count, but a duplicate overwrites its key with the
//!   same bytes instead of being counted, so every item reports `Stored`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};
use tidemark_core::kv_key::{KvItem, KvKey, PERMANENT_PREFIX};
use tidemark_core::ports::{KvError, KvStore, PutItemOutcome};

use crate::retry::{describe, is_retryable, RetryPolicy};

mod scan;

pub const BATCH_WRITE_MAX: usize = 25;
/// `BatchGetItem` takes at most 100 keys.
pub const BATCH_GET_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    #[default]
    Conditional,
    Batch,
}

#[derive(Clone)]
pub struct DynamoKv {
    client: Client,
    table: String,
    mode: WriteMode,
    /// Items expire this long after they are written (the table's TTL attribute).
    retention: Option<Duration>,
    /// Conditional puts in flight at once.
    concurrency: usize,
    retry: RetryPolicy,
}

impl DynamoKv {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            mode: WriteMode::Conditional,
            retention: None,
            concurrency: 32,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn with_retention(mut self, retention: Option<Duration>) -> Self {
        self.retention = retention;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn attributes(&self, item: &KvItem) -> HashMap<String, AttributeValue> {
        let mut attrs = HashMap::from([
            ("pk".to_string(), AttributeValue::S(item.key.pk.clone())),
            ("sk".to_string(), AttributeValue::S(item.key.sk.clone())),
            ("v".to_string(), AttributeValue::B(Blob::new(item.value.clone()))),
        ]);
        if let Some(retention) = self.retention.filter(|_| !item.key.pk.starts_with(PERMANENT_PREFIX)) {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            attrs.insert("expires_at".into(), AttributeValue::N((now + retention).as_secs().to_string()));
        }
        attrs
    }

    async fn put_conditional(&self, item: &KvItem) -> Result<PutItemOutcome, KvError> {
        let mut delays = self.retry.delays();
        loop {
            let sent = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.attributes(item)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(PutItemOutcome::Stored),
                Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                    return Ok(PutItemOutcome::Duplicate)
                }
                Err(e) => e,
            };
            if !is_retryable(&err) {
                return Err(KvError::Rejected(format!("PutItem {}: {}", self.table, describe(&err))));
            }
            match delays.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(KvError::Unavailable(format!("PutItem {}: {}", self.table, describe(&err)))),
            }
        }
    }

    /// Reads one group of at most 100 keys with `BatchGetItem` (strongly consistent),
    /// asking again for `UnprocessedKeys` after a pause until none are left.
    async fn batch_get(&self, keys: &[&KvKey]) -> Result<Vec<KvItem>, KvError> {
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().copied().map(key_attributes).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| KvError::Rejected(e.to_string()))?;
        let mut items = Vec::new();
        let mut delays = self.retry.delays();
        loop {
            let sent = self.client.batch_get_item().request_items(self.table.clone(), request.clone()).send().await;
            let reason = match sent {
                Ok(mut out) => {
                    for attrs in out.responses.as_mut().and_then(|r| r.remove(&self.table)).unwrap_or_default() {
                        items.push(item_from(&attrs)?);
                    }
                    match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                        Some(rest) if !rest.keys().is_empty() => request = rest,
                        _ => return Ok(items),
                    }
                    format!("{} keys unprocessed", request.keys().len())
                }
                Err(e) if is_retryable(&e) => describe(&e),
                Err(e) => return Err(KvError::Rejected(format!("BatchGetItem {}: {}", self.table, describe(&e)))),
            };
            match delays.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(KvError::Unavailable(format!("BatchGetItem {}: {reason}", self.table))),
            }
        }
    }

    /// Writes one group of at most 25 items, resending `UnprocessedItems` (or the whole
    /// group after a retryable failure; puts are idempotent by key) until none are left
    /// or the retries are spent.
    async fn batch_write(&self, items: &[KvItem]) -> Result<(), KvError> {
        let mut requests: Vec<WriteRequest> = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(self.attributes(item)))
                .build()
                .map_err(|e| KvError::Rejected(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.send_writes(requests).await
    }

    /// Sends one `BatchWriteItem` group (puts or deletes) until nothing is unprocessed.
    async fn send_writes(&self, mut requests: Vec<WriteRequest>) -> Result<(), KvError> {
        let mut delays = self.retry.delays();
        loop {
            let sent = self.client.batch_write_item().request_items(self.table.clone(), requests.clone()).send().await;
            let reason = match sent {
                Ok(out) => {
                    requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                    if requests.is_empty() {
                        return Ok(());
                    }
                    format!("{} items unprocessed", requests.len())
                }
                Err(e) if is_retryable(&e) => describe(&e),
                Err(e) => return Err(KvError::Rejected(format!("BatchWriteItem {}: {}", self.table, describe(&e)))),
            };
            match delays.next() {
                Some(pause) => {
                    tracing::debug!(items = requests.len(), pause_ms = pause.as_millis() as u64, "dynamodb retry");
                    tokio::time::sleep(pause).await;
                }
                None => return Err(KvError::Unavailable(format!("BatchWriteItem {}: {reason}", self.table))),
            }
        }
    }
}

#[async_trait]
impl KvStore for DynamoKv {
    async fn put_items(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError> {
        // A key twice in one call: the first is written, the rest are duplicates.
        let mut seen: HashSet<&KvKey> = HashSet::with_capacity(items.len());
        let firsts: Vec<bool> = items.iter().map(|item| seen.insert(&item.key)).collect();
        let unique: Vec<KvItem> =
            items.iter().zip(&firsts).filter(|(_, first)| **first).map(|(i, _)| i.clone()).collect();
        // Each future owns its item and a handle on the client, so the stream is `Send`
        // without borrowing across the trait's boxed future.
        let written: Vec<PutItemOutcome> = match self.mode {
            WriteMode::Conditional => {
                let count = unique.len();
                futures::stream::iter(unique.into_iter().map(|item| {
                    let this = self.clone();
                    async move { this.put_conditional(&item).await }
                }))
                .buffered(self.concurrency)
                .try_collect::<Vec<_>>()
                .await
                .inspect(|w| debug_assert_eq!(w.len(), count))?
            }
            WriteMode::Batch => {
                let count = unique.len();
                let groups: Vec<Vec<KvItem>> = unique.chunks(BATCH_WRITE_MAX).map(<[KvItem]>::to_vec).collect();
                futures::stream::iter(groups.into_iter().map(|group| {
                    let this = self.clone();
                    async move { this.batch_write(&group).await }
                }))
                .buffer_unordered(4)
                .try_collect::<Vec<()>>()
                .await?;
                vec![PutItemOutcome::Stored; count]
            }
        };
        let mut written = written.into_iter();
        Ok(firsts
            .into_iter()
            .map(
                |first| {
                    if first {
                        written.next().unwrap_or(PutItemOutcome::Stored)
                    } else {
                        PutItemOutcome::Duplicate
                    }
                },
            )
            .collect())
    }

    async fn get_items(&self, keys: Vec<KvKey>) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let mut found: HashMap<KvKey, Vec<u8>> = HashMap::with_capacity(keys.len());
        let mut unique: Vec<&KvKey> = keys.iter().collect::<HashSet<_>>().into_iter().collect();
        unique.sort();
        for group in unique.chunks(BATCH_GET_MAX) {
            for item in self.batch_get(group).await? {
                found.insert(item.key, item.value);
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn query_partition(&self, pk: &str) -> Result<Vec<KvItem>, KvError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        let mut delays = self.retry.delays();
        loop {
            let sent = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start.clone())
                .send()
                .await;
            let page = match sent {
                Ok(page) => page,
                Err(e) if is_retryable(&e) => match delays.next() {
                    Some(pause) => {
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                    None => return Err(KvError::Unavailable(format!("Query {}: {}", self.table, describe(&e)))),
                },
                Err(e) => return Err(KvError::Rejected(format!("Query {}: {}", self.table, describe(&e)))),
            };
            for attrs in page.items() {
                items.push(item_from(attrs)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(items)
    }

    async fn scan(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        self.scan_page(after, limit).await
    }

    async fn delete_items(&self, keys: Vec<KvKey>) -> Result<(), KvError> {
        self.delete_keys(keys).await
    }
}

fn key_attributes(key: &KvKey) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(key.pk.clone())),
        ("sk".to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn item_from(attrs: &HashMap<String, AttributeValue>) -> Result<KvItem, KvError> {
    let text = |name: &str| match attrs.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(KvError::Rejected(format!("item without string attribute `{name}`"))),
    };
    let value = match attrs.get("v") {
        Some(AttributeValue::B(b)) => b.clone().into_inner(),
        _ => return Err(KvError::Rejected("item without binary attribute `v`".into())),
    };
    Ok(KvItem { key: KvKey { pk: text("pk")?, sk: text("sk")? }, value })
}
