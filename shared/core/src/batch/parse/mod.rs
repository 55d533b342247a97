//! Raw parts back into rows at load time: the interim store keeps each source's own
//! format (claim 2), so parsing happens here, once per load.

pub mod csv;
pub mod jsonl;
pub mod weblog;

use super::manifest::{Manifest, SourceColumn};
use super::pipeline::{SourceDef, SourceKind};
use super::rules::{Row, RowError};
use super::schema::Schema;

/// Where a row came from: part index and line number, packed into a row's `origin`.
pub fn origin(part: usize, line: u64) -> u64 {
    ((part as u64) << 40) | (line & ((1 << 40) - 1))
}

pub fn unpack_origin(origin: u64) -> (usize, u64) {
    ((origin >> 40) as usize, origin & ((1 << 40) - 1))
}

/// Rows of one part, and the lines that could not be read at all.
#[derive(Debug, Default)]
pub struct Parsed {
    pub schema: Schema,
    pub rows: Vec<Row>,
    pub rejected: Vec<(u64, RowError)>,
}

/// Parses one raw part of `source`, as described by its run's manifest.
pub fn parse_part(source: &SourceDef, manifest: &Manifest, part: usize, bytes: &[u8]) -> Parsed {
    match source.kind {
        SourceKind::Postgres | SourceKind::Mysql => jsonl::parse_rows(&manifest.columns, part, bytes),
        SourceKind::Jsonl => {
            let columns: Vec<SourceColumn> =
                source.fields.iter().map(|f| SourceColumn { name: f.clone(), ty: String::new() }).collect();
            jsonl::parse_documents(&columns, part, bytes)
        }
        SourceKind::Csv => csv::parse(bytes, source.delimiter, part),
        SourceKind::Weblog => weblog::parse(bytes, part),
        SourceKind::Realtime => jsonl::parse_events(&manifest.columns, part, bytes),
    }
}
