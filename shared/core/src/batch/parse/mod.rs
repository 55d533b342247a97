//! Raw parts back into rows at load time: the interim store keeps each source's own
//! format, so parsing happens here, once per load.

pub mod csv;
pub mod dynamodb;
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
        SourceKind::Jsonl => jsonl::parse_documents(&field_columns(source), part, bytes),
        SourceKind::Dynamodb => jsonl::parse_items(&field_columns(source), part, bytes),
        SourceKind::Csv => csv::parse(bytes, source.delimiter, part),
        SourceKind::Weblog => weblog::parse(bytes, part),
        SourceKind::Realtime => jsonl::parse_events(&manifest.columns, part, bytes),
    }
}

/// A document source's columns: its fields, typed by the table that reads them.
fn field_columns(source: &SourceDef) -> Vec<SourceColumn> {
    source.fields.iter().map(|f| SourceColumn { name: f.clone(), ty: String::new() }).collect()
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

/// Each line of `bytes` (with its newline), and whether it falls in one of `ranges` (as
/// [`row_lines`] and [`spans`] give them: disjoint, in any order). One pass: the ranges
/// are sorted once and walked beside the lines, so a part with half a million picked
/// rows costs a sort, not half a million checks per line.
pub fn mark_lines<'b>(bytes: &'b [u8], ranges: &[(u64, Option<u64>)]) -> impl Iterator<Item = (bool, &'b [u8])> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut at = 0;
    bytes.split_inclusive(|b| *b == b'\n').enumerate().map(move |(i, line)| {
        let n = i as u64 + 1;
        while sorted.get(at).is_some_and(|(_, next)| next.is_some_and(|next| next <= n)) {
            at += 1;
        }
        let inside = sorted.get(at).is_some_and(|(first, next)| *first <= n && next.is_none_or(|next| n < next));
        (inside, line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_lines_are_those_inside_the_ranges_in_whatever_order_they_come() {
        let text = b"h\n1\n2a\n2b\n3\n4\n";
        let marked: Vec<bool> = mark_lines(text, &[(5, Some(6)), (3, Some(5)), (6, None)]).map(|(m, _)| m).collect();
        assert_eq!(marked, [false, false, true, true, true, true]);
        let marked: Vec<bool> = mark_lines(text, &[(2, Some(3))]).map(|(m, _)| m).collect();
        assert_eq!(marked, [false, true, false, false, false, false]);
        assert_eq!(
            mark_lines(b"a\nb", &[]).map(|(m, l)| (m, l.to_vec())).collect::<Vec<_>>(),
            [(false, b"a\n".to_vec()), (false, b"b".to_vec())]
        );
    }
}
