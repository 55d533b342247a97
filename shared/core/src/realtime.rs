//! Live aggregations (`GET /v1/realtime`): the request a person asks for, the search
//! request that answers it, and the series read back from the aggregation result.

use crate::bucket::Interval;
use crate::search::histogram::{Histogram, Measure};
use crate::search::{Query, SearchRequest, SearchResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Sum of `amount` over purchases.
    Revenue,
    /// Number of purchases.
    Orders,
    /// Number of page views.
    PageViews,
    /// Number of events of any type.
    Events,
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "revenue" => Ok(Metric::Revenue),
            "orders" => Ok(Metric::Orders),
            "page_views" => Ok(Metric::PageViews),
            "events" => Ok(Metric::Events),
            other => Err(format!("unknown metric {other:?}; use revenue, orders, page_views or events")),
        }
    }
}

/// Fields a live series may be grouped by.
pub const GROUPABLE: &[&str] = &["region", "event_type", "source", "currency"];

#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeQuery {
    pub metric: Metric,
    pub by: Option<String>,
    pub interval: Interval,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub start: String,
    pub value: f64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub metric: Metric,
    pub interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub from: String,
    pub to: String,
    pub total: f64,
    pub points: Vec<Point>,
}

/// The most buckets one real-time query may ask for.
pub const MAX_BUCKETS: i64 = 10_000;

/// A real-time query that is refused before it reaches the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRefused {
    #[error("from must be before to")]
    EmptyWindow,
    #[error("cannot group by {0:?}; use one of {groupable}", groupable = GROUPABLE.join(", "))]
    NotGroupable(String),
    #[error("{0} buckets requested; at most {MAX_BUCKETS}, widen the interval")]
    TooManyBuckets(i64),
}

impl RealtimeQuery {
    pub fn validate(&self) -> Result<(), QueryRefused> {
        if self.from >= self.to {
            return Err(QueryRefused::EmptyWindow);
        }
        if let Some(by) = &self.by {
            if !GROUPABLE.contains(&by.as_str()) {
                return Err(QueryRefused::NotGroupable(by.clone()));
            }
        }
        let buckets = (self.to - self.from).num_milliseconds() / self.interval.duration().num_milliseconds();
        if buckets > MAX_BUCKETS {
            return Err(QueryRefused::TooManyBuckets(buckets));
        }
        Ok(())
    }

    fn histogram(&self) -> Histogram {
        let (filters, measure) = match self.metric {
            Metric::Revenue => (vec![Query::term("event_type", "purchase")], Measure::Sum("amount".to_owned())),
            Metric::Orders => (vec![Query::term("event_type", "purchase")], Measure::Count),
            Metric::PageViews => (vec![Query::term("event_type", "page_view")], Measure::Count),
            Metric::Events => (Vec::new(), Measure::Count),
        };
        Histogram { filters, measure, by: self.by.clone(), interval: self.interval, from: self.from, to: self.to }
    }

    pub fn search_request(&self) -> SearchRequest {
        self.histogram().request()
    }

    /// Reads the aggregation result (OpenSearch and tantivy answer alike) into a series.
    pub fn series(&self, response: &SearchResponse) -> Result<Series, crate::ports::UnreadableAnswer> {
        let points: Vec<Point> = self
            .histogram()
            .read(response)?
            .into_iter()
            .map(|bucket| Point {
                start: crate::event::millis_rfc3339::format(&bucket.start),
                value: bucket.value,
                groups: bucket.groups,
            })
            .collect();
        Ok(Series {
            metric: self.metric,
            interval: self.interval.fixed_interval().to_owned(),
            by: self.by.clone(),
            from: crate::event::millis_rfc3339::format(&self.from),
            to: crate::event::millis_rfc3339::format(&self.to),
            total: points.iter().map(|point| point.value).sum(),
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn query(by: Option<&str>) -> RealtimeQuery {
        RealtimeQuery {
            metric: Metric::Revenue,
            by: by.map(str::to_owned),
            interval: Interval::Minute,
            from: Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap(),
        }
    }

    #[test]
    fn builds_an_opensearch_request() {
        let body = query(Some("region")).search_request().to_json();
        assert_eq!(body["aggs"]["over_time"]["date_histogram"]["fixed_interval"], "1m");
        assert_eq!(body["aggs"]["over_time"]["aggs"]["group"]["terms"]["field"], "region");
        assert_eq!(body["aggs"]["over_time"]["aggs"]["group"]["aggs"]["value"]["sum"]["field"], "amount");
    }

    #[test]
    fn reads_grouped_buckets() {
        let response = SearchResponse {
            total: 3,
            aggregations: json!({"over_time": {"buckets": [
                {"key": 1_795_611_600_000.0_f64, "doc_count": 3, "value": {"value": 40.5}, "group": {"buckets": [
                    {"key": "EU", "doc_count": 2, "value": {"value": 30.5}},
                    {"key": "US", "doc_count": 1, "value": {"value": 10.0}}
                ]}}
            ]}}),
        };
        let series = query(Some("region")).series(&response).unwrap();
        assert_eq!(series.points.len(), 1);
        assert_eq!(series.points[0].start, "2026-11-25T13:00:00.000Z");
        assert_eq!(series.points[0].groups["EU"], 30.5);
        assert_eq!(series.total, 40.5);
    }

    #[test]
    fn refuses_bad_groupings() {
        let mut bad = query(Some("user_id"));
        assert_eq!(bad.validate(), Err(QueryRefused::NotGroupable("user_id".into())));
        bad.by = None;
        bad.to = bad.from;
        assert_eq!(bad.validate(), Err(QueryRefused::EmptyWindow));
    }
}
