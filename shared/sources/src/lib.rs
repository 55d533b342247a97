//! Primary-source connectors for batch-extract: the adapters of the source port.
//!
//! | kind | adapter | incremental by |
//! |---|---|---|
//! | postgres | [`PostgresReader`] (tokio-postgres, rows as `row_to_json`) | cursor column |
//! | mysql | [`MysqlReader`] (mysql_async, MySQL and MariaDB) | cursor column |
//! | csv, jsonl, weblog | [`FileReader`] | byte offset |
//! | dynamodb | [`DynamodbReader`] (parallel scan, signed requests of [`aws_api`]) | cursor attribute |
//!
//! Rows leave the database as JSON lines with their column types in the manifest;
//! files leave as they are, cut into parts at line boundaries.

pub mod aws_api;
mod dynamodb;
mod factory;
mod file;
mod mysql;
mod parts;
mod postgres;
mod query;
pub mod tls;

pub use dynamodb::DynamodbReader;
pub use factory::Connectors;
pub use file::FileReader;
pub use mysql::MysqlReader;
pub use postgres::PostgresReader;
