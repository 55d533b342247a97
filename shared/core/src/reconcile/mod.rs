//! Reconciliation: for every bucket batch now covers, what real time saw against what
//! batch says (counts, sums, keys missing on either side, values that differ).

pub mod compare;
pub mod job;
pub mod sql;

pub use compare::{compare, BucketCheck, Difference, Fact, KeyDifference, Tally};
pub use job::{ReconcileError, ReconcileSummary, Reconciler};
