//! Retention of the raw extracts in the interim store, and the compaction that lets
//! them expire without losing what later loads read.
//!
//! The interim store forgets a raw object `keep` after it was written (the bucket's
//! lifecycle rule on AWS, [`expire`] on this machine). Tables with `input = "new"` have
//! loaded a run long before that. Two readers need a source's whole state at every
//! load, though: tables with `input = "snapshot"` and `join` rules. For the sources they
//! read, and for snapshot-mode sources (whose latest run the next extract compares
//! with), [`compact`] rewrites the state as one run once the oldest run is half its
//! retention old: the runs every `new` table has loaded are merged into
//! `<last run>-compacted`, keeping the last row per source key (as Kafka's log
//! compaction keeps the last record per key) or every row of a source without a key,
//! and the runs it replaces are deleted. Rewriting the run resets its age, so the state
//! never expires, and a table rebuilt later loads the state it was built from.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::extract::{self, put_manifest, ExtractError};
use super::load::{current_state, latest_by_key, remap};
use super::manifest::{self, compacted_run_id, Compaction, Manifest, PartInfo};
use super::parse::{mark_lines, parse_part, record_starts, spans};
use super::pipeline::{ExtractMode, InputMode, Pipeline, SourceDef, SourceKind};
use super::rules::{Row, RuleDef};
use super::schema::Schema;
use crate::clock::Clock;
use crate::ports::{ObjectStore, ObjectStoreError, Warehouse, WarehouseError};

/// How long the interim store keeps a raw object after writing it. The AWS template's
/// `RawRetentionDays` and `tidemark`'s `--retain-raw-days` set it; both default to 90.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRetention {
    pub keep: Duration,
}

impl Default for RawRetention {
    fn default() -> Self {
        Self { keep: Duration::days(90) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RawRetentionError {
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

/// One source's compaction.
#[derive(Debug, Clone, Serialize)]
pub struct RawCompaction {
    pub source: String,
    pub run_id: String,
    /// Runs merged (the previous compacted run counts as one).
    pub runs: usize,
    pub rows: u64,
    /// Runs deleted because the compacted run replaces them.
    pub removed_runs: usize,
    pub elapsed_ms: u64,
}

/// Compacts every source whose state later loads read, where its oldest run is half
/// the retention old. Runs a `new` table has not loaded yet are left as they are.
pub async fn compact(
    pipeline: &Pipeline,
    store: &dyn ObjectStore,
    warehouse: &dyn Warehouse,
    clock: &dyn Clock,
    retention: RawRetention,
) -> Result<Vec<RawCompaction>, RawRetentionError> {
    let mut out = Vec::new();
    for source in pipeline.sources.iter().filter(|s| state_is_read(pipeline, s)) {
        let started = Instant::now();
        let runs = extract::runs(store, &source.name).await?;
        let due = runs.first().is_some_and(|oldest| clock.now() - oldest.written_at() >= retention.keep / 2);
        if !due {
            continue;
        }
        let chosen = match source.mode {
            ExtractMode::Snapshot => current_state(&runs, source),
            ExtractMode::Incremental => loaded_by_every_table(pipeline, source, &runs, warehouse).await?,
        };
        let Some(last) = chosen.last() else { continue };
        let through = last.through().to_owned();
        let (parts, rows) = write_state(source, &chosen, &through, store).await?;
        let compacted = Manifest {
            source: source.name.clone(),
            run_id: compacted_run_id(&through),
            kind: last.kind,
            mode: source.mode,
            rows,
            checksum: manifest::combine(&parts),
            parts,
            columns: last.columns.clone(),
            cursor_from: chosen[0].cursor_from.clone(),
            cursor_to: last.cursor_to.clone(),
            offset_from: chosen[0].offset_from,
            offset_to: last.offset_to,
            extracted_at: last.extracted_at,
            elapsed_ms: started.elapsed().as_millis() as u64,
            compacted: Some(Compaction { through: through.clone(), at: clock.now() }),
        };
        put_manifest(store, &compacted).await?;
        let removed_runs = delete_replaced(store, &source.name, &through, &compacted.run_id).await?;
        out.push(RawCompaction {
            source: source.name.clone(),
            run_id: compacted.run_id,
            runs: chosen.len(),
            rows,
            removed_runs,
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
    }
    Ok(out)
}

/// Whether a load reads `source`'s whole state rather than only its new runs.
fn state_is_read(pipeline: &Pipeline, source: &SourceDef) -> bool {
    source.mode == ExtractMode::Snapshot
        || pipeline.tables.iter().any(|t| {
            (t.source == source.name && t.input == InputMode::Snapshot)
                || t.rules.iter().any(|r| matches!(r, RuleDef::Join(j) if j.source == source.name))
        })
}

/// The oldest runs that every `new` table of `source` has loaded: compacting a run a
/// table still has to load would hand it rows it already has.
async fn loaded_by_every_table<'m>(
    pipeline: &Pipeline,
    source: &SourceDef,
    runs: &'m [Manifest],
    warehouse: &dyn Warehouse,
) -> Result<Vec<&'m Manifest>, RawRetentionError> {
    let mut tables: Vec<HashSet<(String, String)>> = Vec::new();
    for t in pipeline.tables.iter().filter(|t| t.source == source.name && t.input == InputMode::New) {
        tables.push(warehouse.loaded_runs(&t.name).await?.into_iter().collect());
    }
    Ok(runs.iter().take_while(|m| tables.iter().all(|loaded| m.loaded_in(loaded))).collect())
}

/// Writes the state of `runs` as the parts of the compacted run; returns them and the
/// rows they hold. Parts stay in the source's format and keep `part_rows` rows at most.
async fn write_state(
    source: &SourceDef,
    runs: &[&Manifest],
    through: &str,
    store: &dyn ObjectStore,
) -> Result<(Vec<PartInfo>, u64), RawRetentionError> {
    let mut pieces = Vec::new();
    for m in runs {
        for part in &m.parts {
            pieces.push((*m, store.get(&part.key).await?.unwrap_or_default(), part.rows));
        }
    }
    let keyed = source.mode == ExtractMode::Incremental && !source.key.is_empty();
    let kept: Vec<(Vec<u8>, u64)> = if keyed {
        latest_rows(source, pieces)
    } else {
        pieces.into_iter().map(|(_, bytes, rows)| (bytes, rows)).collect()
    };
    let header = last_kind(runs) == SourceKind::Csv;
    let prefix = Manifest::prefix(&source.name, &compacted_run_id(through));
    let mut parts = Vec::new();
    let mut total = 0;
    for (body, rows) in join_pieces(kept, header, source.part_rows as u64) {
        let key = format!("{prefix}part-{:05}.{}", parts.len(), source.kind.extension());
        let info = PartInfo { key: key.clone(), rows, bytes: body.len() as u64, sha256: manifest::sha256_hex(&body) };
        store.put(&key, body).await?;
        total += rows;
        parts.push(info);
    }
    Ok((parts, total))
}

fn last_kind(runs: &[&Manifest]) -> SourceKind {
    runs.last().map_or(SourceKind::Jsonl, |m| m.kind)
}

/// The pieces cut down to the lines of the last row per source key (and, for CSV,
/// each piece's header line), with the rows each keeps.
fn latest_rows(source: &SourceDef, pieces: Vec<(&Manifest, Vec<u8>, u64)>) -> Vec<(Vec<u8>, u64)> {
    let mut schema: Option<Schema> = None;
    let mut rows: Vec<Row> = Vec::new();
    let mut starts = Vec::with_capacity(pieces.len());
    for (part_no, (m, bytes, _)) in pieces.iter().enumerate() {
        let parsed = parse_part(source, m, part_no, bytes);
        starts.push(record_starts(parsed.rows.iter().map(|r| r.origin), parsed.rejected.iter().map(|(o, _)| *o)));
        let target = schema.get_or_insert_with(|| parsed.schema.clone());
        rows.extend(remap(parsed.rows, &parsed.schema, target));
    }
    let survivors: HashSet<u64> =
        latest_by_key(rows, &schema.unwrap_or_default(), &source.key).iter().map(|r| r.origin).collect();
    let mut by_part: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for origin in survivors {
        by_part.entry(super::parse::unpack_origin(origin).0).or_default().push(origin);
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(part_no, (m, bytes, _))| {
            let picked = by_part.remove(&part_no).unwrap_or_default();
            let ranges = spans(&starts[part_no], picked.into_iter());
            (keep_lines(&bytes, &ranges, m.kind == SourceKind::Csv), ranges.len() as u64)
        })
        .collect()
}

/// The lines of `bytes` inside `ranges`, and the first line when `header`.
fn keep_lines(bytes: &[u8], ranges: &[(u64, Option<u64>)], header: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, (kept, line)) in mark_lines(bytes, ranges).enumerate() {
        if (header && i == 0) || kept {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Concatenates pieces into parts of at most `part_rows` rows (a piece is never split).
/// CSV pieces with the same header share one part and one header line.
fn join_pieces(pieces: Vec<(Vec<u8>, u64)>, header: bool, part_rows: u64) -> Vec<(Vec<u8>, u64)> {
    let first_line = |b: &[u8]| -> Vec<u8> { b.split_inclusive(|c| *c == b'\n').next().unwrap_or_default().to_vec() };
    let mut out: Vec<(Vec<u8>, u64)> = Vec::new();
    for (bytes, rows) in pieces.into_iter().filter(|(_, rows)| *rows > 0) {
        let fits = out.last().is_some_and(|(body, held)| {
            held + rows <= part_rows.max(1) && (!header || first_line(body) == first_line(&bytes))
        });
        match out.last_mut() {
            Some((body, held)) if fits => {
                if !body.ends_with(b"\n") {
                    body.push(b'\n');
                }
                let skip = if header { first_line(&bytes).len() } else { 0 };
                body.extend_from_slice(&bytes[skip..]);
                *held += rows;
            }
            _ => out.push((bytes, rows)),
        }
    }
    out
}

/// Deletes every run of `source` up to `through` except `keep` (leftovers of crashed
/// extracts too). Returns how many runs went.
async fn delete_replaced(
    store: &dyn ObjectStore,
    source: &str,
    through: &str,
    keep: &str,
) -> Result<usize, RawRetentionError> {
    let runs = runs_under(store, &format!("raw/{source}/")).await?;
    let doomed: Vec<_> = runs.iter().filter(|((_, run), _)| run.as_str() != keep && run.as_str() <= through).collect();
    delete_runs(store, &doomed).await?;
    Ok(doomed.len())
}

/// This machine's lifecycle rule: deletes every complete run of every source written
/// before `before` (compacted runs count from their last rewrite). Returns the runs.
pub async fn expire(store: &dyn ObjectStore, before: DateTime<Utc>) -> Result<u64, RawRetentionError> {
    let runs = runs_under(store, "raw/").await?;
    let mut doomed = Vec::new();
    for run in &runs {
        let ((source, id), keys) = run;
        let manifest = Manifest::key(source, id);
        // A run without its manifest (a crashed extract) has no age to go by.
        if keys.contains(&manifest) && extract::read_manifest(store, source, &manifest).await?.written_at() < before {
            doomed.push(run);
        }
    }
    delete_runs(store, &doomed).await?;
    Ok(doomed.len() as u64)
}

/// Every key under `prefix` (`raw/` or `raw/<source>/`), by source and run id.
async fn runs_under(store: &dyn ObjectStore, prefix: &str) -> Result<RunKeys, ObjectStoreError> {
    let mut runs = RunKeys::new();
    for key in store.list(prefix).await? {
        let mut path = key.strip_prefix("raw/").unwrap_or_default().splitn(3, '/');
        if let (Some(source), Some(run), Some(_)) = (path.next(), path.next(), path.next()) {
            runs.entry((source.to_owned(), run.to_owned())).or_default().push(key.clone());
        }
    }
    Ok(runs)
}

/// Keys of raw runs, by (source, run id).
type RunKeys = BTreeMap<(String, String), Vec<String>>;

/// Deletes whole runs: every manifest first, so that no run is ever complete with parts
/// missing, then the rest of their keys.
async fn delete_runs(
    store: &dyn ObjectStore,
    runs: &[(&(String, String), &Vec<String>)],
) -> Result<(), ObjectStoreError> {
    for ((source, run), _) in runs {
        store.delete(&Manifest::key(source, run)).await?;
    }
    for (_, keys) in runs {
        for key in keys.iter().filter(|key| !key.ends_with("/manifest.json")) {
            store.delete(key).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_pieces_with_one_header_share_a_part_and_the_header_once() {
        let pieces = vec![
            (b"id,v\n1,a\n".to_vec(), 1),
            (b"id,v\n2,b\n3,c\n".to_vec(), 2),
            (b"v,id\nd,4\n".to_vec(), 1),
            (b"v,id\n".to_vec(), 0),
        ];
        let parts = join_pieces(pieces, true, 10);
        assert_eq!(parts, vec![(b"id,v\n1,a\n2,b\n3,c\n".to_vec(), 3), (b"v,id\nd,4\n".to_vec(), 1)]);
    }

    #[test]
    fn parts_hold_at_most_part_rows_and_lines_end_before_the_next_piece() {
        let pieces = vec![(b"a\nb".to_vec(), 2), (b"c\n".to_vec(), 1), (b"d\ne\n".to_vec(), 2)];
        let parts = join_pieces(pieces, false, 3);
        assert_eq!(parts, vec![(b"a\nb\nc\n".to_vec(), 3), (b"d\ne\n".to_vec(), 2)]);
    }

    #[test]
    fn kept_lines_are_the_ranges_and_the_header() {
        let text = b"id,v\n1,a\n2,\"b\nc\"\n3,d\n";
        assert_eq!(keep_lines(text, &[(3, Some(5))], true), b"id,v\n2,\"b\nc\"\n".to_vec());
        assert_eq!(keep_lines(text, &[(5, None)], false), b"3,d\n".to_vec());
    }
}
