//! The search index port on OpenSearch (a managed domain, OpenSearch Serverless, or any
//! server of the OpenSearch API), through the `opensearch` client.
//!
//! Events go to daily indices `<prefix>-YYYY.MM.DD` cut on `occurred_at`, with
//! `_id` = the idempotency key (`source/event_id`): a replay lands on the same index and
//! id and overwrites, never double-counts. A retry that carries another day's
//! `occurred_at` would land in another index, so before each bulk the batch's ids are
//! looked up across the daily indices (`ids` query) and one already kept elsewhere is
//! absorbed: the first delivery wins, as in the key-value store. An index template created at start gives every daily index the same
//! mapping (the fields of `tidemark_core::search::fields`; `properties` and `keys` are
//! kept in `_source` only, so that client-chosen names cannot explode the mapping).
//! Searches read only the daily indices of their `occurred_at` range ([`OpenSearchIndex::indices_of`]),
//! with the request body unchanged.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use opensearch::auth::Credentials;
use opensearch::http::headers::{HeaderMap, HeaderValue, CONTENT_TYPE};
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::{Method, StatusCode, Url};
use opensearch::OpenSearch;
use serde_json::{json, Map, Value};
use tidemark_core::event::Event;
use tidemark_core::ports::{IndexOutcome, SearchError, SearchIndex};
use tidemark_core::search::fields::{FieldKind, FIELDS};
use tidemark_core::search::{Query, SearchRequest, SearchResponse};

use crate::retry::RetryPolicy;

/// `_bulk` bodies stay under this size (OpenSearch's default `http.max_content_length`
/// is 100 MB; AWS domains take 10 MiB on small instances).
pub const MAX_BULK_BYTES: usize = 5 * 1024 * 1024;

/// How requests are signed.
#[derive(Clone)]
pub enum SearchAuth {
    /// A local or emulated server.
    None,
    /// SigV4 for the AWS-managed service: `es` for a domain, `aoss` for Serverless.
    SigV4 {
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        region: aws_types::region::Region,
        service: &'static str,
    },
}

#[derive(Clone)]
pub struct OpenSearchIndex {
    client: OpenSearch,
    prefix: String,
    /// Serverless has no `refresh` parameter; searches see writes within seconds.
    serverless: bool,
    max_bulk_bytes: usize,
    retry: RetryPolicy,
}

fn unavailable(e: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(e.to_string())
}

impl OpenSearchIndex {
    pub fn connect(url: &str, auth: SearchAuth, prefix: &str) -> Result<Self, SearchError> {
        let url = Url::parse(url).map_err(|e| SearchError::BadRequest(format!("search URL {url:?}: {e}")))?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(Duration::from_secs(30));
        let mut serverless = false;
        if let SearchAuth::SigV4 { credentials, region, service } = auth {
            serverless = service == "aoss";
            builder = builder.auth(Credentials::AwsSigV4(credentials, region)).service_name(service);
        }
        let transport = builder.build().map_err(unavailable)?;
        Ok(Self {
            client: OpenSearch::new(transport),
            prefix: prefix.to_string(),
            serverless,
            max_bulk_bytes: MAX_BULK_BYTES,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_max_bulk_bytes(mut self, bytes: usize) -> Self {
        self.max_bulk_bytes = bytes;
        self
    }

    fn index_name(&self, at: DateTime<Utc>) -> String {
        format!("{}-{}", self.prefix, at.format("%Y.%m.%d"))
    }

    /// The daily indices a search must read: those of its `occurred_at` range (by day up
    /// to a month, by month up to a year), or every index when the range is open or
    /// longer. Older indices have expired, so a search of this week never touches them.
    fn indices_of(&self, request: &SearchRequest) -> String {
        let every = format!("{}-*", self.prefix);
        let Some((Some(from), Some(to))) = request.query.occurred_within() else { return every };
        let (Some(from), Some(to)) =
            (DateTime::from_timestamp_millis(from as i64), DateTime::from_timestamp_millis(to as i64 - 1))
        else {
            return every;
        };
        let days = (to.date_naive() - from.date_naive()).num_days();
        let names: Vec<String> = match days {
            d if d < 0 => return every,
            0..=31 => (0..=days).map(|d| self.index_name(from + chrono::Duration::days(d))).collect(),
            32..=366 => {
                let mut months = Vec::new();
                let mut day = from.date_naive().with_day(1).unwrap_or(from.date_naive());
                while day <= to.date_naive() {
                    months.push(format!("{}-{}.*", self.prefix, day.format("%Y.%m")));
                    day = day.checked_add_months(chrono::Months::new(1)).unwrap_or(chrono::NaiveDate::MAX);
                }
                months
            }
            _ => return every,
        };
        names.join(",")
    }

    /// Deletes the daily indices of the `window` days before the day of `before`, whose
    /// events all happened before it; returns how many there were. A Serverless *search*
    /// collection (the kind that keeps client document ids, so that a redelivery
    /// overwrites instead of counting twice) takes no lifecycle policy, so the function
    /// that creates indices expires them: stream-index at each cold start.
    pub async fn drop_daily_indices(&self, before: DateTime<Utc>, window: u32) -> Result<u32, SearchError> {
        let mut dropped = 0;
        for days_back in 1..=i64::from(window) {
            let path = format!("/{}", self.index_name(before - chrono::Duration::days(days_back)));
            let (status, answer) = self.call(Method::Delete, &path, String::new(), "application/json").await?;
            match status {
                s if s.is_success() => dropped += 1,
                StatusCode::NOT_FOUND => {}
                s => return Err(SearchError::BadRequest(format!("DELETE {path}: {s}: {answer}"))),
            }
        }
        Ok(dropped)
    }

    /// The Index State Management policy that deletes a daily index `days` after its
    /// creation (managed domains; a Serverless collection has
    /// [`OpenSearchIndex::drop_daily_indices`] instead). Attached to every new index by
    /// its `ism_template`.
    fn retention_policy(&self, days: u32) -> Value {
        json!({
            "policy": {
                "description": format!("Tidemark events: delete daily indices after {days} days"),
                "default_state": "hot",
                "states": [
                    {"name": "hot", "actions": [],
                     "transitions": [{"state_name": "delete", "conditions": {"min_index_age": format!("{days}d")}}]},
                    {"name": "delete", "actions": [{"delete": {}}], "transitions": []}
                ],
                "ism_template": [{"index_patterns": [format!("{}-*", self.prefix)], "priority": 100}]
            }
        })
    }

    /// Puts [`OpenSearchIndex::retention_policy`], replacing an older version of it.
    /// Idempotent: run it at every cold start of the function that creates indices.
    pub async fn ensure_retention(&self, days: u32) -> Result<(), SearchError> {
        let path = format!("/_plugins/_ism/policies/{}-retention", self.prefix);
        let body = self.retention_policy(days).to_string();
        let (status, answer) = self.call(Method::Put, &path, body.clone(), "application/json").await?;
        if status.is_success() {
            return Ok(());
        }
        if status != StatusCode::CONFLICT {
            return Err(SearchError::BadRequest(format!("PUT {path}: {status}: {answer}")));
        }
        // It exists: replace it, naming the version we read (optimistic concurrency).
        let (_, existing) = self.call(Method::Get, &path, String::new(), "application/json").await?;
        let (seq, term) = (existing["_seq_no"].as_u64().unwrap_or(0), existing["_primary_term"].as_u64().unwrap_or(1));
        let update = format!("{path}?if_seq_no={seq}&if_primary_term={term}");
        let (status, answer) = self.call(Method::Put, &update, body, "application/json").await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(SearchError::BadRequest(format!("PUT {path}: {status}: {answer}")))
        }
    }

    /// The index template every daily index takes its mapping from. Idempotent: run it
    /// at every cold start.
    pub async fn ensure_template(&self) -> Result<(), SearchError> {
        let mut properties = Map::new();
        for (name, kind) in FIELDS {
            let mapping = match kind {
                FieldKind::Keyword => json!({ "type": "keyword" }),
                FieldKind::Date => json!({ "type": "date", "format": "strict_date_optional_time||epoch_millis" }),
                FieldKind::Number => json!({ "type": "double" }),
            };
            properties.insert((*name).to_string(), mapping);
        }
        properties.insert("properties".into(), json!({ "type": "object", "enabled": false }));
        properties.insert("keys".into(), json!({ "type": "object", "enabled": false }));
        let body = json!({
            "index_patterns": [format!("{}-*", self.prefix)],
            "template": {
                "mappings": { "dynamic": false, "properties": properties }
            }
        });
        let path = format!("/_index_template/{}", self.prefix);
        let (status, answer) = self.call(Method::Put, &path, body.to_string(), "application/json").await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(SearchError::BadRequest(format!("PUT {path}: {status}: {answer}")))
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: String,
        content_type: &'static str,
    ) -> Result<(StatusCode, Value), SearchError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let query: Option<&[(&str, &str)]> = match (path.ends_with("_bulk"), self.serverless) {
            (true, false) => Some(&[("refresh", "wait_for")]),
            _ => None,
        };
        let response = self.client.send(method, path, headers, query, Some(body), None).await.map_err(unavailable)?;
        let status = response.status_code();
        let text = response.text().await.map_err(unavailable)?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// The documents whose id is already kept in another daily index than their own.
    async fn kept_elsewhere(&self, docs: &[(String, String, Value)]) -> Result<HashSet<usize>, SearchError> {
        let ids: Vec<&str> = docs.iter().map(|(_, id, _)| id.as_str()).collect();
        let body = json!({ "size": ids.len(), "_source": false, "query": { "ids": { "values": ids } } });
        let path = format!("/{}-*/_search", self.prefix);
        let (status, answer) = self.call(Method::Post, &path, body.to_string(), "application/json").await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(HashSet::new());
        }
        if !status.is_success() {
            return Err(unavailable(format!("POST {path}: {status}: {answer}")));
        }
        let found: HashSet<(&str, &str)> = answer["hits"]["hits"]
            .as_array()
            .map(|hits| hits.iter().filter_map(|h| Some((h["_index"].as_str()?, h["_id"].as_str()?))).collect())
            .unwrap_or_default();
        let by_id: std::collections::HashMap<&str, Vec<&str>> =
            found.iter().fold(Default::default(), |mut map, (index, id)| {
                map.entry(*id).or_default().push(*index);
                map
            });
        Ok(docs
            .iter()
            .enumerate()
            .filter(|(_, (index, id, _))| by_id.get(id.as_str()).is_some_and(|held| held.iter().any(|h| h != index)))
            .map(|(i, _)| i)
            .collect())
    }

    /// Sends one `_bulk` body; per document: indexed, retry, or failed for good.
    async fn bulk(&self, docs: &[(String, String, Value)]) -> Result<Vec<ItemResult>, SearchError> {
        let mut body = String::new();
        for (index, id, doc) in docs {
            body.push_str(&json!({ "index": { "_index": index, "_id": id } }).to_string());
            body.push('\n');
            body.push_str(&doc.to_string());
            body.push('\n');
        }
        let (status, answer) = self.call(Method::Post, "/_bulk", body, "application/x-ndjson").await?;
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Ok(vec![ItemResult::Retry(format!("_bulk: {status}")); docs.len()]);
        }
        if !status.is_success() {
            return Err(SearchError::BadRequest(format!("_bulk: {status}: {answer}")));
        }
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        if items.len() != docs.len() {
            return Err(unavailable(format!("_bulk answered {} items for {} documents", items.len(), docs.len())));
        }
        Ok(items.iter().map(item_result).collect())
    }
}

#[derive(Debug, Clone)]
enum ItemResult {
    Indexed,
    Retry(String),
    Failed(String),
}

fn item_result(item: &Value) -> ItemResult {
    let action = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or(Value::Null);
    let status = action["status"].as_u64().unwrap_or(0);
    let reason = || {
        let e = &action["error"];
        format!("{status} {}: {}", e["type"].as_str().unwrap_or("error"), e["reason"].as_str().unwrap_or(""))
    };
    match status {
        200..=299 => ItemResult::Indexed,
        429 | 500..=599 => ItemResult::Retry(reason()),
        _ => ItemResult::Failed(reason()),
    }
}

/// Splits documents into `_bulk` bodies of at most `max_bytes` (a lone larger document
/// still goes, alone: OpenSearch then answers for it).
fn chunks(sizes: &[usize], pending: &[usize], max_bytes: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in pending {
        if out.last().is_none_or(|c| !c.is_empty() && bytes + sizes[i] > max_bytes) {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += sizes[i];
        if let Some(c) = out.last_mut() {
            c.push(i);
        }
    }
    out
}

#[async_trait]
impl SearchIndex for OpenSearchIndex {
    async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError> {
        let docs: Vec<(String, String, Value)> = events
            .iter()
            .map(|e| {
                let doc = serde_json::to_value(e).map_err(|err| SearchError::BadRequest(err.to_string()))?;
                Ok((self.index_name(e.occurred_at), e.idempotency_key(), doc))
            })
            .collect::<Result<_, SearchError>>()?;
        let kept_elsewhere = self.kept_elsewhere(&docs).await?;
        // Action line + document line, as sent.
        let sizes: Vec<usize> = docs.iter().map(|(i, id, d)| d.to_string().len() + i.len() + id.len() + 40).collect();
        let mut outcomes: Vec<Option<IndexOutcome>> = vec![None; docs.len()];
        for &i in &kept_elsewhere {
            outcomes[i] = Some(IndexOutcome::Indexed);
        }
        let mut pending: Vec<usize> = (0..docs.len()).filter(|i| !kept_elsewhere.contains(i)).collect();
        let mut delays = self.retry.delays();
        let mut last = String::new();
        while !pending.is_empty() {
            let mut again = Vec::new();
            for chunk in chunks(&sizes, &pending, self.max_bulk_bytes) {
                let batch: Vec<(String, String, Value)> = chunk.iter().map(|&i| docs[i].clone()).collect();
                let results = match self.bulk(&batch).await {
                    Ok(results) => results,
                    Err(SearchError::Unavailable(reason)) => vec![ItemResult::Retry(reason); chunk.len()],
                    Err(e) => return Err(e),
                };
                for (&i, result) in chunk.iter().zip(results) {
                    match result {
                        ItemResult::Indexed => outcomes[i] = Some(IndexOutcome::Indexed),
                        ItemResult::Failed(reason) => {
                            outcomes[i] = Some(IndexOutcome::Failed { retryable: false, reason })
                        }
                        ItemResult::Retry(reason) => {
                            last = reason;
                            again.push(i);
                        }
                    }
                }
            }
            pending = again;
            if pending.is_empty() {
                break;
            }
            match delays.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => break,
            }
        }
        if !pending.is_empty() && pending.len() == docs.len() {
            return Err(SearchError::Unavailable(last));
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| IndexOutcome::Failed { retryable: true, reason: last.clone() }))
            .collect())
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let path = format!("/{}/_search?ignore_unavailable=true&allow_no_indices=true", self.indices_of(request));
        let (status, answer) = self.post_retrying(&path, request.to_json().to_string()).await?;
        if !status.is_success() {
            return Err(SearchError::BadRequest(refusal(&path, status, &answer)));
        }
        let total = answer["hits"]["total"]["value"].as_u64().or_else(|| answer["hits"]["total"].as_u64());
        Ok(SearchResponse {
            total: total.unwrap_or(0),
            aggregations: answer.get("aggregations").cloned().unwrap_or_else(|| json!({})),
        })
    }

    async fn delete_matching(&self, query: &Query) -> Result<u64, SearchError> {
        // Every daily index: a person's events may be in any of them. `conflicts=proceed`
        // lets a consumer's concurrent write of another document not stop the delete.
        let refresh = if self.serverless { "" } else { "&refresh=true" };
        let path = format!("/{}-*/_delete_by_query?conflicts=proceed{refresh}", self.prefix);
        let (status, answer) = self.post_retrying(&path, json!({ "query": query.to_json() }).to_string()).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(0),
            status if status.is_success() => Ok(answer["deleted"].as_u64().unwrap_or(0)),
            status => Err(SearchError::BadRequest(refusal(&path, status, &answer))),
        }
    }
}

impl OpenSearchIndex {
    /// POSTs `body` to `path`, pausing and trying again while the cluster is busy (429,
    /// 5xx); answers the last try's status and body.
    async fn post_retrying(&self, path: &str, body: String) -> Result<(StatusCode, Value), SearchError> {
        let mut delays = self.retry.delays();
        loop {
            let (status, answer) = self.call(Method::Post, path, body.clone(), "application/json").await?;
            if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                return Ok((status, answer));
            }
            match delays.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(SearchError::Unavailable(refusal(path, status, &answer))),
            }
        }
    }
}

/// What the cluster said, for an error: its reason when it gave one.
fn refusal(path: &str, status: StatusCode, answer: &Value) -> String {
    format!("{path}: {status}: {}", answer["error"]["reason"].as_str().unwrap_or(&answer.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_bodies_stay_under_the_limit_and_keep_order() {
        let sizes = vec![400, 400, 400, 900, 100];
        let all: Vec<usize> = (0..sizes.len()).collect();
        assert_eq!(chunks(&sizes, &all, 1_000), vec![vec![0, 1], vec![2], vec![3, 4]]);
        assert_eq!(chunks(&[5_000], &[0], 1_000), vec![vec![0]], "an oversize document goes alone");
    }

    #[test]
    fn the_retention_policy_deletes_the_prefixs_indices_after_their_days() {
        let index = OpenSearchIndex::connect("http://127.0.0.1:9", SearchAuth::None, "ev").unwrap();
        let policy = index.retention_policy(35);
        let states = &policy["policy"]["states"];
        assert_eq!(states[0]["transitions"][0]["conditions"]["min_index_age"], "35d");
        assert_eq!(states[1]["actions"][0], json!({"delete": {}}));
        assert_eq!(policy["policy"]["ism_template"][0]["index_patterns"], json!(["ev-*"]));
    }

    #[test]
    fn a_search_reads_only_the_indices_of_its_range() {
        use chrono::TimeZone;
        use tidemark_core::search::Query;
        let index = OpenSearchIndex::connect("http://127.0.0.1:9", SearchAuth::None, "ev").unwrap();
        let at = |m, d, h| Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap();
        let request = |query| SearchRequest { query, aggs: Default::default() };
        let day = request(Query::all_of(vec![
            Query::term("event_type", "purchase"),
            Query::time_range(at(11, 30, 0), at(12, 2, 0)),
        ]));
        assert_eq!(index.indices_of(&day), "ev-2026.11.30,ev-2026.12.01", "to is exclusive");
        let quarter = request(Query::time_range(at(10, 15, 0), at(12, 20, 0)));
        assert_eq!(index.indices_of(&quarter), "ev-2026.10.*,ev-2026.11.*,ev-2026.12.*");
        assert_eq!(index.indices_of(&request(Query::MatchAll)), "ev-*", "no range: every index");
    }

    #[test]
    fn item_statuses_decide_retry() {
        assert!(matches!(item_result(&json!({"index": {"status": 201}})), ItemResult::Indexed));
        assert!(matches!(
            item_result(&json!({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}})),
            ItemResult::Retry(_)
        ));
        let failed = item_result(
            &json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [amount]"}}}),
        );
        assert!(
            matches!(failed, ItemResult::Failed(ref r) if r.contains("mapper_parsing_exception") && r.contains("amount")),
            "{failed:?}"
        );
    }
}
