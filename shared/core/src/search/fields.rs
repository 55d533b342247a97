//! The indexed fields and their kinds: one schema for every search adapter.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Exact-match text (`keyword` in OpenSearch, raw-tokenized fast text in tantivy).
    Keyword,
    /// Milliseconds since the epoch (`date`).
    Date,
    /// Floating point (`double`).
    Number,
}

pub const FIELDS: &[(&str, FieldKind)] = &[
    ("event_id", FieldKind::Keyword),
    ("event_type", FieldKind::Keyword),
    ("occurred_at", FieldKind::Date),
    ("received_at", FieldKind::Date),
    ("source", FieldKind::Keyword),
    ("anonymous_id", FieldKind::Keyword),
    ("user_id", FieldKind::Keyword),
    ("session_id", FieldKind::Keyword),
    ("order_id", FieldKind::Keyword),
    ("region", FieldKind::Keyword),
    ("currency", FieldKind::Keyword),
    ("amount", FieldKind::Number),
];

pub fn field_kind(name: &str) -> Option<FieldKind> {
    FIELDS.iter().find(|(field, _)| *field == name).map(|(_, kind)| *kind)
}

/// The text of a keyword field of `event`, by its indexed name: what the index stores
/// and what a term filter or a group compares against.
pub fn keyword_of<'e>(event: &'e crate::event::Event, field: &str) -> Option<&'e str> {
    match field {
        "event_id" => Some(&event.event_id),
        "event_type" => Some(event.event_type.as_str()),
        "source" => Some(&event.source),
        "region" => Some(&event.region),
        "anonymous_id" => event.anonymous_id.as_deref(),
        "user_id" => event.user_id.as_deref(),
        "session_id" => event.session_id.as_deref(),
        "order_id" => event.order_id.as_deref(),
        "currency" => event.currency.as_deref(),
        _ => None,
    }
}
