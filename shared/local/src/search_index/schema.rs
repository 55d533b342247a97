//! The tantivy schema for events, built from the shared field list in core.

use std::collections::HashMap;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::RAW_TOKENIZER_NAME;
use tantivy::{DateTime, TantivyDocument, Term};
use tidemark_core::event::Event;
use tidemark_core::search::fields::{keyword_of, FieldKind, FIELDS};

pub struct EventSchema {
    pub schema: Schema,
    fields: HashMap<&'static str, (Field, FieldKind)>,
    /// The document id: the event's idempotency key (`source/event_id`), matched only.
    key: Field,
}

/// The id field, outside the event fields searches may name.
const KEY_FIELD: &str = "_key";

impl EventSchema {
    pub fn build() -> Self {
        let mut builder = Schema::builder();
        let mut fields = HashMap::new();
        for (name, kind) in FIELDS {
            let field = match kind {
                FieldKind::Keyword => {
                    let indexing = TextFieldIndexing::default()
                        .set_tokenizer(RAW_TOKENIZER_NAME)
                        .set_index_option(IndexRecordOption::Basic);
                    let mut options = TextOptions::default().set_indexing_options(indexing);
                    // Columnar (fast) values feed terms aggregations; ids are only matched.
                    if !matches!(*name, "event_id" | "anonymous_id" | "session_id") {
                        options = options.set_fast(RAW_TOKENIZER_NAME);
                    }
                    if *name == "event_id" {
                        options = options.set_stored();
                    }
                    builder.add_text_field(name, options)
                }
                FieldKind::Date => builder.add_date_field(
                    name,
                    DateOptions::default().set_indexed().set_fast().set_precision(DateTimePrecision::Milliseconds),
                ),
                FieldKind::Number => builder.add_f64_field(name, NumericOptions::default().set_indexed().set_fast()),
            };
            fields.insert(*name, (field, *kind));
        }
        let key_indexing =
            TextFieldIndexing::default().set_tokenizer(RAW_TOKENIZER_NAME).set_index_option(IndexRecordOption::Basic);
        let key = builder.add_text_field(KEY_FIELD, TextOptions::default().set_indexing_options(key_indexing));
        let schema = builder.build();
        Self { schema, fields, key }
    }

    pub fn field(&self, name: &str) -> Option<(Field, FieldKind)> {
        self.fields.get(name).copied()
    }

    /// The term that names one event's document: its idempotency key.
    pub fn id_term(&self, event: &Event) -> Term {
        Term::from_field_text(self.key, &event.idempotency_key())
    }

    pub fn document(&self, event: &Event) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.key, event.idempotency_key());
        for (name, kind) in FIELDS {
            if let (FieldKind::Keyword, Some(value), Some((field, _))) =
                (kind, keyword_of(event, name), self.field(name))
            {
                doc.add_text(field, value);
            }
        }
        for (name, at) in [("occurred_at", event.occurred_at), ("received_at", event.received_at)] {
            if let Some((field, _)) = self.field(name) {
                doc.add_date(field, DateTime::from_timestamp_millis(at.timestamp_millis()));
            }
        }
        if let (Some(amount), Some((field, _))) = (event.amount, self.field("amount")) {
            doc.add_f64(field, amount);
        }
        doc
    }
}
