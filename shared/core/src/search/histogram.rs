//! The one aggregation shape every time series is read with: a `date_histogram` on
//! `occurred_at`, optionally split by a `terms` group, measuring either documents or the
//! sum of a number field. Built here once for the live series and the merged reports,
//! and read back the same way from tantivy and OpenSearch answers.

use super::{Query, SearchRequest, SearchResponse};
use crate::bucket::Interval;
use crate::ports::UnreadableAnswer;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// At most this many groups per bucket come back (OpenSearch's `terms.size`).
pub const MAX_GROUPS: usize = 100;

/// What a bucket measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// Documents in the bucket.
    Count,
    /// Sum of a number field.
    Sum(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Every clause must hold; the time range is added by [`Histogram::request`].
    pub filters: Vec<Query>,
    pub measure: Measure,
    /// Field to split each bucket by.
    pub by: Option<String>,
    pub interval: Interval,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One bucket read back: the whole bucket's value (documents without the group field
/// included) and the value per group.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub value: f64,
    pub groups: BTreeMap<String, f64>,
}

impl Histogram {
    pub fn request(&self) -> SearchRequest {
        let mut filters = vec![Query::time_range(self.from, self.to)];
        filters.extend(self.filters.iter().cloned());
        let value_agg = match &self.measure {
            Measure::Sum(field) => Some(json!({"value": {"sum": {"field": field}}})),
            Measure::Count => None,
        };
        let mut inner = Map::new();
        if let Some(Value::Object(value)) = &value_agg {
            inner.extend(value.clone());
        }
        if let Some(by) = &self.by {
            let mut terms = json!({"terms": {"field": by, "size": MAX_GROUPS}});
            if let Some(value) = &value_agg {
                terms["aggs"] = value.clone();
            }
            inner.insert("group".to_owned(), terms);
        }
        let mut histogram = json!({
            "date_histogram": {
                "field": "occurred_at",
                "fixed_interval": self.interval.fixed_interval(),
                "min_doc_count": 1,
            }
        });
        if !inner.is_empty() {
            histogram["aggs"] = Value::Object(inner);
        }
        let mut aggs = Map::new();
        aggs.insert("over_time".to_owned(), histogram);
        SearchRequest { query: Query::all_of(filters), aggs }
    }

    /// Reads the aggregation result (OpenSearch and tantivy answer alike).
    pub fn read(&self, response: &SearchResponse) -> Result<Vec<HistogramBucket>, UnreadableAnswer> {
        let unreadable = UnreadableAnswer::search;
        let buckets = response.aggregations["over_time"]["buckets"]
            .as_array()
            .ok_or_else(|| unreadable("aggregation result has no over_time buckets"))?;
        let mut out = Vec::with_capacity(buckets.len());
        for bucket in buckets {
            let key = bucket["key"].as_f64().ok_or_else(|| unreadable("bucket without a numeric key"))?;
            let start =
                Utc.timestamp_millis_opt(key as i64).single().ok_or_else(|| unreadable("bucket key is not a time"))?;
            let mut groups = BTreeMap::new();
            if let Some(group_buckets) = bucket["group"]["buckets"].as_array() {
                for group in group_buckets {
                    let name = match &group["key"] {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    groups.insert(name, self.measure_of(group)?);
                }
            }
            out.push(HistogramBucket { start, value: self.measure_of(bucket)?, groups });
        }
        Ok(out)
    }

    fn measure_of(&self, bucket: &Value) -> Result<f64, UnreadableAnswer> {
        match self.measure {
            // An empty sum is absent in some answers and null in others: both are 0.
            Measure::Sum(_) => Ok(bucket["value"]["value"].as_f64().unwrap_or(0.0)),
            Measure::Count => {
                bucket["doc_count"].as_f64().ok_or_else(|| UnreadableAnswer::search("bucket without doc_count"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revenue_by_region() -> Histogram {
        Histogram {
            filters: vec![Query::term("event_type", "purchase")],
            measure: Measure::Sum("amount".into()),
            by: Some("region".into()),
            interval: Interval::Minute,
            from: Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap(),
        }
    }

    #[test]
    fn builds_an_opensearch_request() {
        let body = revenue_by_region().request().to_json();
        let over_time = &body["aggs"]["over_time"];
        assert_eq!(over_time["date_histogram"]["fixed_interval"], "1m");
        assert_eq!(over_time["aggs"]["value"]["sum"]["field"], "amount");
        assert_eq!(over_time["aggs"]["group"]["terms"]["field"], "region");
        assert_eq!(over_time["aggs"]["group"]["aggs"]["value"]["sum"]["field"], "amount");
        assert_eq!(body["query"]["bool"]["filter"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn reads_the_bucket_value_and_its_groups() {
        let response = SearchResponse {
            total: 4,
            aggregations: json!({"over_time": {"buckets": [
                {"key": 1_795_611_600_000.0_f64, "doc_count": 4, "value": {"value": 45.5}, "group": {"buckets": [
                    {"key": "EU", "doc_count": 2, "value": {"value": 30.5}},
                    {"key": "US", "doc_count": 1, "value": {"value": 10.0}}
                ]}}
            ]}}),
        };
        let buckets = revenue_by_region().read(&response).unwrap();
        assert_eq!(buckets[0].start, Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap());
        // The bucket keeps the event without a region (5.0) that no group holds.
        assert_eq!(buckets[0].value, 45.5);
        assert_eq!(buckets[0].groups["EU"], 30.5);
    }
}
