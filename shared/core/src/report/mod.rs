//! Merged reports at the tidemark: every bucket before the batch watermark from the
//! warehouse, every bucket after it from the search index, each bucket from exactly one
//! side (the rule is in `tidemark.rs`).

pub mod def;
pub mod merge;
pub mod run;
pub mod sql;
#[cfg(test)]
mod tests;
pub mod tidemark;
pub mod views;

pub use def::{Measure, ReportDef};
pub use merge::{to_csv, ReportPoint};
pub use run::{realtime_histogram, run_report, Report, ReportError, ReportQuery};
pub use tidemark::{Plan, Side, Tidemark};
