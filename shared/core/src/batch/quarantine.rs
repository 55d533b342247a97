//! Quarantined rows: one JSON line each in `quarantine/<table>/<load>.jsonl`, with
//! where the row came from (source, run, part, line) and why (rule, field, reason).

use serde::Serialize;

use super::rules::RowError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineRecord {
    pub table: String,
    pub source: String,
    pub run_id: String,
    pub part: String,
    pub line: u64,
    pub rule: &'static str,
    pub field: String,
    pub reason: String,
}

impl QuarantineRecord {
    pub fn new(table: &str, (source, run_id, part): &(String, String, String), line: u64, e: RowError) -> Self {
        QuarantineRecord {
            table: table.to_string(),
            source: source.clone(),
            run_id: run_id.clone(),
            part: part.clone(),
            line,
            rule: e.rule,
            field: e.field,
            reason: e.reason,
        }
    }
}

pub fn key(table: &str, load_id: &str) -> String {
    format!("quarantine/{table}/{}.jsonl", file_id(load_id))
}

/// A load id as its quarantine file names it.
pub fn file_id(load_id: &str) -> String {
    load_id.replace([':', '/'], "_")
}

pub fn to_jsonl(records: &[QuarantineRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        // Serializing a struct of strings and numbers cannot fail.
        if let Ok(line) = serde_json::to_vec(r) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    out
}
