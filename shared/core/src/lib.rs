//! Tidemark's domain: the event model and its validation, time buckets and the
//! key-value layout, the real-time ingest service, the stream consumers, the search
//! request model, the batch path's pipeline file, rules and jobs, and the port traits
//! every store implements.
//!
//! This crate does no I/O of its own and depends on no AWS, HTTP or database crate:
//! `cargo tree -p tidemark-core` proves it in CI.

pub mod analysis;
pub mod batch;
pub mod bucket;
pub mod causes;
pub mod clock;
pub mod compact;
pub mod consume;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod event;
pub mod forget;
pub mod ingest;
pub mod job;
pub mod key_registry;
pub mod kv_key;
#[cfg(any(test, feature = "contract"))]
pub mod memory;
pub mod merge;
pub mod ports;
pub mod realtime;
pub mod reconcile;
pub mod report;
pub mod search;
pub mod secret;
pub mod shard;
pub mod validate;

pub use clock::{Clock, FixedClock, SystemClock};
pub use event::{Event, EventType};
pub use validate::{ValidationError, ValidationLimits};
