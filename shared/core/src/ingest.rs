//! The real-time ingest service behind every entry point (HTTP batch, pixel, UDP):
//! authenticate the write key, validate each event, stamp it, put the good ones on
//! the stream, and say per event what happened. A good event is acknowledged only
//! once the stream holds it durably.

use crate::clock::Clock;
use crate::event::Event;
use crate::ports::stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
use crate::validate::{validate, ValidationError, ValidationLimits};
use serde::de::{SeqAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::secret::{digest, Digest};

/// Kinesis PutRecords takes at most 500 records per call; one request maps to one call.
pub const MAX_BATCH_EVENTS: usize = 500;
/// ... and at most 1 MiB per record: we hold a whole request to that bound.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Write keys and the source each one stands for, kept as digests (see `secret`).
/// Several keys may stand for one source: that is how a key is rotated, the new one
/// added beside the old until every client has it.
#[derive(Debug, Clone, Default)]
pub struct WriteKeys(HashMap<Digest, String>);

/// The shortest write key accepted.
pub const MIN_WRITE_KEY_LEN: usize = 8;

/// A write-key list that cannot be used; decided when the keys are read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteKeyError {
    #[error("write key for source {0:?} is shorter than {MIN_WRITE_KEY_LEN} characters")]
    TooShort(String),
    #[error("source {0:?} must be 1 to 64 characters of a-z 0-9 _ -")]
    BadSource(String),
    #[error("a write key entry is not of the form key=source")]
    NotAPair,
    #[error("no write keys given")]
    None,
}

impl WriteKeys {
    /// Keys and their sources; each key trimmed, each source a valid name.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, WriteKeyError> {
        let mut keys = HashMap::new();
        for (key, source) in pairs {
            let (key, source) = (key.trim(), source.trim());
            if key.len() < MIN_WRITE_KEY_LEN {
                return Err(WriteKeyError::TooShort(source.to_owned()));
            }
            if !valid_source(source) {
                return Err(WriteKeyError::BadSource(source.to_owned()));
            }
            keys.insert(digest(key), source.to_owned());
        }
        if keys.is_empty() {
            return Err(WriteKeyError::None);
        }
        Ok(Self(keys))
    }

    /// Parses `key=source,key2=source2`.
    pub fn parse(text: &str) -> Result<Self, WriteKeyError> {
        let mut pairs = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let Some((key, source)) = pair.split_once('=') else {
                return Err(WriteKeyError::NotAPair);
            };
            pairs.push((key.to_owned(), source.to_owned()));
        }
        Self::new(pairs)
    }

    /// The source a presented key stands for; the key is trimmed and compared by digest.
    pub fn source_of(&self, key: &str) -> Option<&str> {
        self.0.get(&digest(key.trim())).map(String::as_str)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.source_of(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The sources keys stand for, sorted, once each (the keys are kept as digests only).
    pub fn sources(&self) -> Vec<&str> {
        let mut sources: Vec<&str> = self.0.values().map(String::as_str).collect();
        sources.sort_unstable();
        sources.dedup();
        sources
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These keys and `more` (digests and their sources): the configured keys with the
    /// ones made while running (`key_registry`).
    pub fn with(&self, more: impl IntoIterator<Item = (Digest, String)>) -> Self {
        let mut keys = self.0.clone();
        keys.extend(more);
        Self(keys)
    }

    /// How many keys stand for each source.
    pub fn per_source(&self) -> std::collections::BTreeMap<&str, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for source in self.0.values() {
            *counts.entry(source.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

/// A source name travels with every event into every store: a short plain name.
pub(crate) fn valid_source(source: &str) -> bool {
    (1..=64).contains(&source.len())
        && source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No key, or a key we do not know: 401, nothing written.
    #[error("missing or unknown write key")]
    Unauthorized,
    #[error("more than {MAX_BATCH_EVENTS} events in one request; that is the limit (the Kinesis PutRecords limit)")]
    TooManyEvents,
    #[error("request body is {bytes} bytes; the limit is {MAX_REQUEST_BYTES} bytes (1 MiB, the Kinesis record limit)")]
    TooLarge { bytes: usize },
    #[error("request body is not a JSON array, a JSON object or NDJSON: {0}")]
    Malformed(String),
    #[error("no events in the request")]
    Empty,
    /// Ingest is paused (the disk is nearly full): nothing is taken that a store could
    /// then fail to keep. 503, retry later.
    #[error("ingest is paused: {0}")]
    Paused(String),
    /// The client did not send its whole body in time: the connection is freed.
    #[error("the request body did not arrive within {seconds} s")]
    SlowBody { seconds: u64 },
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

/// The events of one request body, found but not yet parsed. [`Ingestor::ingest_batch`]
/// parses each in turn within its size limit and validates it, so a request holds its
/// body, at most [`MAX_BATCH_EVENTS`] slices of it, and one parsed event at a time:
/// memory stays bounded by the body whatever its shape.
#[derive(Debug)]
pub struct RawBatch<'a> {
    items: Vec<Result<&'a str, ValidationError>>,
}

impl RawBatch<'_> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Splits a request body into events: a JSON array, a single JSON object, or NDJSON
/// (one object per line). A broken NDJSON line is rejected alone; a broken array
/// cannot be split, so it fails the request. The count limit is checked while the
/// events are found, before any is parsed.
pub fn parse_batch(body: &[u8]) -> Result<RawBatch<'_>, IngestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(IngestError::TooLarge { bytes: body.len() });
    }
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    let items = match first {
        None => return Err(IngestError::Empty),
        Some(b'[') => array_elements(body)?.into_iter().map(|raw| Ok(raw.get())).collect(),
        Some(_) => ndjson_lines(body)?,
    };
    if items.is_empty() {
        return Err(IngestError::Empty);
    }
    Ok(RawBatch { items })
}

/// The elements of a JSON array as slices of the body, stopping at the one past the limit.
fn array_elements(body: &[u8]) -> Result<Vec<&RawValue>, IngestError> {
    struct Elements<'f>(&'f Cell<bool>);
    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = Vec<&'de RawValue>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of events")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                if out.len() == MAX_BATCH_EVENTS {
                    self.0.set(true);
                    return Err(serde::de::Error::custom("too many events"));
                }
                out.push(raw);
            }
            Ok(out)
        }
    }
    let too_many = Cell::new(false);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let parsed = serde::Deserializer::deserialize_seq(&mut reader, Elements(&too_many)).and_then(|out| {
        reader.end()?;
        Ok(out)
    });
    match parsed {
        Ok(elements) => Ok(elements),
        Err(_) if too_many.get() => Err(IngestError::TooManyEvents),
        Err(error) => Err(IngestError::Malformed(error.to_string())),
    }
}

/// The non-blank lines of an NDJSON body, counted before any is parsed.
fn ndjson_lines(body: &[u8]) -> Result<Vec<Result<&str, ValidationError>>, IngestError> {
    let lines = || body.split(|byte| *byte == b'\n').filter(|line| line.iter().any(|byte| !byte.is_ascii_whitespace()));
    if lines().nth(MAX_BATCH_EVENTS).is_some() {
        return Err(IngestError::TooManyEvents);
    }
    Ok(lines()
        .enumerate()
        .map(|(line, text)| {
            std::str::from_utf8(text)
                .map_err(|_| ValidationError::new("$", "json", format!("line {} is not UTF-8 text", line + 1)))
        })
        .collect())
}

pub struct Ingestor {
    stream: Arc<dyn EventStream>,
    /// Swapped whole when the keys are re-read (a rotation, a revocation).
    write_keys: RwLock<Arc<WriteKeys>>,
    /// Why ingest is paused, when it is (see [`Ingestor::pause`]).
    paused: RwLock<Option<String>>,
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
        Self {
            stream,
            write_keys: RwLock::new(Arc::new(write_keys)),
            paused: RwLock::new(None),
            limits,
            clock,
            counters: Arc::default(),
        }
    }

    /// Refuses every event with `reason` until [`Ingestor::resume`]: taken before a
    /// store fails (a disk at its high-water mark), so nothing accepted is then lost.
    pub fn pause(&self, reason: String) {
        *self.paused.write().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }

    pub fn resume(&self) {
        *self.paused.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Why ingest is paused, when it is.
    pub fn paused(&self) -> Option<String> {
        self.paused.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the write keys: requests from now on are checked against the new set.
    pub fn replace_write_keys(&self, keys: WriteKeys) {
        *self.write_keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
    }

    fn keys(&self) -> Arc<WriteKeys> {
        Arc::clone(&self.write_keys.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn counters(&self) -> Arc<IngestCounters> {
        Arc::clone(&self.counters)
    }

    /// The source a write key stands for.
    pub fn authenticate(&self, key: Option<&str>) -> Result<String, IngestError> {
        let keys = self.keys();
        match key.and_then(|key| keys.source_of(key)) {
            Some(source) => Ok(source.to_owned()),
            None => {
                self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                Err(IngestError::Unauthorized)
            }
        }
    }

    /// [`Ingestor::ingest`] for a request body: each event is parsed only when its turn
    /// comes and only within the size limit, then validated; one parsed event at a time.
    pub async fn ingest_batch(&self, source: &str, batch: RawBatch<'_>) -> Result<IngestReport, IngestError> {
        let limit = self.limits.max_event_bytes;
        let events = batch.items.into_iter().map(move |item| {
            let text = item?;
            if text.len() > limit {
                return Err(ValidationError::new(
                    "$",
                    "oversize",
                    format!("event is {} bytes; the limit is {limit} bytes", text.len()),
                ));
            }
            serde_json::from_str::<Value>(text).map_err(|error| ValidationError::new("$", "json", error.to_string()))
        });
        self.ingest_each(source, events).await
    }

    /// Validates and stamps each event, puts the valid ones on the stream in one call,
    /// and reports per event.
    pub async fn ingest(
        &self,
        source: &str,
        events: Vec<Result<Value, ValidationError>>,
    ) -> Result<IngestReport, IngestError> {
        self.ingest_each(source, events.into_iter()).await
    }

    async fn ingest_each(
        &self,
        source: &str,
        events: impl ExactSizeIterator<Item = Result<Value, ValidationError>> + Send,
    ) -> Result<IngestReport, IngestError> {
        if events.len() > MAX_BATCH_EVENTS {
            return Err(IngestError::TooManyEvents);
        }
        if let Some(reason) = self.paused() {
            return Err(IngestError::Paused(reason));
        }
        let received_at = self.clock.now();
        let mut results: Vec<Option<EventResult>> = Vec::with_capacity(events.len());
        let mut valid: Vec<(usize, Event)> = Vec::with_capacity(events.len());
        for (position, parsed) in events.enumerate() {
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
        let report = futures::executor::block_on(service.ingest_batch(&source, parse_batch(body).unwrap())).unwrap();
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
        assert_eq!(WriteKeys::parse("short=web").unwrap_err(), WriteKeyError::TooShort("web".into()));
        assert_eq!(WriteKeys::parse("no-equals-sign").unwrap_err(), WriteKeyError::NotAPair);
        let plain = WriteKeys::parse("long-enough-key=Web Site").unwrap_err();
        assert_eq!(plain, WriteKeyError::BadSource("Web Site".into()), "source names are plain");
        assert_eq!(WriteKeys::parse(" , ").unwrap_err(), WriteKeyError::None);
        assert!(WriteKeys::parse("long-enough-key=").is_err());
    }

    #[test]
    fn a_paused_ingestor_refuses_until_resumed() {
        let stream = Arc::new(MemoryStream::default());
        let service = ingestor(Arc::clone(&stream));
        service.pause("disk nearly full".into());
        let body = br#"{"event_type": "click", "anonymous_id": "a"}"#;
        let refused = futures::executor::block_on(service.ingest_batch("web", parse_batch(body).unwrap()));
        assert!(matches!(refused, Err(IngestError::Paused(reason)) if reason == "disk nearly full"));
        service.resume();
        let report = futures::executor::block_on(service.ingest_batch("web", parse_batch(body).unwrap())).unwrap();
        assert_eq!(report.accepted, 1);
        assert_eq!(stream.0.lock().unwrap().len(), 1, "nothing was taken while paused");
    }

    #[test]
    fn keys_are_trimmed_and_rotate() {
        let service = ingestor(Arc::new(MemoryStream::default()));
        assert_eq!(service.authenticate(Some("  secret-key-1\t")).unwrap(), "web");
        service.replace_write_keys(WriteKeys::parse("secret-key-2=web, secret-key-3=web").unwrap());
        assert!(matches!(service.authenticate(Some("secret-key-1")), Err(IngestError::Unauthorized)), "revoked");
        assert_eq!(service.authenticate(Some("secret-key-2")).unwrap(), "web");
        assert_eq!(service.authenticate(Some("secret-key-3")).unwrap(), "web");
    }

    #[test]
    fn parses_arrays_objects_and_ndjson() {
        assert_eq!(parse_batch(br#"[{"a":1},{"b":2}]"#).unwrap().len(), 2);
        assert_eq!(parse_batch(br#"{"a":1}"#).unwrap().len(), 1);
        let lines = parse_batch(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n\xff\n").unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines.items[3].as_ref().unwrap_err().rule, "json");
        assert!(matches!(parse_batch(b"[{"), Err(IngestError::Malformed(_))));
        assert!(matches!(parse_batch(b"  "), Err(IngestError::Empty)));
        let many = format!("[{}]", vec!["{}"; 501].join(","));
        let error = parse_batch(many.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("PutRecords"), "{error}");
        assert_eq!(parse_batch(format!("[{}]", vec!["{}"; 500].join(",")).as_bytes()).unwrap().len(), 500);
        let many_lines = vec!["{}"; 501].join("\n");
        assert!(matches!(parse_batch(many_lines.as_bytes()), Err(IngestError::TooManyEvents)));
        assert!(matches!(parse_batch(b"[{}] x"), Err(IngestError::Malformed(_))), "trailing text after the array");
        let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(matches!(parse_batch(&huge), Err(IngestError::TooLarge { .. })));
    }
}
