//! JSON lines: database rows as the extractor wrote them (one object per row, keys in
//! query column order, types recorded in the manifest), and NoSQL documents whose
//! nested fields are read by dotted path (`customer.address.city`).

use super::super::manifest::SourceColumn;
use super::super::rules::{Row, RowError};
use super::super::schema::Schema;
use super::super::value::{ColumnType, Value};
use super::{origin, Parsed};

/// Database rows: the manifest's column types turn date and time text back into typed values.
pub fn parse_rows(columns: &[SourceColumn], part: usize, bytes: &[u8]) -> Parsed {
    let temporal: Vec<Option<ColumnType>> = columns.iter().map(|c| temporal_type(&c.ty)).collect();
    parse(columns, part, bytes, |doc, name| doc.get(name), &temporal, Plain::AsIs)
}

/// Events as the stream carries them: fields by dotted path (`properties.url`), with the
/// manifest's types for the timestamps.
pub fn parse_events(columns: &[SourceColumn], part: usize, bytes: &[u8]) -> Parsed {
    let temporal: Vec<Option<ColumnType>> = columns.iter().map(|c| temporal_type(&c.ty)).collect();
    parse(columns, part, bytes, lookup_path, &temporal, Plain::AsIs)
}

/// Documents: fields by dotted path; a missing field is null.
pub fn parse_documents(columns: &[SourceColumn], part: usize, bytes: &[u8]) -> Parsed {
    let none = vec![None; columns.len()];
    parse(columns, part, bytes, lookup_path, &none, Plain::AsIs)
}

/// DynamoDB items (DynamoDB JSON): unwrapped, then read as documents.
pub fn parse_items(columns: &[SourceColumn], part: usize, bytes: &[u8]) -> Parsed {
    let none = vec![None; columns.len()];
    parse(columns, part, bytes, lookup_path, &none, Plain::DynamodbItem)
}

/// How a line's object becomes the document its fields are read from.
#[derive(Clone, Copy)]
enum Plain {
    AsIs,
    DynamodbItem,
}

fn lookup_path<'a>(doc: &'a serde_json::Map<String, serde_json::Value>, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            serde_json::Value::Object(m) => m.get(p)?,
            serde_json::Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn temporal_type(source_type: &str) -> Option<ColumnType> {
    let t = source_type.to_ascii_lowercase();
    if t.starts_with("timestamp") || t == "datetime" {
        Some(ColumnType::Timestamp)
    } else if t == "date" {
        Some(ColumnType::Date)
    } else {
        None
    }
}

fn parse(
    columns: &[SourceColumn],
    part: usize,
    bytes: &[u8],
    get: impl for<'a> Fn(&'a serde_json::Map<String, serde_json::Value>, &str) -> Option<&'a serde_json::Value>,
    temporal: &[Option<ColumnType>],
    plain: Plain,
) -> Parsed {
    let mut out = Parsed { schema: Schema::new(columns.iter().map(|c| c.name.clone())), ..Parsed::default() };
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let doc: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(line) {
            Ok(d) => match plain {
                Plain::AsIs => d,
                Plain::DynamodbItem => super::dynamodb::plain_item(d),
            },
            Err(e) => {
                out.rejected
                    .push((origin(part, line_no), RowError::new("parse", "", format!("not a JSON object: {e}"))));
                continue;
            }
        };
        let mut cells = Vec::with_capacity(columns.len());
        let mut bad = None;
        for (c, ty) in columns.iter().zip(temporal) {
            let v = get(&doc, &c.name).map_or(Value::Null, Value::from_json);
            let v = match ty {
                Some(t) => match t.cast(&v) {
                    Ok(v) => v,
                    Err(e) => {
                        bad = Some(RowError::new("parse", &c.name, e.to_string()));
                        break;
                    }
                },
                None => v,
            };
            cells.push(v);
        }
        match bad {
            Some(e) => out.rejected.push((origin(part, line_no), e)),
            None => out.rows.push(Row { cells, origin: origin(part, line_no) }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[(&str, &str)]) -> Vec<SourceColumn> {
        names.iter().map(|(n, t)| SourceColumn { name: n.to_string(), ty: t.to_string() }).collect()
    }

    #[test]
    fn database_rows_keep_their_types() {
        let bytes = b"{\"id\":1,\"amount\":19.99,\"at\":\"2026-11-25T10:00:00+00:00\"}\nnot json\n";
        let p = parse_rows(&cols(&[("id", "int8"), ("amount", "numeric"), ("at", "timestamptz")]), 0, bytes);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].cells[0], Value::Int(1));
        assert_eq!(p.rows[0].cells[1], Value::Float(19.99));
        assert!(matches!(p.rows[0].cells[2], Value::Timestamp(_)));
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].0, origin(0, 2));
    }

    #[test]
    fn documents_read_nested_paths() {
        let bytes = br#"{"_id":"a","customer":{"address":{"city":"Oslo"}},"items":[{"sku":"x"}]}
{"_id":"b"}"#;
        let p = parse_documents(&cols(&[("_id", ""), ("customer.address.city", ""), ("items.0.sku", "")]), 3, bytes);
        assert_eq!(p.rows[0].cells, vec![Value::str("a"), Value::str("Oslo"), Value::str("x")]);
        assert_eq!(p.rows[1].cells, vec![Value::str("b"), Value::Null, Value::Null]);
        assert_eq!(p.rows[1].origin, origin(3, 2));
    }

    #[test]
    fn dynamodb_items_read_nested_paths_through_their_type_wrappers() {
        let bytes = br#"{"id":{"S":"a"},"customer":{"M":{"address":{"M":{"city":{"S":"Oslo"}}}}},"total":{"N":"9.5"}}
{"id":{"S":"b"},"lines":{"L":[{"M":{"sku":{"S":"x"}}}]}}
not json"#;
        let p = parse_items(
            &cols(&[("id", ""), ("customer.address.city", ""), ("total", ""), ("lines.0.sku", "")]),
            1,
            bytes,
        );
        assert_eq!(p.rows[0].cells, vec![Value::str("a"), Value::str("Oslo"), Value::Float(9.5), Value::Null]);
        assert_eq!(p.rows[1].cells, vec![Value::str("b"), Value::Null, Value::Null, Value::str("x")]);
        assert_eq!(p.rejected.len(), 1, "an unreadable line is rejected, the rest of the part loads");
    }
}
