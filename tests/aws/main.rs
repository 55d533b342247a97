//! The AWS deployment's real-time path on emulators: beacon-ingest's router on a
//! Kinesis stream (moto), the records read back from the stream into Lambda-shaped
//! trigger payloads, the stream-index (OpenSearch on osmem-server) and stream-store
//! (DynamoDB on moto) handlers, and the answers compared with what was sent.
//! The scheduled job Lambdas on the same emulators, with PostgreSQL as the source and
//! as the warehouse SQL's runner. The report router over the AWS adapters against the
//! same router over the local ones, answer for answer.
//! The tests that need the emulators are ignored unless run with `--include-ignored`.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

mod console;
mod dynamodb_source;
mod hostile;
mod jobs;
mod notify;
mod pipeline_push;
mod realtime;
mod reports;
