//! The columns of a realtime source's runs: the event model's fields, plus the dotted
//! paths a source lifts out of `properties` and `keys`.

use crate::batch::manifest::SourceColumn;

/// The model's fields, with the types the parser restores (timestamps) and the
/// warehouse reads.
const MODEL: [(&str, &str); 13] = [
    ("event_id", "varchar"),
    ("event_type", "varchar"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("source", "varchar"),
    ("anonymous_id", "varchar"),
    ("user_id", "varchar"),
    ("session_id", "varchar"),
    ("order_id", "varchar"),
    ("region", "varchar"),
    ("amount", "double"),
    ("currency", "varchar"),
    ("properties", "json"),
];

pub fn columns(extra: &[String]) -> Vec<SourceColumn> {
    MODEL
        .iter()
        .map(|(name, ty)| SourceColumn { name: (*name).to_owned(), ty: (*ty).to_owned() })
        .chain(
            extra
                .iter()
                .filter(|f| !MODEL.iter().any(|(m, _)| m == f))
                .map(|f| SourceColumn { name: f.clone(), ty: "json".to_owned() }),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::parse::jsonl::parse_events;
    use crate::batch::value::Value;
    use crate::event::Event;

    #[test]
    fn a_stream_record_parses_into_the_model_columns_and_lifted_fields() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "event_id": "e1", "event_type": "purchase", "occurred_at": "2026-11-24T13:05:00.250Z",
            "received_at": "2026-11-24T13:05:01Z", "source": "web", "order_id": "100042",
            "keys": {"customer_id": "c7"}, "region": "EU", "amount": 41.2, "currency": "EUR",
            "properties": {"url": "/checkout"}
        }))
        .unwrap();
        let cols = columns(&["properties.url".into(), "keys.customer_id".into(), "region".into()]);
        assert_eq!(cols.len(), 15, "a model field listed again is not doubled");
        let parsed = parse_events(&cols, 0, &event.to_record_bytes());
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let row = &parsed.rows[0];
        let at = |name: &str| &row.cells[parsed.schema.index(name).unwrap()];
        assert_eq!(at("order_id"), &Value::Str("100042".into()));
        assert!(matches!(at("occurred_at"), Value::Timestamp(t) if t.timestamp_millis() == 1_795_525_500_250));
        assert_eq!(at("properties.url"), &Value::Str("/checkout".into()));
        assert_eq!(at("keys.customer_id"), &Value::Str("c7".into()));
        assert_eq!(at("user_id"), &Value::Null);
    }
}
