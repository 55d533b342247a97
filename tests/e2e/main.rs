//! End-to-end tests of the local pipeline, one binary with a module per area.

mod crash;
mod realtime;
mod support;
