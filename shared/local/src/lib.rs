//! Embedded adapters: every port on this machine's disk, no cloud account needed.
//!
//! | port | adapter |
//! |---|---|
//! | event stream | [`EventLog`]: a sharded, durable, ordered log on fjall with consumer checkpoints |
//! | key-value store | [`FjallKvStore`]: the bucketed layout on an on-disk ordered KV (fjall) |
//! | search index | [`TantivyIndex`]: tantivy, answering the OpenSearch aggregation DSL |
//! | object store | [`DirObjectStore`]: a directory, atomic puts by rename |
//! | warehouse | [`DuckWarehouse`]: an embedded DuckDB file, running the Redshift-compatible SQL |
//!
//! These are stand-ins chosen by explicit local configuration; Lambda binaries refuse them.

pub mod event_log;
pub mod kv_store;
pub mod object_dir;
pub mod runner;
pub mod search_index;
pub mod warehouse;

pub use event_log::{CommitStats, EventLog, LogError, LogForgotten, LoggedRecord};
pub use kv_store::FjallKvStore;
pub use object_dir::DirObjectStore;
pub use runner::{ConsumerStats, RunnerConfig};
pub use search_index::TantivyIndex;
pub use warehouse::DuckWarehouse;
