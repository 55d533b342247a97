//! The real-time ingest service behind every entry point (HTTP batch, pixel, UDP):
//! authenticate the write key, validate each event, stamp it, put the good ones on
//! the stream, and say per event what happened. A good event is acknowledged only
//! once the stream holds it durably.

use crate::clock::Clock;
use crate::event::Event;
use crate::ports::stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
use crate::validate::{validate, ValidationError, ValidationLimits};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Kinesis PutRecords takes at most 500 records per call; one request maps to one call.
pub const MAX_BATCH_EVENTS: usize = 500;
/// ... and at most 1 MiB per record: we hold a whole request to that bound.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Write keys and the source each one stands for.
#[derive(Debug, Clone, Default)]
pub struct WriteKeys(HashMap<String, String>);

impl WriteKeys {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(pairs.into_iter().collect())
    }

    /// Parses `key=source,key2=source2`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let Some((key, source)) = pair.split_once('=') else {
                return Err(format!("write key entry {pair:?} is not of the form key=source"));
            };
            if key.len() < 8 {
                return Err(format!("write key for source {source:?} is shorter than 8 characters"));
            }
            keys.insert(key.trim().to_owned(), source.trim().to_owned());
        }
        if keys.is_empty() {
            return Err("no write keys given".to_owned());
        }
        Ok(Self(keys))
    }

    pub fn source_of(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No key, or a key we do not know: 401, nothing written.
    #[error("missing or unknown write key")]
    Unauthorized,
    #[error("{count} events in one request; the limit is {MAX_BATCH_EVENTS} (the Kinesis PutRecords limit)")]
    TooManyEvents { count: usize },
    #[error("request body is {bytes} bytes; the limit is {MAX_REQUEST_BYTES} bytes (1 MiB, the Kinesis record limit)")]
    TooLarge { bytes: usize },
    #[error("request body is not a JSON array, a JSON object or NDJSON: {0}")]
    Malformed(String),
    #[error("no events in the request")]
    Empty,
    /// The stream took none of the batch; the client should retry all of it.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// What happened to one event of a request, in request order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventResult {
    Accepted {
        event_id: String,
    },
    Rejected {
        field: String,
        rule: &'static str,
        message: String,
    },
    /// Valid, but the stream did not take it: retry this event.
    Failed {
        event_id: String,
        reason: String,
        retryable: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: usize,
    pub failed: usize,
    pub results: Vec<EventResult>,
}

/// Counters since start, for `/v1/stats`.
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    pub unauthorized: AtomicU64,
}

impl IngestCounters {
    fn add(&self, report: &IngestReport) {
        self.accepted.fetch_add(report.accepted as u64, Ordering::Relaxed);
        self.rejected.fetch_add(report.rejected as u64, Ordering::Relaxed);
        self.failed.fetch_add(report.failed as u64, Ordering::Relaxed);
    }
}

/// Splits a request body into events: a JSON array, a single JSON object, or NDJSON
/// (one object per line). A broken NDJSON line is rejected alone; a broken array
/// cannot be split, so it fails the request.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Result<Value, ValidationError>>, IngestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(IngestError::TooLarge { bytes: body.len() });
    }
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    let events: Vec<Result<Value, ValidationError>> = match first {
        None => return Err(IngestError::Empty),
        Some(b'[') => match serde_json::from_slice::<Vec<Value>>(body) {
            Ok(values) => values.into_iter().map(Ok).collect(),
            Err(error) => return Err(IngestError::Malformed(error.to_string())),
        },
        Some(_) => body
            .split(|byte| *byte == b'\n')
            .filter(|line| line.iter().any(|byte| !byte.is_ascii_whitespace()))
            .enumerate()
            .map(|(line, text)| {
                serde_json::from_slice::<Value>(text).map_err(|error| {
                    ValidationError::new("$", "json", format!("line {} is not JSON: {error}", line + 1))
                })
            })
            .collect(),
    };
    if events.is_empty() {
        return Err(IngestError::Empty);
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(IngestError::TooManyEvents { count: events.len() });
    }
    Ok(events)
}

pub struct Ingestor {
    stream: Arc<dyn EventStream>,
    write_keys: WriteKeys,
    limits: ValidationLimits,
    clock: Arc<dyn Clock>,
    counters: Arc<IngestCounters>,
}

impl Ingestor {
    pub fn new(
        stream: Arc<dyn EventStream>,
        write_keys: WriteKeys,
        limits: ValidationLimits,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { stream, write_keys, limits, clock, counters: Arc::default() }
    }

    pub fn counters(&self) -> Arc<IngestCounters> {
        Arc::clone(&self.counters)
    }

    /// The source a write key stands for.
    pub fn authenticate(&self, key: Option<&str>) -> Result<String, IngestError> {
        match key.and_then(|key| self.write_keys.source_of(key)) {
            Some(source) => Ok(source.to_owned()),
            None => {
                self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                Err(IngestError::Unauthorized)
            }
        }
    }

    /// Validates and stamps each event, puts the valid ones on the stream in one call,
    /// and reports per event.
    pub async fn ingest(
        &self,
        source: &str,
        events: Vec<Result<Value, ValidationError>>,
    ) -> Result<IngestReport, IngestError> {
        if events.len() > MAX_BATCH_EVENTS {
            return Err(IngestError::TooManyEvents { count: events.len() });
        }
        let received_at = self.clock.now();
        let mut results: Vec<Option<EventResult>> = Vec::with_capacity(events.len());
        let mut valid: Vec<(usize, Event)> = Vec::with_capacity(events.len());
        for (position, parsed) in events.into_iter().enumerate() {
            let checked = parsed
                .and_then(|raw| validate(raw, source, received_at, &self.limits, || uuid::Uuid::now_v7().to_string()));
            match checked {
                Ok(event) => {
                    valid.push((position, event));
                    results.push(None);
                }
                Err(error) => results.push(Some(EventResult::Rejected {
                    field: error.field,
                    rule: error.rule,
                    message: error.message,
                })),
            }
        }

        if !valid.is_empty() {
            let records = valid
                .iter()
                .map(|(_, event)| StreamRecordIn {
                    partition_key: event.event_id.clone(),
                    data: event.to_record_bytes(),
                })
                .collect();
            let outcomes = self.stream.put_records(records).await?;
            debug_assert_eq!(outcomes.len(), valid.len());
            for ((position, event), outcome) in valid.into_iter().zip(outcomes) {
                results[position] = Some(match outcome {
                    PutOutcome::Stored { .. } => EventResult::Accepted { event_id: event.event_id },
                    PutOutcome::Failed { retryable, reason } => {
                        EventResult::Failed { event_id: event.event_id, reason, retryable }
                    }
                });
            }
        }

        let mut report = IngestReport::default();
        for result in results.into_iter().flatten() {
            match &result {
                EventResult::Accepted { .. } => report.accepted += 1,
                EventResult::Rejected { .. } => report.rejected += 1,
                EventResult::Failed { .. } => report.failed += 1,
            }
            report.results.push(result);
        }
        self.counters.add(&report);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};
    use std::sync::Mutex;

    /// Stores everything except records whose data mentions "flaky".
    #[derive(Default)]
    struct MemoryStream(Mutex<Vec<StreamRecordIn>>);

    #[async_trait]
    impl EventStream for MemoryStream {
        async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError> {
            let mut stored = self.0.lock().unwrap();
            Ok(records
                .into_iter()
                .map(|record| {
                    if String::from_utf8_lossy(&record.data).contains("flaky") {
                        return PutOutcome::Failed { retryable: true, reason: "throttled".into() };
                    }
                    stored.push(record);
                    PutOutcome::Stored { shard_id: "0".into(), sequence_number: stored.len().to_string() }
                })
                .collect())
        }
    }

    fn ingestor(stream: Arc<MemoryStream>) -> Ingestor {
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap()));
        let keys = WriteKeys::parse("secret-key-1=web").unwrap();
        Ingestor::new(stream, keys, ValidationLimits::default(), clock)
    }

    #[test]
    fn good_events_go_through_beside_bad_and_failed_ones() {
        let stream = Arc::new(MemoryStream::default());
        let service = ingestor(Arc::clone(&stream));
        let source = service.authenticate(Some("secret-key-1")).unwrap();
        assert_eq!(source, "web");
        let body = br#"[
            {"event_type": "page_view", "anonymous_id": "a", "event_id": "e1"},
            {"event_type": "nope", "anonymous_id": "a"},
            {"event_type": "click", "anonymous_id": "a", "properties": {"note": "flaky"}}
        ]"#;
        let report = futures::executor::block_on(service.ingest(&source, parse_batch(body).unwrap())).unwrap();
        assert_eq!((report.accepted, report.rejected, report.failed), (1, 1, 1));
        assert_eq!(report.results[0], EventResult::Accepted { event_id: "e1".into() });
        assert!(
            matches!(&report.results[1], EventResult::Rejected { field, rule: "unknown_type", .. } if field == "event_type")
        );
        assert!(matches!(&report.results[2], EventResult::Failed { retryable: true, .. }));
        let stored = stream.0.lock().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].partition_key, "e1");
        let event = Event::from_record_bytes(&stored[0].data).unwrap();
        assert_eq!(event.source, "web");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let service = ingestor(Arc::new(MemoryStream::default()));
        assert!(matches!(service.authenticate(Some("wrong-key")), Err(IngestError::Unauthorized)));
        assert!(matches!(service.authenticate(None), Err(IngestError::Unauthorized)));
        assert_eq!(service.counters().unauthorized.load(Ordering::Relaxed), 2);
        assert!(WriteKeys::parse("short=web").is_err());
        assert!(WriteKeys::parse("no-equals-sign").is_err());
    }

    #[test]
    fn parses_arrays_objects_and_ndjson() {
        assert_eq!(parse_batch(br#"[{"a":1},{"b":2}]"#).unwrap().len(), 2);
        assert_eq!(parse_batch(br#"{"a":1}"#).unwrap().len(), 1);
        let lines = parse_batch(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n").unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].as_ref().unwrap_err().rule, "json");
        assert!(matches!(parse_batch(b"[{"), Err(IngestError::Malformed(_))));
        assert!(matches!(parse_batch(b"  "), Err(IngestError::Empty)));
        let many = format!("[{}]", vec!["{}"; 501].join(","));
        let error = parse_batch(many.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("PutRecords"), "{error}");
        let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(matches!(parse_batch(&huge), Err(IngestError::TooLarge { .. })));
    }
}
