//! realtime-compact: a closed day's real-time events from the key-value store into the
//! warehouse, through the same rule engine and load path as batch data.
//!
//! The day's events are written unchanged (the stream's own JSON records) as a run of
//! the pipeline's `kind = "realtime"` source in the interim store, exactly as
//! batch-extract writes a source's run; then every table reading that source is loaded
//! by the ordinary batch-load. Tables drop what batch already has with the rules they
//! already know (a left `join` with the batch source by business key, then `discard`
//! the matched rows) and load with `overwrite_period = "day"`, so running the job again
//! for the same day replaces that day and changes nothing else.

pub mod job;
pub mod records;

pub use job::{CompactError, CompactSummary, Compactor};
