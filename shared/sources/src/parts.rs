//! Cutting a row stream into parts of `part_rows` JSON lines, sent down a bounded
//! channel so a slow object store holds the database read back.

use futures::channel::mpsc;
use futures::SinkExt;
use tidemark_core::ports::{RawPart, SourceError};

pub struct PartWriter {
    tx: mpsc::Sender<Result<RawPart, SourceError>>,
    buf: Vec<u8>,
    rows: u64,
    part_rows: u64,
    cursor: Option<serde_json::Value>,
}

impl PartWriter {
    pub fn new(tx: mpsc::Sender<Result<RawPart, SourceError>>, part_rows: usize) -> Self {
        PartWriter { tx, buf: Vec::with_capacity(1 << 20), rows: 0, part_rows: part_rows as u64, cursor: None }
    }

    /// Appends one row (a JSON object without the newline) and the cursor after it.
    pub async fn push(&mut self, line: &[u8], cursor: Option<serde_json::Value>) -> Result<(), ()> {
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        self.rows += 1;
        if cursor.is_some() {
            self.cursor = cursor;
        }
        if self.rows >= self.part_rows {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends the current part; `Err` means the receiver went away (the job stopped).
    pub async fn flush(&mut self) -> Result<(), ()> {
        if self.rows == 0 {
            return Ok(());
        }
        let part = RawPart {
            bytes: std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 20)),
            rows: std::mem::take(&mut self.rows),
            cursor_to: self.cursor.clone(),
            offset_to: None,
        };
        self.tx.send(Ok(part)).await.map_err(|_| ())
    }

    pub async fn fail(&mut self, e: SourceError) {
        // The receiver may be gone already; then nobody is left to tell.
        if self.tx.send(Err(e)).await.is_err() {
            tracing::debug!("extract receiver closed before the error was delivered");
        }
    }
}
