//! The SAM template (infra/template.yaml), read as data: every function has its
//! trigger, stream consumers park what they cannot process, and IAM names its resources.
//! The documents: short where they must be, and every link between them resolving.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

mod docs;
mod template;
