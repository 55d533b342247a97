//! The batch path: the pipeline file, the raw formats, the transformation rules, and the
//! batch-extract and batch-load jobs over the object store, source and warehouse ports.

pub mod extract;
pub mod jobs;
pub mod load;
pub mod manifest;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod quarantine;
pub mod raw_retention;
pub mod rules;
pub mod schema;
pub mod sql;
pub mod value;

pub use pipeline::{Pipeline, PipelineError, SourceDef, TableDef};
pub use progress::{Progress, Silent};
pub use schema::Schema;
pub use value::{ColumnType, Value};
