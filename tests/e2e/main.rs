//! End-to-end tests of the local pipeline, one binary with a module per area.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

mod browser;
mod console;
mod crash;
mod day_precision;
mod demo;
mod forget;
mod hostile;
mod realtime;
mod reports;
mod support;
mod upkeep;
