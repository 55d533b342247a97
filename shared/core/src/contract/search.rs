//! Contract of the search port: idempotent indexing and the aggregation DSL subset.

use super::sample_event;
use crate::bucket::Interval;
use crate::event::{Event, EventType};
use crate::ports::search::{IndexOutcome, SearchIndex};
use crate::realtime::{Metric, RealtimeQuery};
use crate::search::{Query, SearchRequest};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

fn day_of_events() -> Vec<Event> {
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("valid time");
    let regions = ["EU", "US", "APAC"];
    (0..300)
        .map(|n: i64| {
            let at = start + Duration::seconds(n * 37);
            let region = regions[(n % 3) as usize];
            if n % 4 == 0 {
                sample_event(&format!("p{n}"), EventType::Purchase, at, region, Some(((n % 50) as f64) + 0.25))
            } else {
                sample_event(&format!("v{n}"), EventType::PageView, at, region, None)
            }
        })
        .collect()
}

/// Indexing the same events twice leaves one document per event_id.
pub async fn replays_do_not_double_count(index: &dyn SearchIndex) {
    let events = day_of_events();
    let first = index.index_events(&events).await.expect("index");
    assert!(first.iter().all(|outcome| *outcome == IndexOutcome::Indexed));
    index.index_events(&events[..100]).await.expect("replay");
    let all = SearchRequest { query: Query::MatchAll, aggs: Default::default() };
    assert_eq!(index.search(&all).await.expect("search").total, 300);
}

/// One event per source and id: a retry that carries another time (days later, in
/// another daily index) is still one document; another source's same id is its own.
pub async fn one_document_per_source_and_id(index: &dyn SearchIndex) {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("valid time");
    let first = sample_event("same-id", EventType::PageView, at, "EU", None);
    let mut restamped = first.clone();
    restamped.occurred_at = at + Duration::days(2);
    let mut other_source = first.clone();
    other_source.source = "app".to_owned();
    index.index_events(std::slice::from_ref(&first)).await.expect("index");
    index.index_events(&[restamped, other_source]).await.expect("index");
    let all = SearchRequest { query: Query::MatchAll, aggs: Default::default() };
    assert_eq!(index.search(&all).await.expect("search").total, 2);
}

/// Revenue by region per hour equals the sums computed directly from the events.
pub async fn aggregations_match_the_events(index: &dyn SearchIndex) {
    let events = day_of_events();
    index.index_events(&events).await.expect("index");
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("valid time");
    let query = RealtimeQuery {
        metric: Metric::Revenue,
        by: Some("region".to_owned()),
        interval: Interval::Hour,
        from,
        to: from + Duration::hours(4),
    };
    let response = index.search(&query.search_request()).await.expect("search");
    let series = query.series(&response).expect("series");
    for point in &series.points {
        for (region, value) in &point.groups {
            let expected: f64 = events
                .iter()
                .filter(|event| event.event_type == EventType::Purchase && &event.region == region)
                .filter(|event| {
                    crate::event::millis_rfc3339::format(&Interval::Hour.floor(event.occurred_at)) == point.start
                })
                .filter_map(|event| event.amount)
                .sum();
            assert!((value - expected).abs() < 1e-6, "{} {region}: {value} != {expected}", point.start);
        }
    }
    let total: f64 = events.iter().filter_map(|event| event.amount).sum();
    assert!((series.total - total).abs() < 1e-6);

    let count_query = RealtimeQuery { metric: Metric::PageViews, by: None, ..query };
    let views =
        count_query.series(&index.search(&count_query.search_request()).await.expect("search")).expect("series");
    let expected_views = events.iter().filter(|event| event.event_type == EventType::PageView).count();
    assert_eq!(views.total as usize, expected_views);
}

/// term, terms, range and bool filters select what they say; stats aggregations work.
pub async fn filters_and_metrics(index: &dyn SearchIndex) {
    let events = day_of_events();
    index.index_events(&events).await.expect("index");
    let body = json!({
        "size": 0,
        "query": {"bool": {
            "filter": [{"term": {"event_type": "purchase"}}, {"terms": {"region": ["EU", "US"]}},
                       {"range": {"amount": {"gte": 10}}}],
            "must_not": [{"term": {"region": "US"}}]
        }},
        "aggs": {
            "stats": {"stats": {"field": "amount"}},
            "max_amount": {"max": {"field": "amount"}},
            "regions": {"terms": {"field": "region"}}
        }
    });
    let request = SearchRequest::from_json(&body).expect("request");
    let response = index.search(&request).await.expect("search");
    let expected: Vec<f64> = events
        .iter()
        .filter(|event| event.event_type == EventType::Purchase && event.region == "EU")
        .filter_map(|event| event.amount)
        .filter(|amount| *amount >= 10.0)
        .collect();
    assert_eq!(response.total, expected.len() as u64);
    assert_eq!(response.aggregations["stats"]["count"].as_f64(), Some(expected.len() as f64));
    let max = expected.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(response.aggregations["max_amount"]["value"].as_f64(), Some(max));
    let buckets = response.aggregations["regions"]["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0]["key"], "EU");
}

/// Deleting by query removes exactly the matching documents, from every day they are
/// in, and searches see the rest unchanged at once.
pub async fn deletes_remove_exactly_what_matches(index: &dyn SearchIndex) {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).single().expect("valid time");
    let events: Vec<Event> = (0..60i64)
        .map(|n| {
            let mut event =
                sample_event(&format!("e{n}"), EventType::PageView, start + Duration::hours(n * 5), "EU", None);
            event.user_id = Some(if n % 4 == 0 { "forget-me".to_owned() } else { format!("user-{n}") });
            event
        })
        .collect();
    index.index_events(&events).await.expect("index");
    let person = Query::Term { field: "user_id".into(), value: "forget-me".into() };
    assert_eq!(index.delete_matching(&person).await.expect("delete"), 15);
    let count = |query: Query| async move {
        index.search(&SearchRequest { query, aggs: Default::default() }).await.expect("search").total
    };
    assert_eq!(count(person.clone()).await, 0);
    assert_eq!(count(Query::MatchAll).await, 45);
    assert_eq!(index.delete_matching(&person).await.expect("delete again"), 0);
}
