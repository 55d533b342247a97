//! Contract test suites, one per port. Every adapter's tests call the same functions,
//! so the embedded and the AWS adapters are held to one behaviour. Each function
//! panics (asserts) on a breach; call it with a fresh, empty store.

pub mod kv;
pub mod object_store;
pub mod search;
pub mod stream;
pub mod warehouse;

use crate::event::{Event, EventType};
use chrono::{DateTime, Utc};

/// Text an attacker sends, as an event value or a batch cell: quotes and backslashes
/// that break SQL literals (Redshift reads `\` as an escape), a statement after a
/// quote, placeholder syntax, multi-byte text at the 256-byte limit, control
/// characters. Every store must keep each byte for byte and run none of it.
pub const HOSTILE_TEXT: &[&str] = &[
    "\\",
    "'",
    "EU\\",
    "\\'); DROP TABLE x; --",
    "'); DROP TABLE x; --",
    "$1 :p1 ? %s {0}",
    "\"quoted\" ident",
    "tab\tline\nfeed\rbell\u{7}esc\u{1b}",
    // 128 two-byte characters: 256 bytes, the text limit.
    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
    "日本語の地域",
];

/// A purchase (with amount) or a page view (without), for contract data.
pub fn sample_event(
    event_id: &str,
    event_type: EventType,
    at: DateTime<Utc>,
    region: &str,
    amount: Option<f64>,
) -> Event {
    Event {
        event_id: event_id.to_owned(),
        event_type,
        occurred_at: at,
        received_at: at,
        source: "web".to_owned(),
        anonymous_id: Some(format!("anon-{event_id}")),
        user_id: None,
        session_id: None,
        order_id: amount.map(|_| format!("order-{event_id}")),
        keys: Default::default(),
        region: region.to_owned(),
        amount,
        currency: amount.map(|_| "EUR".to_owned()),
        properties: Default::default(),
    }
}
