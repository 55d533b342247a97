//! Forgetting in the interim store: the raw rows of every extract run that carry the
//! person's id, in the source columns that hold it.
//!
//! A row's lines are blanked, not cut: every parser skips blank lines, and every other
//! row keeps its line number, which quarantine records point at. The run's manifest is
//! rewritten after its parts (sizes, checksums, row counts), so it still describes them.

use super::{Forgotten, Person};
use crate::batch::extract::{manifests, put_manifest, read_manifest, ExtractError};
use crate::batch::manifest::{combine, sha256_hex, Manifest};
use crate::batch::parse::{mark_lines, parse_part, row_lines, Parsed};
use crate::batch::pipeline::SourceDef;
use crate::ports::object_store::ObjectStore;

/// Rewrites the runs of each source; one report per source that had a person column.
pub async fn forget_raw(
    store: &dyn ObjectStore,
    sources: &[SourceDef],
    person: &Person,
) -> Result<Vec<Forgotten>, ExtractError> {
    let mut reports = Vec::new();
    for source in sources {
        let mut removed = None;
        for key in manifests(store, &source.name).await? {
            let mut manifest = read_manifest(store, &source.name, &key).await?;
            if let Some(rows) = forget_run(store, source, &mut manifest, person).await? {
                *removed.get_or_insert(0) += rows;
            }
        }
        let declared = source.person.declared().next().is_some();
        if let Some(rows) = removed.or(declared.then_some(0)) {
            reports.push(Forgotten::new(format!("raw.{}", source.name), rows));
        }
    }
    Ok(reports)
}

/// Blanks the person's rows in one run; `None` when its rows have no person column.
async fn forget_run(
    store: &dyn ObjectStore,
    source: &SourceDef,
    manifest: &mut Manifest,
    person: &Person,
) -> Result<Option<u64>, ExtractError> {
    let mut removed = None;
    let mut changed = false;
    for index in 0..manifest.parts.len() {
        let key = manifest.parts[index].key.clone();
        let Some(bytes) = store.get(&key).await? else { continue };
        let parsed = parse_part(source, manifest, index, &bytes);
        let Some(column) = source.person.column(person.field(), parsed.schema.names()) else { continue };
        let Some(slot) = parsed.schema.index(column) else { continue };
        let lines = owned_lines(&parsed, slot, person);
        *removed.get_or_insert(0) += lines.len() as u64;
        if lines.is_empty() {
            continue;
        }
        let kept = blank_lines(&bytes, &lines);
        let part = &mut manifest.parts[index];
        part.rows = part.rows.saturating_sub(lines.len() as u64);
        part.bytes = kept.len() as u64;
        part.sha256 = sha256_hex(&kept);
        manifest.rows = manifest.rows.saturating_sub(lines.len() as u64);
        store.put(&key, kept).await?;
        changed = true;
    }
    if changed {
        manifest.checksum = combine(&manifest.parts);
        put_manifest(store, manifest).await?;
    }
    Ok(removed)
}

/// The lines of the person's rows.
fn owned_lines(parsed: &Parsed, slot: usize, person: &Person) -> Vec<(u64, Option<u64>)> {
    row_lines(parsed, |row| row.cells.get(slot).is_some_and(|cell| cell.to_string() == person.id()))
}

/// `bytes` with the given line ranges emptied (their newlines kept).
fn blank_lines(bytes: &[u8], ranges: &[(u64, Option<u64>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (doomed, line) in mark_lines(bytes, ranges) {
        if doomed {
            if line.ends_with(b"\n") {
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanked_lines_keep_their_newlines_and_the_rest_its_line_numbers() {
        let text = b"id,user\n1,a\n2,\"b\nc\"\n3,d\n";
        assert_eq!(blank_lines(text, &[(3, Some(5))]), b"id,user\n1,a\n\n\n3,d\n".to_vec());
        assert_eq!(blank_lines(text, &[(5, None)]), b"id,user\n1,a\n2,\"b\nc\"\n\n".to_vec());
    }
}
