//! File sources (CSV, JSON lines, web logs) on a local path, read from the byte offset
//! where the last run stopped up to the last complete line. A file shorter than that
//! offset was rotated or rewritten: it is read from the start. Parts are cut at line
//! boundaries outside quotes; every CSV part starts with the file's header line.

use std::path::PathBuf;

use async_trait::async_trait;
use futures::StreamExt;
use tidemark_core::batch::pipeline::{ExtractMode, SourceKind};
use tidemark_core::ports::{ExtractFrom, Extraction, RawPart, SourceError, SourceReader};

#[derive(Debug, Clone)]
pub struct FileReader {
    pub name: String,
    pub kind: SourceKind,
    pub path: PathBuf,
    pub mode: ExtractMode,
}

impl FileReader {
    fn err(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Read { source_name: self.name.clone(), message: format!("{}: {e}", self.path.display()) }
    }

    /// Where this run reads from in a file (or object) of `len` bytes: the start for a
    /// snapshot, else the last run's `offset`, unless the file is now shorter than that
    /// (rotated or rewritten), when it is read from the start again.
    pub fn start_offset(&self, offset: u64, len: u64) -> u64 {
        if self.mode == ExtractMode::Snapshot {
            return 0;
        }
        if offset > len {
            tracing::warn!(source = %self.name, offset, len, "file shrank: reading it from the start");
            return 0;
        }
        offset
    }

    /// Cuts `bytes` (starting at file offset `base`) into parts; pure, for tests.
    pub fn cut(&self, file_start: &[u8], bytes: &[u8], base: u64, part_rows: usize, snapshot: bool) -> Vec<RawPart> {
        let csv = self.kind == SourceKind::Csv;
        let header: Vec<u8> = if csv {
            let end = file_start.iter().position(|b| *b == b'\n').map_or(file_start.len(), |p| p + 1);
            file_start[..end].to_vec()
        } else {
            Vec::new()
        };
        let mut pos = 0usize;
        if csv && base == 0 {
            pos = header.len().min(bytes.len());
        }
        // Incremental runs stop after the last newline: a half-written line waits for the next run.
        let end = if snapshot { bytes.len() } else { bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) };
        let mut parts = Vec::new();
        let mut in_quotes = false;
        let mut buf = header.clone();
        let mut rows = 0u64;
        let mut line_start = pos;
        while pos < end {
            let b = bytes[pos];
            if csv && b == b'"' {
                in_quotes = !in_quotes;
            }
            pos += 1;
            if (b == b'\n' && !in_quotes) || pos == end {
                let line = &bytes[line_start..pos];
                if !line.iter().all(u8::is_ascii_whitespace) {
                    rows += 1;
                }
                buf.extend_from_slice(line);
                line_start = pos;
                if rows as usize >= part_rows {
                    parts.push(RawPart {
                        bytes: std::mem::replace(&mut buf, header.clone()),
                        rows,
                        cursor_to: None,
                        offset_to: Some(base + pos as u64),
                    });
                    rows = 0;
                }
            }
        }
        if rows > 0 {
            parts.push(RawPart { bytes: buf, rows, cursor_to: None, offset_to: Some(base + end as u64) });
        }
        parts
    }
}

#[async_trait]
impl SourceReader for FileReader {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError> {
        let me = self.clone();
        let parts = tokio::task::spawn_blocking(move || -> Result<Vec<RawPart>, SourceError> {
            let all = std::fs::read(&me.path).map_err(|e| me.err(e))?;
            let snapshot = me.mode == ExtractMode::Snapshot;
            let start = usize::try_from(me.start_offset(from.offset, all.len() as u64)).unwrap_or(0);
            Ok(me.cut(&all, &all[start..], start as u64, from.part_rows.max(1), snapshot))
        })
        .await
        .map_err(|e| self.err(e))??;
        Ok(Extraction { columns: Vec::new(), parts: futures::stream::iter(parts.into_iter().map(Ok)).boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(kind: SourceKind) -> FileReader {
        FileReader { name: "f".into(), kind, path: "x".into(), mode: ExtractMode::Incremental }
    }

    #[test]
    fn csv_parts_repeat_the_header_and_stop_at_the_last_newline() {
        let file = b"id,note\n1,a\n2,\"two\nlines\"\n3,c\n4,half";
        let parts = reader(SourceKind::Csv).cut(file, file, 0, 2, false);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].bytes, b"id,note\n1,a\n2,\"two\nlines\"\n");
        assert_eq!(parts[1].bytes, b"id,note\n3,c\n");
        assert_eq!(parts[1].offset_to, Some(file.len() as u64 - 6));
        // The next run starts at that offset and still gets the header.
        let off = parts[1].offset_to.unwrap_or(0) as usize;
        let more = b"id,note\n1,a\n2,\"two\nlines\"\n3,c\n4,half\n5,e\n";
        let next = reader(SourceKind::Csv).cut(more, &more[off..], off as u64, 10, false);
        assert_eq!(next[0].bytes, b"id,note\n4,half\n5,e\n");
        assert_eq!(next[0].rows, 2);
    }

    #[test]
    fn a_run_starts_at_the_offset_unless_snapshot_or_the_file_shrank() {
        let incremental = reader(SourceKind::Weblog);
        assert_eq!(incremental.start_offset(40, 100), 40);
        assert_eq!(incremental.start_offset(100, 100), 100);
        assert_eq!(incremental.start_offset(140, 100), 0, "rotated: from the start");
        let snapshot = FileReader { mode: ExtractMode::Snapshot, ..reader(SourceKind::Csv) };
        assert_eq!(snapshot.start_offset(40, 100), 0);
    }
}
