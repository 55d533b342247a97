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

/// The lines `[first, next)` (1-based) that each picked row of a part spans: a row runs
/// from its line to the line the next row (or unreadable record) starts on, so a CSV
/// record with quoted newlines is taken whole. `next` is `None` for the part's last row.
pub fn row_lines(parsed: &Parsed, pick: impl Fn(&Row) -> bool) -> Vec<(u64, Option<u64>)> {
    let starts = record_starts(parsed.rows.iter().map(|row| row.origin), parsed.rejected.iter().map(|(o, _)| *o));
    spans(&starts, parsed.rows.iter().filter(|row| pick(row)).map(|row| row.origin))
}

/// The sorted first lines of every record of a part: its rows and unreadable records.
pub fn record_starts(rows: impl Iterator<Item = u64>, rejected: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut starts: Vec<u64> = rows.chain(rejected).map(|origin| unpack_origin(origin).1).collect();
    starts.sort_unstable();
    starts
}

/// The line span of each picked row (by origin), given every record's first line.
pub fn spans(starts: &[u64], picked: impl Iterator<Item = u64>) -> Vec<(u64, Option<u64>)> {
    picked
        .map(|origin| {
            let line = unpack_origin(origin).1;
            let next = starts.partition_point(|start| *start <= line);
            (line, starts.get(next).copied())
        })
        .collect()
}

/// Whether 1-based `line` falls in one of `ranges` (as [`row_lines`] gives them).
pub fn in_ranges(ranges: &[(u64, Option<u64>)], line: u64) -> bool {
    ranges.iter().any(|(first, next)| line >= *first && next.is_none_or(|n| line < n))
}
