//! Tidemark's AWS adapters: each implements a port of `tidemark-core` on an AWS service,
//! so that the Lambda functions run the same core code as `tidemark up`.
//!
//! Every client honours `TIDEMARK_AWS_ENDPOINT` (see [`config`]), so the same binaries
//! run against moto, LocalStack or another emulator.

pub mod config;
pub mod dynamodb;
pub mod emulator;
pub mod kinesis;
pub mod kinesis_event;
pub mod provision;
pub mod redshift;
pub mod retry;
pub mod s3;
pub mod search;
pub mod secrets;
pub mod settings;
pub mod warehouse;

pub use config::{AwsClients, AwsConfigError, Endpoint};
pub use dynamodb::{DynamoKv, WriteMode};
pub use kinesis::KinesisStream;
pub use redshift::DataApi;
pub use s3::S3ObjectStore;
pub use search::{OpenSearchIndex, SearchAuth};
pub use warehouse::{InlineStaging, RedshiftWarehouse, S3Staging, SqlRunner, SqlWarehouse, Staging};
