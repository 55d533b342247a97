//! Forgetting a person: removing every event and row that carries one of their ids
//! from every store, on request (GDPR's right to erasure, CCPA's right to delete).
//!
//! What carries a person's id: events (`user_id`, `anonymous_id`) in the stream, the
//! key-value store, the search index and dead letters; warehouse rows in the columns a
//! table names as its person columns; raw extract rows in the source columns that do.
//! Each store forgets through its port ([`KvStore::scan`] + `delete_items`,
//! [`crate::ports::SearchIndex::delete_matching`], staged deletes in the warehouse,
//! rewritten parts in the object store); the embedded log, which has no port for it,
//! forgets in its own crate.

pub mod raw;
pub mod warehouse;

use serde::{Deserialize, Serialize};

use crate::batch::extract::ExtractError;
use crate::batch::pipeline::Pipeline;
use crate::event::Event;
use crate::kv_key::{KvKey, KvLayout};
use crate::ports::kv::{KvError, KvStore};
use crate::ports::object_store::ObjectStore;
use crate::ports::search::{SearchError, SearchIndex};
use crate::ports::warehouse::{Warehouse, WarehouseError};
use crate::search::Query;

/// Which of a person's ids a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonField {
    UserId,
    AnonymousId,
}

impl PersonField {
    /// The event field, and the default column name, that holds this id.
    pub fn name(self) -> &'static str {
        match self {
            PersonField::UserId => "user_id",
            PersonField::AnonymousId => "anonymous_id",
        }
    }
}

/// The longest id a request may name: the event model's text limit.
const MAX_ID_BYTES: usize = 256;

/// A person, by one of their ids: what `tidemark forget --user-id U` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    field: PersonField,
    id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {rule}")]
pub struct PersonError {
    pub field: &'static str,
    pub rule: &'static str,
}

impl Person {
    /// Checked as an event's id is: a request that names nothing, or more than an event
    /// can carry, is refused rather than matching nothing (or everything) in silence.
    pub fn new(field: PersonField, id: &str) -> Result<Self, PersonError> {
        let refuse = |rule| Err(PersonError { field: field.name(), rule });
        if id.trim().is_empty() {
            return refuse("must not be empty");
        }
        if id.len() > MAX_ID_BYTES {
            return refuse("must be at most 256 bytes");
        }
        if id.contains('\0') {
            return refuse("must not contain NUL");
        }
        Ok(Self { field, id: id.to_owned() })
    }

    pub fn field(&self) -> PersonField {
        self.field
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `event` is one of this person's.
    pub fn owns(&self, event: &Event) -> bool {
        let value = match self.field {
            PersonField::UserId => event.user_id.as_deref(),
            PersonField::AnonymousId => event.anonymous_id.as_deref(),
        };
        value == Some(self.id.as_str())
    }

    /// Whether a stream record (an event's JSON) is one of this person's.
    pub fn owns_record(&self, data: &[u8]) -> bool {
        Event::from_record_bytes(data).is_ok_and(|event| self.owns(&event))
    }

    /// The search query that matches this person's documents.
    fn search_query(&self) -> Query {
        Query::Term { field: self.field.name().to_owned(), value: self.id.clone() }
    }
}

/// A request to forget, as JSON: `{"user_id": "U"}` or `{"anonymous_id": "A"}` (the
/// local route's body, the AWS function's payload).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRequest {
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
}

impl PersonRequest {
    pub fn person(&self) -> Result<Person, PersonError> {
        match (&self.user_id, &self.anonymous_id) {
            (Some(id), None) => Person::new(PersonField::UserId, id),
            (None, Some(id)) => Person::new(PersonField::AnonymousId, id),
            _ => Err(PersonError { field: "user_id, anonymous_id", rule: "name exactly one of them" }),
        }
    }
}

/// Columns that hold a person's ids, in a table or in a source's raw rows. Unset, the
/// columns named `user_id` and `anonymous_id` are, where they exist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonColumns {
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
}

impl PersonColumns {
    /// The column that holds `field`, among `columns`: the declared one, or the one
    /// named after the field.
    pub fn column<'a>(&'a self, field: PersonField, mut columns: impl Iterator<Item = &'a str>) -> Option<&'a str> {
        let declared = match field {
            PersonField::UserId => self.user_id.as_deref(),
            PersonField::AnonymousId => self.anonymous_id.as_deref(),
        };
        declared.or_else(|| columns.find(|c| *c == field.name()))
    }

    pub fn declared(&self) -> impl Iterator<Item = &str> {
        self.user_id.iter().chain(&self.anonymous_id).map(String::as_str)
    }
}

/// What forgetting removed from one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// The store and, where it has parts, the part: `kv`, `index`, `warehouse.orders`.
    pub store: String,
    pub removed: u64,
    /// What the store could not do itself (Kinesis keeps records until they expire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Forgotten {
    pub fn new(store: impl Into<String>, removed: u64) -> Self {
        Self { store: store.into(), removed, note: None }
    }
}

/// Items read per scan page: bounded memory however large the store.
const SCAN_PAGE: usize = 1_000;

/// Removes the person's events from the key-value store, with their markers, by
/// scanning it whole: the store is keyed by time, not by person, and a scan is the only
/// way that does not depend on another store having every event. Returns the events
/// removed.
pub async fn forget_kv(kv: &dyn KvStore, layout: &KvLayout, person: &Person) -> Result<u64, KvError> {
    let mut removed = 0;
    let mut after: Option<KvKey> = None;
    loop {
        let page = kv.scan(after.clone(), SCAN_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        let full = page.len() == SCAN_PAGE;
        let mut doomed = Vec::new();
        for item in page {
            // Markers hold a key, not an event, and never decode.
            let Ok(event) = Event::from_record_bytes(&item.value) else { continue };
            if person.owns(&event) {
                doomed.push(layout.marker_key(&event));
                doomed.push(item.key);
                removed += 1;
            }
        }
        if !doomed.is_empty() {
            kv.delete_items(doomed).await?;
        }
        if !full {
            break;
        }
    }
    Ok(removed)
}

/// The stores every deployment forgets through its ports (the stream is each
/// deployment's own: the embedded log empties records, Kinesis cannot).
pub struct Stores<'a> {
    pub kv: &'a dyn KvStore,
    pub layout: &'a KvLayout,
    pub index: &'a dyn SearchIndex,
    /// The batch side, when there is a pipeline: its tables and raw extract files.
    pub batch: Option<BatchStores<'a>>,
}

pub struct BatchStores<'a> {
    pub pipeline: &'a Pipeline,
    pub warehouse: &'a dyn Warehouse,
    pub interim: &'a dyn ObjectStore,
}

/// Which store failed: the ones before it are clean, the rest untouched; forgetting
/// again finishes (every step is idempotent).
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("forgetting in the key-value store: {0}")]
    Kv(#[from] KvError),
    #[error("forgetting in the search index: {0}")]
    Index(#[from] SearchError),
    #[error("forgetting in the warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
    #[error("forgetting in the raw extract files: {0}")]
    Raw(#[from] ExtractError),
}

/// Removes the person from the key-value store, the index, the warehouse tables and
/// the raw extract files; one report per store (per table, per source).
pub async fn forget_in(stores: &Stores<'_>, person: &Person) -> Result<Vec<Forgotten>, ForgetError> {
    let mut report = vec![Forgotten::new("kv", forget_kv(stores.kv, stores.layout, person).await?)];
    report.push(Forgotten::new("index", stores.index.delete_matching(&person.search_query()).await?));
    if let Some(batch) = &stores.batch {
        report.extend(warehouse::forget_rows(batch.warehouse, &batch.pipeline.tables, person).await?);
        report.extend(raw::forget_raw(batch.interim, &batch.pipeline.sources, person).await?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests;
