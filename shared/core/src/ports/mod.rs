//! The ports: one small trait per store. Adapters live in `tidemark-local` (embedded),
//! `tidemark-sources` (primary sources) and `tidemark-aws`; a contract suite per port
//! runs against each of them.

pub mod kv;
pub mod object_store;
pub mod search;
pub mod source;
pub mod stream;
pub mod warehouse;

pub use kv::{KvError, KvStore, PutItemOutcome};
pub use object_store::{ObjectStore, ObjectStoreError};
pub use search::{IndexOutcome, SearchError, SearchIndex};
pub use source::{ExtractFrom, Extraction, RawPart, SourceError, SourceReader};
pub use stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
pub use warehouse::{
    steps, CommitOutcome, LoadCommit, Query, QueryResult, Rows, Step, Warehouse, WarehouseError, Watermark,
};
