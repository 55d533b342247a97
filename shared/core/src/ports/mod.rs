//! The ports: one small trait per store. Adapters live in `tidemark-local` (embedded),
//! `tidemark-sources` (primary sources) and `tidemark-aws`; a contract suite per port
//! runs against each of them.

pub mod kv;
pub mod notify;
pub mod object_store;
pub mod search;
pub mod source;
pub mod stream;
pub mod warehouse;

pub use kv::{KvError, KvStore, PutItemOutcome};
pub use notify::{Notice, Notifier, NotifyError};
pub use object_store::{ObjectStore, ObjectStoreError};
pub use search::{IndexOutcome, SearchError, SearchIndex};
pub use source::{ExtractFrom, Extraction, RawPart, SourceError, SourceReader};
pub use stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
pub use warehouse::{
    steps, CommitOutcome, LoadCommit, Query, QueryResult, Rows, Step, Warehouse, WarehouseError, Watermark,
};

/// A store answered, but not in the shape the query asked for: a bug or a version skew
/// between adapter and store, never bad input, so callers answer it as a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {store} answer: {what}")]
pub struct UnreadableAnswer {
    pub store: &'static str,
    pub what: String,
}

impl UnreadableAnswer {
    pub fn search(what: impl Into<String>) -> Self {
        UnreadableAnswer { store: "search", what: what.into() }
    }

    pub fn warehouse(what: impl Into<String>) -> Self {
        UnreadableAnswer { store: "warehouse", what: what.into() }
    }
}
