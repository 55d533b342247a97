//! Cutting a row stream into parts of `part_rows` JSON lines (or fewer, once a part
//! holds [`MAX_PART_BYTES`]: a DynamoDB item can be 400 KB), sent down a bounded
//! channel so a slow object store holds the database read back.

use futures::channel::mpsc;
use futures::SinkExt;
use tidemark_core::ports::{RawPart, SourceError};

/// The most bytes a part holds in memory before it is sent, whatever `part_rows` says.
pub const MAX_PART_BYTES: usize = 64 << 20;

pub struct PartWriter {
    tx: mpsc::Sender<Result<RawPart, SourceError>>,
    buf: Vec<u8>,
    rows: u64,
    part_rows: u64,
    max_bytes: usize,
    cursor: Option<serde_json::Value>,
}

impl PartWriter {
    pub fn new(tx: mpsc::Sender<Result<RawPart, SourceError>>, part_rows: usize) -> Self {
        PartWriter {
            tx,
            buf: Vec::with_capacity(1 << 20),
            rows: 0,
            part_rows: part_rows as u64,
            max_bytes: MAX_PART_BYTES,
            cursor: None,
        }
    }

    /// A smaller byte bound, for tests.
    #[cfg(test)]
    fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Appends one row (a JSON object without the newline) and the cursor after it.
    pub async fn push(&mut self, line: &[u8], cursor: Option<serde_json::Value>) -> Result<(), ()> {
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        self.rows += 1;
        if cursor.is_some() {
            self.cursor = cursor;
        }
        if self.rows >= self.part_rows || self.buf.len() >= self.max_bytes {
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn a_part_is_cut_at_its_rows_or_its_bytes_whichever_comes_first() {
        futures::executor::block_on(async {
            let (tx, rx) = mpsc::channel(16);
            let mut writer = PartWriter::new(tx, 3).with_max_bytes(10);
            for line in [&b"{\"a\":1}"[..], b"{\"a\":2}", b"{}", b"{}", b"{}"] {
                writer.push(line, None).await.unwrap();
            }
            writer.flush().await.unwrap();
            drop(writer);
            let rows: Vec<u64> = rx.map(|part| part.unwrap().rows).collect().await;
            assert_eq!(rows, [2, 3], "two 8-byte rows pass 10 bytes; then three small rows fill part_rows");
        });
    }
}
