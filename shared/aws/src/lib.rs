//! Tidemark's AWS adapters: each implements a port of `tidemark-core` on an AWS service,
//! so that the Lambda functions run the same core code as `tidemark up`.
//!
//! Every client honours `TIDEMARK_AWS_ENDPOINT` (see [`config`]), so the same binaries
//! run against moto, LocalStack or another emulator. The harness that starts those
//! emulators and runs the warehouse SQL on PostgreSQL is behind the `test-support`
//! feature, which only tests and the bench turn on.

pub mod config;
pub mod dead_letters;
pub mod dynamodb;
#[cfg(feature = "test-support")]
pub mod emulator;
pub mod jobs;
pub mod kinesis;
pub mod kinesis_event;
pub mod launcher;
#[cfg(feature = "test-support")]
pub mod pg;
#[cfg(feature = "test-support")]
pub mod provision;
pub mod read_access;
pub mod redrive;
pub mod redshift;
pub mod retry;
pub mod s3;
pub mod s3_source;
pub mod search;
pub mod secrets;
pub mod settings;
pub mod sns;
pub mod stream_health;
pub mod warehouse;

pub use config::{AwsClients, AwsConfigError, Endpoint};
pub use dynamodb::{DynamoKv, WriteMode};
pub use kinesis::KinesisStream;
#[cfg(feature = "test-support")]
pub use pg::PgRunner;
pub use read_access::ReadAccess;
pub use redshift::DataApi;
pub use s3::S3ObjectStore;
pub use s3_source::S3FileReader;
pub use search::{OpenSearchIndex, SearchAuth};
pub use sns::SnsNotifier;
#[cfg(feature = "test-support")]
pub use warehouse::InlineStaging;
pub use warehouse::{Dialect, RedshiftWarehouse, S3Staging, SqlRunner, SqlWarehouse, Staging};
