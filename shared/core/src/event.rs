//! The event model shared by every path: what a beacon, a pixel or a datagram becomes
//! once it has been validated and stamped by the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The kinds of event the pipeline understands. A closed list, so that a typo in a
/// tracking snippet is rejected at the door instead of becoming a new series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageView,
    Click,
    Search,
    AddToCart,
    RemoveFromCart,
    BeginCheckout,
    Purchase,
    Refund,
    Signup,
    Login,
    Custom,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::PageView,
        EventType::Click,
        EventType::Search,
        EventType::AddToCart,
        EventType::RemoveFromCart,
        EventType::BeginCheckout,
        EventType::Purchase,
        EventType::Refund,
        EventType::Signup,
        EventType::Login,
        EventType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PageView => "page_view",
            EventType::Click => "click",
            EventType::Search => "search",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::BeginCheckout => "begin_checkout",
            EventType::Purchase => "purchase",
            EventType::Refund => "refund",
            EventType::Signup => "signup",
            EventType::Login => "login",
            EventType::Custom => "custom",
        }
    }

    /// Money-moving events must carry an amount and a currency.
    pub fn carries_amount(self) -> bool {
        matches!(self, EventType::Purchase | EventType::Refund)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or(())
    }
}

/// A validated, enriched event: the record that travels on the stream and lands in
/// the search index and the key-value store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Client-given idempotency key, or a UUIDv7 assigned at ingest.
    pub event_id: String,
    pub event_type: EventType,
    /// Client time; buckets are cut on it (event time, not arrival time).
    #[serde(with = "millis_rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// Server time at ingest; kept to measure lateness and clock skew.
    #[serde(with = "millis_rfc3339")]
    pub received_at: DateTime<Utc>,
    /// Assigned from the write key, never from the payload.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Business key that aligns a real-time purchase with its batch order row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Further business keys (customer_id, sku, ...) used to align with batch data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
    /// Sales region; `unknown` when the client did not say.
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// What makes an event one event in every store: its source and its id. A write
    /// key for one source can never name another source's event, whatever id it
    /// sends. Source names hold no `/` (see `ingest::WriteKeys`), so the key is
    /// unambiguous.
    pub fn idempotency_key(&self) -> String {
        format!("{}/{}", self.source, self.event_id)
    }

    /// The wire form on the stream: compact JSON.
    pub fn to_record_bytes(&self) -> Vec<u8> {
        // Room for a typical event up front: `to_vec` starts at 128 bytes and would
        // grow twice on the way to one.
        let mut bytes = Vec::with_capacity(512);
        // Serialising a struct of strings, numbers and a JSON map cannot fail.
        match serde_json::to_writer(&mut bytes, self) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        }
    }

    pub fn from_record_bytes(data: &[u8]) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(data)
    }
}

/// Timestamps travel as RFC 3339 with exactly three fractional digits and a `Z`, so
/// that their text order is their time order (the KV sort key relies on it).
pub mod millis_rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text).map(|at| at.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }

    /// The same for an optional time (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            let text = Option::<String>::deserialize(deserializer)?;
            text.map(|text| {
                DateTime::parse_from_rfc3339(&text).map(|at| at.with_timezone(&Utc)).map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!("pageview".parse::<EventType>().is_err());
    }
}
