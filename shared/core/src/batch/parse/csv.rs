//! CSV parts (the header line first, as the extractor writes every part). Empty fields
//! are null. A record with the wrong number of fields — typically broken quoting, which
//! swallows the lines after it — is quarantined with its line, and reading resumes on
//! the line after the one where the bad record began, so good rows that follow are kept.

use super::super::rules::{Row, RowError};
use super::super::schema::Schema;
use super::super::value::Value;
use super::{origin, Parsed};

pub fn parse(bytes: &[u8], delimiter: char, part: usize) -> Parsed {
    let mut out = Parsed::default();
    let delim = u8::try_from(delimiter).unwrap_or(b',');
    let builder = || {
        let mut b = csv::ReaderBuilder::new();
        b.delimiter(delim).has_headers(false).flexible(true);
        b
    };
    let header_end = bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| p + 1);
    let mut header = builder().from_reader(&bytes[..header_end]);
    let names: Vec<String> = match header.records().next() {
        Some(Ok(r)) => r.iter().map(|s| s.trim().to_string()).collect(),
        _ => {
            out.rejected.push((origin(part, 1), RowError::new("parse", "", "the CSV part has no header line")));
            return out;
        }
    };
    out.schema = Schema::new(names.iter().cloned());
    let width = names.len();

    // Resume points after a bad record: (byte offset, line number of that byte).
    let (mut start, mut start_line) = (header_end, 2u64);
    'restart: while start < bytes.len() {
        let mut reader = builder().from_reader(&bytes[start..]);
        let mut record = csv::ByteRecord::new();
        loop {
            let pos_before = reader.position().clone();
            match reader.read_byte_record(&mut record) {
                Ok(false) => break 'restart,
                Ok(true) => {
                    let line = start_line + pos_before.line() - 1;
                    if record.len() == 1 && record[0].is_empty() {
                        continue;
                    }
                    if record.len() != width {
                        let msg =
                            format!("expected {width} fields, found {} (broken quoting or delimiter?)", record.len());
                        out.rejected.push((origin(part, line), RowError::new("parse", "", msg)));
                        // Restart on the line after this record's first line.
                        let rec_start = start + pos_before.byte() as usize;
                        match bytes[rec_start..].iter().position(|b| *b == b'\n') {
                            Some(nl) => {
                                start = rec_start + nl + 1;
                                start_line = line + 1;
                                continue 'restart;
                            }
                            None => break 'restart,
                        }
                    }
                    let cells = record
                        .iter()
                        .map(|f| match std::str::from_utf8(f) {
                            Ok("") => Value::Null,
                            Ok(s) => Value::str(s),
                            Err(_) => Value::str(String::from_utf8_lossy(f)),
                        })
                        .collect();
                    out.rows.push(Row { cells, origin: origin(part, line) });
                }
                Err(e) => {
                    let line = start_line + pos_before.line() - 1;
                    out.rejected.push((origin(part, line), RowError::new("parse", "", format!("unreadable CSV: {e}"))));
                    break 'restart;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_quoting_quarantines_one_line_and_keeps_the_rest() {
        let csv = "sku,name,price\nA1,Widget,9.99\nA2,\"Broken,5.00\nA3,\"Quoted, with comma\",7.50\nA4,,1\n";
        let p = parse(csv.as_bytes(), ',', 0);
        let skus: Vec<String> = p.rows.iter().map(|r| r.cells[0].to_string()).collect();
        assert_eq!(skus, ["A1", "A3", "A4"]);
        assert_eq!(p.rows[1].cells[1], Value::str("Quoted, with comma"));
        assert_eq!(p.rows[2].cells[1], Value::Null);
        assert_eq!(p.rows[2].origin, origin(0, 5));
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].0, origin(0, 3));
        assert!(p.rejected[0].1.reason.contains("expected 3 fields"));
    }

    #[test]
    fn quoted_newlines_are_one_record() {
        let csv = "id,note\n1,\"two\nlines\"\n2,x\n";
        let p = parse(csv.as_bytes(), ',', 0);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].origin, origin(0, 4));
    }
}
