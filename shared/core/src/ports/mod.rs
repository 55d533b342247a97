//! The ports: one small trait per store. Adapters live in `tidemark-local` (embedded)
//! and `tidemark-aws`; a contract suite per port runs against each of them.

pub mod kv;
pub mod search;
pub mod stream;

pub use kv::{KvError, KvStore, PutItemOutcome};
pub use search::{IndexOutcome, SearchError, SearchIndex};
pub use stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
