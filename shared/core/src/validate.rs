//! Validation of one incoming event: every rejection names the field and the rule.
//!
//! Clock-skew rule: `occurred_at` is the client's clock. It is accepted when it lies
//! within `[received_at - max_age, received_at + max_future_skew]` (defaults: 7 days
//! back, 5 minutes ahead). An event without `occurred_at` takes `received_at`. Buckets
//! are cut on `occurred_at`, so a late event lands in the hour it happened.

use crate::event::{Event, EventType};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Why one event was refused. `field` is a JSON path-ish name (`amount`,
/// `properties`, `$` for the whole event); `rule` is a stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    pub field: String,
    pub rule: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), rule, message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.rule)
    }
}

impl std::error::Error for ValidationError {}

/// Bounds applied to every event.
#[derive(Debug, Clone)]
pub struct ValidationLimits {
    /// How far ahead of the server clock a client clock may be.
    pub max_future_skew: Duration,
    /// How old an event may be when it arrives (offline queues flush late).
    pub max_age: Duration,
    /// Largest accepted event, as compact JSON, in bytes.
    pub max_event_bytes: usize,
    /// Longest identifier or short text field, in bytes of UTF-8.
    pub max_text_len: usize,
    /// Most keys in `properties`.
    pub max_properties: usize,
}

/// How far ahead of the server's clock an event time may be, by default: a client's
/// clock for beacons, a source database's for batch rows.
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_future_skew: MAX_FUTURE_SKEW,
            max_age: Duration::days(7),
            max_event_bytes: 32 * 1024,
            max_text_len: 256,
            max_properties: 64,
        }
    }
}

/// Fields a client may send. Anything else is refused (`unknown_field`), so that a
/// misspelt `ammount` is caught at the door instead of silently dropped.
pub const CLIENT_FIELDS: &[&str] = &[
    "event_id",
    "event_type",
    "occurred_at",
    "anonymous_id",
    "user_id",
    "session_id",
    "order_id",
    "keys",
    "region",
    "amount",
    "currency",
    "properties",
];

/// Fields the server stamps; a client that sends them is told so.
const SERVER_FIELDS: &[&str] = &["received_at", "source"];

const MAX_AMOUNT: f64 = 1e12;

/// Validates one event and stamps it. `event_id` is filled by `new_id` when absent.
pub fn validate(
    raw: Value,
    source: &str,
    received_at: DateTime<Utc>,
    limits: &ValidationLimits,
    new_id: impl FnOnce() -> String,
) -> Result<Event, ValidationError> {
    let raw_size = approximate_size(&raw);
    let Value::Object(mut object) = raw else {
        return Err(ValidationError::new("$", "object", "each event must be a JSON object"));
    };
    if raw_size > limits.max_event_bytes {
        return Err(ValidationError::new(
            "$",
            "oversize",
            format!("event is {raw_size} bytes; the limit is {} bytes", limits.max_event_bytes),
        ));
    }
    for name in object.keys() {
        if SERVER_FIELDS.contains(&name.as_str()) {
            return Err(ValidationError::new(name, "server_assigned", "this field is set by the server"));
        }
        if !CLIENT_FIELDS.contains(&name.as_str()) {
            return Err(ValidationError::new(name, "unknown_field", "not a field of the event model"));
        }
    }

    let event_type = take_event_type(&mut object)?;
    let event_id = match take_text(&mut object, "event_id", limits)? {
        Some(id) => check_event_id(id)?,
        None => new_id(),
    };
    let occurred_at = take_time(&mut object, "occurred_at")?.unwrap_or(received_at);
    check_skew(occurred_at, received_at, limits)?;

    let anonymous_id = take_text(&mut object, "anonymous_id", limits)?;
    let user_id = take_text(&mut object, "user_id", limits)?;
    if anonymous_id.is_none() && user_id.is_none() {
        return Err(ValidationError::new("anonymous_id", "required", "anonymous_id or user_id is required"));
    }
    let session_id = take_text(&mut object, "session_id", limits)?;
    let order_id = take_text(&mut object, "order_id", limits)?;
    let keys = take_keys(&mut object, limits)?;
    let region = take_text(&mut object, "region", limits)?.unwrap_or_else(|| "unknown".to_owned());
    let amount = take_amount(&mut object)?;
    let currency = take_currency(&mut object)?;
    let properties = take_properties(&mut object, limits)?;

    if event_type.carries_amount() {
        if amount.is_none() {
            return Err(ValidationError::new("amount", "required", format!("{event_type} events need an amount")));
        }
        if currency.is_none() {
            return Err(ValidationError::new("currency", "required", format!("{event_type} events need a currency")));
        }
        if order_id.is_none() {
            return Err(ValidationError::new("order_id", "required", format!("{event_type} events need an order_id")));
        }
    } else if amount.is_some() != currency.is_some() {
        let missing = if amount.is_some() { "currency" } else { "amount" };
        return Err(ValidationError::new(missing, "required", "amount and currency go together"));
    }

    Ok(Event {
        event_id,
        event_type,
        occurred_at: truncate_to_millis(occurred_at),
        received_at: truncate_to_millis(received_at),
        source: source.to_owned(),
        anonymous_id,
        user_id,
        session_id,
        order_id,
        keys,
        region,
        amount,
        currency,
        properties,
    })
}

/// The event's compact JSON size without allocating a second copy of it.
fn approximate_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

fn take_event_type(object: &mut Map<String, Value>) -> Result<EventType, ValidationError> {
    match object.remove("event_type") {
        None | Some(Value::Null) => Err(ValidationError::new("event_type", "required", "event_type is required")),
        Some(Value::String(text)) => text.parse().map_err(|()| {
            let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
            ValidationError::new(
                "event_type",
                "unknown_type",
                format!("unknown event type {text:?}; known types: {}", known.join(", ")),
            )
        }),
        Some(_) => Err(ValidationError::new("event_type", "type", "event_type must be a string")),
    }
}

fn take_text(
    object: &mut Map<String, Value>,
    field: &str,
    limits: &ValidationLimits,
) -> Result<Option<String>, ValidationError> {
    let text = match object.remove(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err(ValidationError::new(field, "type", format!("{field} must be a string"))),
    };
    check_text(field, &text, limits)?;
    Ok(Some(text))
}

/// A text value fits every store it reaches: not empty, at most `max_text_len` bytes of
/// UTF-8 (Redshift's `VARCHAR(256)` counts bytes, not characters), and no NUL, which
/// PostgreSQL and Redshift text cannot hold. Other control characters are kept as sent.
fn check_text(field: &str, text: &str, limits: &ValidationLimits) -> Result<(), ValidationError> {
    if text.is_empty() {
        return Err(ValidationError::new(field, "empty", format!("{field} must not be empty")));
    }
    if text.len() > limits.max_text_len {
        return Err(ValidationError::new(
            field,
            "too_long",
            format!("{field} is longer than {} bytes of UTF-8", limits.max_text_len),
        ));
    }
    if text.contains('\0') {
        return Err(ValidationError::new(field, "nul", format!("{field} holds a NUL character, which no store keeps")));
    }
    Ok(())
}

fn check_event_id(id: String) -> Result<String, ValidationError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if id.len() > 128 || !id.chars().all(allowed) {
        return Err(ValidationError::new(
            "event_id",
            "format",
            "event_id must be 1 to 128 characters of A-Z a-z 0-9 - _ . :",
        ));
    }
    Ok(id)
}

fn take_time(object: &mut Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, ValidationError> {
    let format_error =
        || ValidationError::new(field, "format", format!("{field} must be RFC 3339 text or epoch milliseconds"));
    match object.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            DateTime::parse_from_rfc3339(&text).map(|at| Some(at.with_timezone(&Utc))).map_err(|_| format_error())
        }
        Some(Value::Number(number)) => number
            .as_i64()
            .and_then(|millis| Utc.timestamp_millis_opt(millis).single())
            .map(Some)
            .ok_or_else(format_error),
        Some(_) => Err(format_error()),
    }
}

fn check_skew(
    occurred_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    limits: &ValidationLimits,
) -> Result<(), ValidationError> {
    if occurred_at > received_at + limits.max_future_skew {
        return Err(ValidationError::new(
            "occurred_at",
            "too_far_in_future",
            format!("occurred_at is more than {} s ahead of the server clock", limits.max_future_skew.num_seconds()),
        ));
    }
    if occurred_at < received_at - limits.max_age {
        return Err(ValidationError::new(
            "occurred_at",
            "too_far_in_past",
            format!("occurred_at is more than {} h old", limits.max_age.num_hours()),
        ));
    }
    Ok(())
}

fn take_amount(object: &mut Map<String, Value>) -> Result<Option<f64>, ValidationError> {
    let amount = match object.remove("amount") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match amount {
        Some(value) if value.is_finite() && (0.0..=MAX_AMOUNT).contains(&value) => Ok(Some(value)),
        Some(_) => Err(ValidationError::new("amount", "range", "amount must be a finite number from 0 to 1e12")),
        None => Err(ValidationError::new("amount", "type", "amount must be a number")),
    }
}

fn take_currency(object: &mut Map<String, Value>) -> Result<Option<String>, ValidationError> {
    match object.remove("currency") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(code)) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => Ok(Some(code)),
        Some(_) => Err(ValidationError::new("currency", "format", "currency must be an ISO 4217 code such as EUR")),
    }
}

fn take_keys(
    object: &mut Map<String, Value>,
    limits: &ValidationLimits,
) -> Result<BTreeMap<String, String>, ValidationError> {
    let entries = match object.remove("keys") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => return Err(ValidationError::new("keys", "type", "keys must be an object of strings")),
    };
    let mut keys = BTreeMap::new();
    for (name, value) in entries {
        let field = format!("keys.{name}");
        let text = match value {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            _ => return Err(ValidationError::new(field, "type", "business keys must be strings or numbers")),
        };
        check_text(&field, &text, limits)?;
        keys.insert(name, text);
    }
    Ok(keys)
}

fn take_properties(
    object: &mut Map<String, Value>,
    limits: &ValidationLimits,
) -> Result<Map<String, Value>, ValidationError> {
    match object.remove("properties") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(properties)) if properties.len() <= limits.max_properties => Ok(properties),
        Some(Value::Object(_)) => Err(ValidationError::new(
            "properties",
            "too_many",
            format!("properties may hold at most {} keys", limits.max_properties),
        )),
        Some(_) => Err(ValidationError::new("properties", "type", "properties must be an object")),
    }
}

fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at.timestamp_millis()).single().unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap()
    }

    fn check(raw: Value) -> Result<Event, ValidationError> {
        validate(raw, "web", now(), &ValidationLimits::default(), || "generated".to_owned())
    }

    fn purchase() -> Value {
        json!({"event_type": "purchase", "anonymous_id": "a1", "order_id": "o-1",
               "amount": 12.5, "currency": "EUR", "region": "EU",
               "occurred_at": "2026-11-25T12:59:58.123Z"})
    }

    #[test]
    fn accepts_a_purchase_and_stamps_it() {
        let event = check(purchase()).unwrap();
        assert_eq!(event.event_id, "generated");
        assert_eq!(event.source, "web");
        assert_eq!(event.received_at, now());
        assert_eq!(event.amount, Some(12.5));
        assert_eq!(event.occurred_at.timestamp_millis() % 1000, 123);
    }

    #[test]
    fn missing_occurred_at_takes_received_at() {
        let event = check(json!({"event_type": "page_view", "user_id": "u"})).unwrap();
        assert_eq!(event.occurred_at, now());
        assert_eq!(event.region, "unknown");
    }

    #[test]
    fn epoch_millis_are_accepted() {
        let millis = now().timestamp_millis() - 1000;
        let event = check(json!({"event_type": "click", "user_id": "u", "occurred_at": millis})).unwrap();
        assert_eq!(event.occurred_at.timestamp_millis(), millis);
    }

    fn rejected(raw: Value) -> (String, &'static str) {
        let error = check(raw).unwrap_err();
        (error.field, error.rule)
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(rejected(json!([1])), ("$".into(), "object"));
        assert_eq!(rejected(json!({"user_id": "u"})), ("event_type".into(), "required"));
        assert_eq!(rejected(json!({"event_type": "pageview", "user_id": "u"})), ("event_type".into(), "unknown_type"));
        assert_eq!(rejected(json!({"event_type": "click"})), ("anonymous_id".into(), "required"));
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "ammount": 1})),
            ("ammount".into(), "unknown_field")
        );
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "source": "x"})),
            ("source".into(), "server_assigned")
        );
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "event_id": "a b"})),
            ("event_id".into(), "format")
        );
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "occurred_at": "yesterday"})),
            ("occurred_at".into(), "format")
        );
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "occurred_at": "2026-11-25T13:06:00Z"})),
            ("occurred_at".into(), "too_far_in_future")
        );
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "occurred_at": "2026-11-01T13:00:00Z"})),
            ("occurred_at".into(), "too_far_in_past")
        );
        let mut no_amount = purchase();
        no_amount.as_object_mut().unwrap().remove("amount");
        assert_eq!(rejected(no_amount), ("amount".into(), "required"));
        let mut bad_currency = purchase();
        bad_currency["currency"] = json!("euro");
        assert_eq!(rejected(bad_currency), ("currency".into(), "format"));
        let mut negative = purchase();
        negative["amount"] = json!(-3);
        assert_eq!(rejected(negative), ("amount".into(), "range"));
        let mut no_order = purchase();
        no_order.as_object_mut().unwrap().remove("order_id");
        assert_eq!(rejected(no_order), ("order_id".into(), "required"));
        let huge = "x".repeat(40_000);
        assert_eq!(
            rejected(json!({"event_type": "click", "user_id": "u", "properties": {"blob": huge}})),
            ("$".into(), "oversize")
        );
        let long = "x".repeat(300);
        assert_eq!(rejected(json!({"event_type": "click", "user_id": long})), ("user_id".into(), "too_long"));
        assert_eq!(rejected(json!({"event_type": "click", "user_id": "a\u{0}b"})), ("user_id".into(), "nul"));
        let keyed = json!({"event_type": "click", "user_id": "u", "keys": {"customer_id": "é".repeat(129)}});
        assert_eq!(rejected(keyed), ("keys.customer_id".into(), "too_long"));
    }

    /// The limit counts bytes, as `VARCHAR(256)` does: 128 two-byte characters fit, 129 do
    /// not; control characters other than NUL are kept byte for byte.
    #[test]
    fn text_limits_are_the_stores_limits() {
        let fits = "é".repeat(128);
        let event = check(json!({"event_type": "click", "user_id": fits, "region": "a\tb\u{1b}"})).unwrap();
        assert_eq!((event.user_id.as_deref().map(str::len), event.region.as_str()), (Some(256), "a\tb\u{1b}"));
        let over = "é".repeat(129);
        assert_eq!(rejected(json!({"event_type": "click", "user_id": over})), ("user_id".into(), "too_long"));
    }

    #[test]
    fn a_five_minute_skew_is_tolerated() {
        let event = check(json!({"event_type": "click", "user_id": "u", "occurred_at": "2026-11-25T13:04:59Z"}));
        assert!(event.is_ok());
    }
}
