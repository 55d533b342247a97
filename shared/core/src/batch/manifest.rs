//! The manifest of one extract run, written last into `raw/<source>/<run_id>/`: its
//! presence marks the run complete, and it carries what the next run resumes from.

use std::collections::HashSet;

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
    /// Set on a run that compaction wrote in place of older ones (see `raw_retention`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted: Option<Compaction>,
}

/// What a compacted run stands for: every run of its source up to `through`, whose
/// state it holds (the last row per source key, or every row of a source without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// The last run id it replaces; its own id is [`compacted_run_id`] of this.
    pub through: String,
    /// When it was (re)written: the interim store's retention counts from here.
    pub at: DateTime<Utc>,
}

impl Manifest {
    pub fn prefix(source: &str, run_id: &str) -> String {
        format!("raw/{source}/{run_id}/")
    }

    pub fn key(source: &str, run_id: &str) -> String {
        format!("raw/{source}/{run_id}/manifest.json")
    }

    /// When this run's objects were written: the age the interim store expires it by.
    pub fn written_at(&self) -> DateTime<Utc> {
        self.compacted.as_ref().map_or(self.extracted_at, |c| c.at)
    }

    /// The newest original run this one holds: itself, or the last one it compacted.
    pub fn through(&self) -> &str {
        self.compacted.as_ref().map_or(&self.run_id, |c| &c.through)
    }

    /// Whether a table that loaded `loaded` (source, run id) has this run's rows. A
    /// compacted run is never newer than what every reading table had loaded when it was
    /// written, so a table has it when it has loaded either it or the last run it holds.
    pub fn loaded_in(&self, loaded: &HashSet<(String, String)>) -> bool {
        let has = |run: &str| loaded.contains(&(self.source.clone(), run.to_owned()));
        has(&self.run_id) || has(self.through())
    }
}

/// The id of the run that compacts every run up to `through`. It stays the same when
/// compaction rewrites it, so tables that loaded it keep having loaded it.
pub fn compacted_run_id(through: &str) -> String {
    format!("{through}-compacted")
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
