//! The search port over a map of events, evaluating the query model and the
//! aggregations Tidemark issues (`date_histogram`, `terms`, `sum`, `avg`, `min`, `max`,
//! `value_count`, `stats`, nested) the way OpenSearch answers them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::bucket::Interval;
use crate::event::Event;
use crate::ports::search::{IndexOutcome, SearchError, SearchIndex};
use crate::search::fields::keyword_of;
use crate::search::{field_kind, FieldKind, Query, SearchRequest, SearchResponse};

/// Documents keyed by (source, event_id), the idempotency key every index uses.
#[derive(Default)]
pub struct MemorySearch {
    documents: Mutex<BTreeMap<(String, String), Event>>,
}

impl MemorySearch {
    fn matching(&self, query: &Query) -> Vec<Event> {
        let documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        documents.values().filter(|event| matches(query, event)).cloned().collect()
    }
}

#[async_trait]
impl SearchIndex for MemorySearch {
    async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError> {
        let mut documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            documents.insert((event.source.clone(), event.event_id.clone()), event.clone());
        }
        Ok(vec![IndexOutcome::Indexed; events.len()])
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let hits = self.matching(&request.query);
        let refs: Vec<&Event> = hits.iter().collect();
        Ok(SearchResponse { total: hits.len() as u64, aggregations: aggregate(&request.aggs, &refs)? })
    }

    async fn delete_matching(&self, query: &Query) -> Result<u64, SearchError> {
        let mut documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        let before = documents.len();
        documents.retain(|_, event| !matches(query, event));
        Ok((before - documents.len()) as u64)
    }
}

/// The number an indexed date or number field holds: dates in epoch milliseconds.
fn number_of(event: &Event, field: &str) -> Option<f64> {
    match field {
        "occurred_at" => Some(event.occurred_at.timestamp_millis() as f64),
        "received_at" => Some(event.received_at.timestamp_millis() as f64),
        "amount" => event.amount,
        _ => None,
    }
}

fn matches(query: &Query, event: &Event) -> bool {
    match query {
        Query::MatchAll => true,
        Query::Term { field, value } => equals(event, field, value),
        Query::Terms { field, values } => values.iter().any(|value| equals(event, field, value)),
        Query::Range { field, gte, gt, lte, lt } => number_of(event, field).is_some_and(|n| {
            gte.is_none_or(|b| n >= b)
                && gt.is_none_or(|b| n > b)
                && lte.is_none_or(|b| n <= b)
                && lt.is_none_or(|b| n < b)
        }),
        Query::Bool { must, must_not } => {
            must.iter().all(|clause| matches(clause, event)) && !must_not.iter().any(|clause| matches(clause, event))
        }
    }
}

fn equals(event: &Event, field: &str, value: &str) -> bool {
    match field_kind(field) {
        Some(FieldKind::Keyword) => keyword_of(event, field) == Some(value),
        Some(FieldKind::Date | FieldKind::Number) => {
            value.parse::<f64>().is_ok_and(|wanted| number_of(event, field) == Some(wanted))
        }
        None => false,
    }
}

fn bad(message: String) -> SearchError {
    SearchError::BadRequest(message)
}

/// Every aggregation of `aggs` over `events`, keyed by its name.
fn aggregate(aggs: &Map<String, Value>, events: &[&Event]) -> Result<Value, SearchError> {
    let mut out = Map::new();
    for (name, body) in aggs {
        out.insert(name.clone(), one_aggregation(name, body, events)?);
    }
    Ok(Value::Object(out))
}

fn one_aggregation(name: &str, body: &Value, events: &[&Event]) -> Result<Value, SearchError> {
    let object = body.as_object().ok_or_else(|| bad(format!("aggregation {name:?} is not an object")))?;
    let sub = match object.get("aggs").or_else(|| object.get("aggregations")) {
        Some(Value::Object(sub)) => sub.clone(),
        Some(_) => return Err(bad(format!("aggregation {name:?}: aggs is not an object"))),
        None => Map::new(),
    };
    let (kind, spec) = object
        .iter()
        .find(|(key, _)| !matches!(key.as_str(), "aggs" | "aggregations"))
        .ok_or_else(|| bad(format!("aggregation {name:?} has no type")))?;
    let field = || {
        spec["field"]
            .as_str()
            .filter(|f| field_kind(f).is_some())
            .ok_or_else(|| bad(format!("{kind} needs a known field")))
    };
    let values = |field: &str| events.iter().filter_map(|event| number_of(event, field)).collect::<Vec<f64>>();
    match kind.as_str() {
        "date_histogram" => date_histogram(field()?, spec, &sub, events),
        "terms" => terms(field()?, spec, &sub, events),
        "sum" => Ok(json!({"value": values(field()?).iter().sum::<f64>()})),
        "value_count" => Ok(json!({"value": values(field()?).len()})),
        "min" => Ok(json!({"value": extreme(&values(field()?), f64::min)})),
        "max" => Ok(json!({"value": extreme(&values(field()?), f64::max)})),
        "avg" => {
            let values = values(field()?);
            let avg = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            Ok(json!({ "value": avg }))
        }
        "stats" => {
            let values = values(field()?);
            let sum: f64 = values.iter().sum();
            let avg = (!values.is_empty()).then(|| sum / values.len() as f64);
            Ok(json!({
                "count": values.len(), "sum": sum, "avg": avg,
                "min": extreme(&values, f64::min), "max": extreme(&values, f64::max),
            }))
        }
        other => Err(bad(format!("unsupported aggregation {other:?}"))),
    }
}

fn extreme(values: &[f64], pick: fn(f64, f64) -> f64) -> Option<f64> {
    values.iter().copied().reduce(pick)
}

fn date_histogram(
    field: &str,
    spec: &Value,
    sub: &Map<String, Value>,
    events: &[&Event],
) -> Result<Value, SearchError> {
    let interval: Interval = spec["fixed_interval"]
        .as_str()
        .or(spec["calendar_interval"].as_str())
        .ok_or_else(|| bad("date_histogram needs fixed_interval".into()))?
        .parse()
        .map_err(bad)?;
    let width = interval.duration().num_milliseconds() as f64;
    let mut buckets: BTreeMap<i64, Vec<&Event>> = BTreeMap::new();
    for event in events {
        if let Some(at) = number_of(event, field) {
            buckets.entry(((at / width).floor() * width) as i64).or_default().push(event);
        }
    }
    let mut out = Vec::with_capacity(buckets.len());
    for (key, members) in buckets {
        let key_as_string = DateTime::<Utc>::from_timestamp_millis(key).map(|at| at.to_rfc3339());
        let mut bucket = json!({"key": key, "key_as_string": key_as_string, "doc_count": members.len()});
        merge(&mut bucket, aggregate(sub, &members)?);
        out.push(bucket);
    }
    Ok(json!({ "buckets": out }))
}

fn terms(field: &str, spec: &Value, sub: &Map<String, Value>, events: &[&Event]) -> Result<Value, SearchError> {
    let size = spec["size"].as_u64().unwrap_or(10) as usize;
    let mut groups: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for event in events {
        if let Some(key) = keyword_of(event, field) {
            groups.entry(key.to_owned()).or_default().push(event);
        }
    }
    // OpenSearch's order: most documents first, ties by key.
    let mut ranked: Vec<(String, Vec<&Event>)> = groups.into_iter().collect();
    ranked.sort_by(|(a_key, a), (b_key, b)| b.len().cmp(&a.len()).then_with(|| a_key.cmp(b_key)));
    let others: usize = ranked.iter().skip(size).map(|(_, members)| members.len()).sum();
    let mut out = Vec::with_capacity(ranked.len().min(size));
    for (key, members) in ranked.into_iter().take(size) {
        let mut bucket = json!({"key": key, "doc_count": members.len()});
        merge(&mut bucket, aggregate(sub, &members)?);
        out.push(bucket);
    }
    Ok(json!({"buckets": out, "sum_other_doc_count": others, "doc_count_error_upper_bound": 0}))
}

fn merge(bucket: &mut Value, sub: Value) {
    if let (Value::Object(bucket), Value::Object(sub)) = (bucket, sub) {
        bucket.extend(sub);
    }
}
