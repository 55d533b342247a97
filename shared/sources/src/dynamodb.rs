//! DynamoDB tables as a batch source: a parallel scan (`segments` requests at once, each
//! following its own pages), the items written to the parts exactly as the API returned
//! them (DynamoDB JSON; the load reads fields by dotted path through the type wrappers).
//!
//! Incremental runs scan with `cursor > last` as a filter expression, the last value
//! bound as an expression attribute value of the type it had, never written into the
//! expression. A scan has no order, so the cursor the run records is the largest it saw,
//! carried by its last part; as for database sources, an item that appears later with a
//! cursor equal to that largest one is not read again.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use tidemark_core::ports::{ExtractFrom, Extraction, SourceError, SourceReader};
use tokio::sync::mpsc;

use crate::aws_api::{AwsApi, AwsApiError};
use crate::parts::PartWriter;

#[derive(Debug, Clone)]
pub struct DynamodbReader {
    pub name: String,
    pub table: String,
    /// The attribute (dotted for a nested one) that only grows; `None` for snapshots.
    pub cursor: Option<String>,
    pub segments: u32,
    pub api: Arc<AwsApi>,
}

/// One page of one segment: its items, serialized, and the largest cursor among them.
struct Page {
    lines: Vec<Vec<u8>>,
    cursor: Option<Value>,
}

impl DynamodbReader {
    fn err(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Read { source_name: self.name.clone(), message: format!("dynamodb table {}: {e}", self.table) }
    }

    /// The `Scan` request of one segment, from `start` (the previous page's last key).
    fn scan_request(&self, segment: u32, from: Option<&Value>, start: Option<&Value>) -> Value {
        let mut request = json!({ "TableName": self.table });
        if self.segments > 1 {
            request["Segment"] = json!(segment);
            request["TotalSegments"] = json!(self.segments);
        }
        if let (Some(cursor), Some(from)) = (&self.cursor, from) {
            let parts: Vec<&str> = cursor.split('.').collect();
            let path: Vec<String> = (0..parts.len()).map(|i| format!("#c{i}")).collect();
            let names: Map<String, Value> = path.iter().cloned().zip(parts.iter().map(|part| json!(part))).collect();
            request["FilterExpression"] = json!(format!("{} > :from", path.join(".")));
            request["ExpressionAttributeNames"] = Value::Object(names);
            request["ExpressionAttributeValues"] = json!({ ":from": from });
        }
        if let Some(start) = start {
            request["ExclusiveStartKey"] = start.clone();
        }
        request
    }

    /// Reads one segment page by page into `pages`; throttling and server errors are
    /// retried with backoff.
    async fn scan_segment(self, segment: u32, from: Option<Value>, pages: mpsc::Sender<Result<Page, SourceError>>) {
        let mut start: Option<Value> = None;
        loop {
            let request = self.scan_request(segment, from.as_ref(), start.as_ref());
            let answer = (|| self.api.dynamodb("Scan", &request))
                .retry(ExponentialBuilder::default().with_min_delay(Duration::from_millis(100)).with_max_times(8))
                .when(AwsApiError::is_transient)
                .await;
            let page = answer.map_err(|e| self.err(e)).and_then(|answer| self.page(&answer));
            let (page, next) = match page {
                Ok((page, next)) => (page, next),
                Err(e) => {
                    // The receiver may be gone already; then nobody is left to tell.
                    if pages.send(Err(e)).await.is_err() {
                        tracing::debug!(source = %self.name, "extract receiver closed before the error");
                    }
                    return;
                }
            };
            if pages.send(Ok(page)).await.is_err() {
                return;
            }
            match next {
                Some(key) => start = Some(key),
                None => return,
            }
        }
    }

    fn page(&self, answer: &Value) -> Result<(Page, Option<Value>), SourceError> {
        let items =
            answer.get("Items").and_then(Value::as_array).ok_or_else(|| self.err("Scan answer without Items"))?;
        let mut page = Page { lines: Vec::with_capacity(items.len()), cursor: None };
        for item in items {
            page.lines.push(serde_json::to_vec(item).map_err(|e| self.err(e))?);
            if let Some(value) = self.cursor.as_deref().and_then(|path| attribute(item, path)) {
                page.cursor = later(page.cursor.take(), value);
            }
        }
        Ok((page, answer.get("LastEvaluatedKey").filter(|k| !k.is_null()).cloned()))
    }
}

/// The attribute value (still typed) at a dotted path of an item.
fn attribute<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = item.get(parts.next()?)?;
    for part in parts {
        current = current.get("M")?.get(part)?;
    }
    Some(current)
}

/// The later of two cursor values: numbers (`N`) compared as numbers, text (`S`, such
/// as ISO-8601 times) as text. A value of another type than the first one seen is
/// ignored: it cannot be compared, and the filter would not match it either.
fn later(current: Option<Value>, candidate: &Value) -> Option<Value> {
    let Some(current) = current else {
        return (candidate.get("N").is_some() || candidate.get("S").is_some()).then(|| candidate.clone());
    };
    let order = match (current.get("N").and_then(Value::as_str), candidate.get("N").and_then(Value::as_str)) {
        (Some(a), Some(b)) => compare_numbers(a, b),
        _ => match (current.get("S").and_then(Value::as_str), candidate.get("S").and_then(Value::as_str)) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => Ordering::Equal,
        },
    };
    Some(if order == Ordering::Less { candidate.clone() } else { current })
}

fn compare_numbers(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

#[async_trait]
impl SourceReader for DynamodbReader {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError> {
        // Two pages in flight per segment hold a slow object store's back-pressure.
        let (page_tx, mut page_rx) = mpsc::channel(2 * self.segments.max(1) as usize);
        let cursor_from = from.cursor.filter(|_| self.cursor.is_some());
        for segment in 0..self.segments.max(1) {
            tokio::spawn(self.clone().scan_segment(segment, cursor_from.clone(), page_tx.clone()));
        }
        drop(page_tx);
        let (tx, rx) = futures::channel::mpsc::channel(2);
        let name = self.name.clone();
        tokio::spawn(async move {
            let mut writer = PartWriter::new(tx, from.part_rows);
            let mut largest: Option<Value> = None;
            while let Some(page) = page_rx.recv().await {
                let page = match page {
                    Ok(page) => page,
                    Err(e) => return writer.fail(e).await,
                };
                if let Some(cursor) = &page.cursor {
                    largest = later(largest, cursor);
                }
                for line in page.lines {
                    if writer.push(&line, largest.clone()).await.is_err() {
                        return;
                    }
                }
            }
            if writer.flush().await.is_err() {
                tracing::debug!(source = %name, "extract receiver closed");
            }
        });
        Ok(Extraction { columns: Vec::new(), parts: rx.boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(cursor: Option<&str>, segments: u32) -> DynamodbReader {
        let vars = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
            "TIDEMARK_AWS_ENDPOINT" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        DynamodbReader {
            name: "carts".into(),
            table: "Carts".into(),
            cursor: cursor.map(str::to_owned),
            segments,
            api: Arc::new(AwsApi::from_vars(vars).expect("api")),
        }
    }

    #[test]
    fn the_last_cursor_is_bound_as_a_value_and_the_path_as_names() {
        let hostile = json!({"S": "2026-01-01' OR 1=1 --"});
        let request = reader(Some("meta.updated_at"), 4).scan_request(2, Some(&hostile), None);
        assert_eq!(request["FilterExpression"], "#c0.#c1 > :from");
        assert_eq!(request["ExpressionAttributeNames"], json!({"#c0": "meta", "#c1": "updated_at"}));
        assert_eq!(request["ExpressionAttributeValues"][":from"], hostile);
        assert_eq!((request["Segment"].clone(), request["TotalSegments"].clone()), (json!(2), json!(4)));
    }

    #[test]
    fn a_snapshot_or_a_first_run_scans_everything() {
        let first = reader(Some("updated_at"), 1).scan_request(0, None, None);
        assert_eq!(first, json!({"TableName": "Carts"}), "one segment needs no Segment parameters");
        let next = reader(None, 1).scan_request(0, None, Some(&json!({"id": {"S": "a"}})));
        assert_eq!(next["ExclusiveStartKey"], json!({"id": {"S": "a"}}));
    }

    #[test]
    fn the_recorded_cursor_is_the_largest_seen_by_type() {
        let n = |v: &str| json!({"N": v});
        assert_eq!(later(Some(n("9")), &n("10")), Some(n("10")), "numbers compare as numbers, not text");
        assert_eq!(later(Some(n("10")), &n("9.5")), Some(n("10")));
        let s = |v: &str| json!({"S": v});
        assert_eq!(later(Some(s("2026-01-02T00:00:00Z")), &s("2026-01-10T00:00:00Z")), Some(s("2026-01-10T00:00:00Z")));
        assert_eq!(later(Some(n("5")), &s("x")), Some(n("5")), "another type cannot be compared");
        assert_eq!(later(None, &json!({"BOOL": true})), None);
    }

    #[test]
    fn a_page_keeps_items_as_they_came_and_finds_nested_cursors() {
        let answer = json!({
            "Items": [
                {"id": {"S": "a"}, "meta": {"M": {"at": {"N": "7"}}}},
                {"id": {"S": "b"}, "meta": {"M": {"at": {"N": "12"}}}},
                {"id": {"S": "c"}}
            ],
            "LastEvaluatedKey": {"id": {"S": "c"}}
        });
        let (page, next) = reader(Some("meta.at"), 1).page(&answer).unwrap();
        assert_eq!(page.lines[0], br#"{"id":{"S":"a"},"meta":{"M":{"at":{"N":"7"}}}}"#);
        assert_eq!(page.cursor, Some(json!({"N": "12"})));
        assert_eq!(next, Some(json!({"id": {"S": "c"}})));
    }
}
