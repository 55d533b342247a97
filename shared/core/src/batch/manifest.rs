//! The manifest of one extract run, written last into `raw/<source>/<run_id>/`: its
//! presence marks the run complete, and it carries what the next run resumes from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::pipeline::{ExtractMode, SourceKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceColumn {
    pub name: String,
    /// The source's own type name (`int8`, `timestamptz`, `DECIMAL`), so types survive JSON.
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub source: String,
    pub run_id: String,
    pub kind: SourceKind,
    pub mode: ExtractMode,
    pub rows: u64,
    /// SHA-256 over the parts' contents in order: equal ranges give equal checksums.
    pub checksum: String,
    pub parts: Vec<PartInfo>,
    #[serde(default)]
    pub columns: Vec<SourceColumn>,
    /// Databases: the cursor range covered, (from, to].
    pub cursor_from: Option<serde_json::Value>,
    pub cursor_to: Option<serde_json::Value>,
    /// Files: the byte range covered, [from, to).
    pub offset_from: Option<u64>,
    pub offset_to: Option<u64>,
    pub extracted_at: DateTime<Utc>,
    pub elapsed_ms: u64,
}

impl Manifest {
    pub fn prefix(source: &str, run_id: &str) -> String {
        format!("raw/{source}/{run_id}/")
    }

    pub fn key(source: &str, run_id: &str) -> String {
        format!("raw/{source}/{run_id}/manifest.json")
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The run checksum: a hash of the part hashes in order.
pub fn combine(parts: &[PartInfo]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.sha256.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        // Writing into a String cannot fail.
        write!(s, "{b:02x}").ok();
        s
    })
}

/// Run ids sort by time: `20261125T020000123Z`.
pub fn run_id(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%3fZ").to_string()
}
