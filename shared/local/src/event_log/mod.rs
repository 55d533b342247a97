//! The embedded event stream: a durable, sharded, ordered log with consumer checkpoints.
//!
//! Each shard is a fjall keyspace keyed by a big-endian sequence number, so a range
//! scan from a checkpoint reads the shard in order. Puts go through one writer thread
//! that gathers every request waiting at that moment into one atomic batch and one
//! fsync (group commit): a `Stored` answer means the record is on disk.
//!
//! fjall is the storage engine (journal, recovery, compaction); what is written here is
//! only the Kinesis-shaped layer on top: shards by MD5 hash-key range, sequence numbers,
//! checkpoints and the dead-letter keyspace.

mod codec;
mod commits;
mod dead_letters;
mod forget;
mod retention;
mod writer;

pub use commits::CommitStats;
pub use forget::LogForgotten;

use chrono::{DateTime, Utc};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidemark_core::consume::StreamRecord;
use tidemark_core::ports::stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
use tidemark_core::shard::shard_for;
use tokio::sync::{mpsc, oneshot, Notify};

/// Sentinel in `heads` for a shard that holds no record yet.
const EMPTY: u64 = u64::MAX;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("event log storage: {0}")]
    Storage(#[from] fjall::Error),
    #[error("event log record {shard}/{seq} is corrupt: {reason}")]
    Corrupt { shard: usize, seq: u64, reason: &'static str },
    /// A complete, once-synced batch in the journal fails its checksum: the disk
    /// damaged an acknowledged record. fjall drops a torn last batch (one whose sync
    /// never finished, so never acknowledged) by itself; this it refuses to guess at.
    #[error(
        "event log journal under {dir} is damaged ({reason}): a record that was written and synced no longer \
         reads back. The log is not opened, so nothing is dropped silently; restore the directory from a backup, \
         or move it aside to start an empty log"
    )]
    JournalDamaged { dir: String, reason: String },
    #[error("event log was opened with {existing} shards; asked for {requested}")]
    ShardCountChanged { existing: usize, requested: usize },
    #[error("event log group commit failed: {0}")]
    CommitFailed(String),
    #[error("event log writer has stopped")]
    WriterStopped,
}

/// One record as stored: where it sits, when it arrived, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRecord {
    pub shard: usize,
    pub seq: u64,
    pub partition_key: String,
    pub arrived_at: DateTime<Utc>,
    pub data: Vec<u8>,
}

impl LoggedRecord {
    /// The record as consumers see it; the bytes move, they are not copied.
    pub fn into_stream_record(self) -> StreamRecord {
        StreamRecord {
            shard_id: shard_id(self.shard),
            sequence_number: sequence_number(self.shard, self.seq),
            data: self.data,
        }
    }
}

/// Kinesis-style shard id: `shardId-` and twelve digits.
pub fn shard_id(shard: usize) -> String {
    let mut text = *b"shardId-000000000000";
    if !put_digits(&mut text[8..], shard as u64) {
        return format!("shardId-{shard:012}");
    }
    ascii(&text)
}

/// Digits only and fixed-width, like a Kinesis sequence number: unique across the
/// stream (the shard is its last five digits) and in numeric order within a shard.
pub fn sequence_number(shard: usize, seq: u64) -> String {
    let mut text = [b'0'; 25];
    let (seq_digits, shard_digits) = text.split_at_mut(20);
    if !put_digits(seq_digits, seq) || !put_digits(shard_digits, shard as u64) {
        return format!("{seq:020}{shard:05}");
    }
    ascii(&text)
}

/// Writes `value` right-aligned in decimal over `out`'s zeros; false if it needs more
/// digits than `out` has. Written out rather than `format!("{:020}")`: these two
/// strings are made for every record put and every record read, and the formatter's
/// padding path showed up at several percent of the pixel's CPU (perf, 2026-12-01).
fn put_digits(out: &mut [u8], mut value: u64) -> bool {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    value == 0
}

/// The digits written above, as text. `from_utf8` checks ASCII in a few instructions
/// per byte; `from_utf8_lossy`'s chunked pass cost about ten times that (callgrind).
fn ascii(bytes: &[u8]) -> String {
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// The (shard, seq) behind a sequence number.
pub fn parse_sequence_number(text: &str) -> Option<(usize, u64)> {
    if text.len() != 25 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let (seq, shard) = text.split_at(20);
    Some((shard.parse().ok()?, seq.parse().ok()?))
}

/// A record parked after its retries ran out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub consumer: String,
    pub shard: usize,
    pub seq: u64,
    pub reason: String,
    pub data: Vec<u8>,
    /// When it was parked (unknown for letters parked before the time was kept).
    pub parked_at: Option<DateTime<Utc>>,
}

struct Shared {
    db: Database,
    shards: Vec<Keyspace>,
    checkpoints: Keyspace,
    dead_letters: Keyspace,
    /// Last sequence number per shard, `EMPTY` when none.
    heads: Vec<AtomicU64>,
    appended: Notify,
    commits: commits::CommitCounters,
}

/// Cheap to clone; every clone talks to the same writer thread.
#[derive(Clone)]
pub struct EventLog {
    shared: Arc<Shared>,
    requests: mpsc::UnboundedSender<writer::PutRequest>,
    /// Fires once the writer thread has finished and released the database.
    writer_done: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl EventLog {
    /// Opens (or creates) the log under `dir` with `shard_count` shards.
    pub fn open(dir: &Path, shard_count: usize) -> Result<Self, LogError> {
        let db = Database::builder(dir).open().map_err(|error| match error {
            fjall::Error::JournalRecovery(reason) => {
                LogError::JournalDamaged { dir: dir.display().to_string(), reason: format!("{reason:?}") }
            }
            other => LogError::Storage(other),
        })?;
        let existing = db.list_keyspace_names().iter().filter(|name| name.starts_with("shard-")).count();
        if existing != 0 && existing != shard_count {
            return Err(LogError::ShardCountChanged { existing, requested: shard_count });
        }
        let mut shards = Vec::with_capacity(shard_count);
        let mut heads = Vec::with_capacity(shard_count);
        for shard in 0..shard_count {
            let keyspace = db.keyspace(&format!("shard-{shard:04}"), KeyspaceCreateOptions::default)?;
            let head = match keyspace.last_key_value() {
                Some(guard) => codec::decode_seq(shard, &guard.key()?)?,
                None => EMPTY,
            };
            heads.push(AtomicU64::new(head));
            shards.push(keyspace);
        }
        let checkpoints = db.keyspace("checkpoints", KeyspaceCreateOptions::default)?;
        let dead_letters = db.keyspace("dead-letters", KeyspaceCreateOptions::default)?;
        let shared = Arc::new(Shared {
            db,
            shards,
            checkpoints,
            dead_letters,
            heads,
            appended: Notify::new(),
            commits: commits::CommitCounters::default(),
        });
        let (requests, done) = writer::spawn(Arc::clone(&shared))?;
        Ok(Self { shared, requests, writer_done: Arc::new(Mutex::new(Some(done))) })
    }

    /// A signal that fires when the writer thread has stopped: after every clone of
    /// this log is dropped, it finishes the queued puts, syncs and closes the files.
    /// Wait on it before reopening the same directory. Given out once.
    pub fn take_writer_done(&self) -> Option<oneshot::Receiver<()>> {
        self.writer_done.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }

    /// Whether the writer thread still takes puts (it stops only when the storage fails
    /// for good, or after every clone is dropped).
    pub fn writer_running(&self) -> bool {
        !self.requests.is_closed()
    }

    /// Group commits since the log was opened: how many, how big, how long.
    pub fn commit_stats(&self) -> CommitStats {
        self.shared.commits.snapshot()
    }

    pub fn shard_count(&self) -> usize {
        self.shared.shards.len()
    }

    /// Sequence number of the newest record of `shard`.
    pub fn head(&self, shard: usize) -> Option<u64> {
        match self.shared.heads[shard].load(Ordering::Acquire) {
            EMPTY => None,
            seq => Some(seq),
        }
    }

    /// Up to `max` records of `shard` after sequence number `after` (from the start when None).
    ///
    /// Only up to the head, which moves after the fsync: a record the writer has
    /// committed but not yet synced is not handed out. Otherwise a consumer could index
    /// an event that a crash then takes out of the log, and whose sender was never told
    /// it was accepted, so may never send it again.
    pub fn read(&self, shard: usize, after: Option<u64>, max: usize) -> Result<Vec<LoggedRecord>, LogError> {
        let start = match after {
            Some(seq) => match seq.checked_add(1) {
                Some(next) => next,
                None => return Ok(Vec::new()),
            },
            None => 0,
        };
        let Some(head) = self.head(shard).filter(|head| *head >= start) else {
            return Ok(Vec::new());
        };
        let mut records = Vec::new();
        for guard in self.shared.shards[shard].range(start.to_be_bytes()..=head.to_be_bytes()).take(max) {
            let (key, value) = guard.into_inner()?;
            let seq = codec::decode_seq(shard, &key)?;
            records.push(codec::decode_record(shard, seq, &value)?);
        }
        Ok(records)
    }

    /// Where `consumer` stands in `shard`: the last sequence number it has finished.
    pub fn checkpoint(&self, consumer: &str, shard: usize) -> Result<Option<u64>, LogError> {
        match self.shared.checkpoints.get(codec::checkpoint_key(consumer, shard))? {
            Some(value) => Ok(Some(codec::decode_seq(shard, &value)?)),
            None => Ok(None),
        }
    }

    /// Records that `consumer` has finished `shard` up to `seq`, durably.
    pub fn commit_checkpoint(&self, consumer: &str, shard: usize, seq: u64) -> Result<(), LogError> {
        self.shared.checkpoints.insert(codec::checkpoint_key(consumer, shard), seq.to_be_bytes())?;
        self.shared.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Records of `shard` that `consumer` has not finished yet.
    pub fn lag(&self, consumer: &str, shard: usize) -> Result<u64, LogError> {
        Ok(match (self.head(shard), self.checkpoint(consumer, shard)?) {
            (None, _) => 0,
            (Some(head), None) => head + 1,
            (Some(head), Some(done)) => head.saturating_sub(done),
        })
    }

    /// Forgets where `consumer` stands in `shard`: it will replay the shard from the
    /// start. The consumers' idempotent writes make a replay change nothing.
    pub fn reset_checkpoint(&self, consumer: &str, shard: usize) -> Result<(), LogError> {
        self.shared.checkpoints.remove(codec::checkpoint_key(consumer, shard))?;
        self.shared.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Waits until something is appended or `timeout` passes.
    pub async fn wait_for_append(&self, timeout: Duration) {
        let notified = self.shared.appended.notified();
        if tokio::time::timeout(timeout, notified).await.is_err() {
            // Timed out: the caller polls anyway.
        }
    }

    async fn put(&self, records: Vec<StreamRecordIn>) -> Result<Vec<(usize, u64)>, LogError> {
        // Encoded on the caller's thread: the one writer thread only numbers and writes.
        // Arrival is stamped here, when the stream is handed the record.
        let arrived = Utc::now().timestamp_millis();
        let shard_count = self.shared.shards.len();
        let encoded = records
            .iter()
            .map(|record| writer::Encoded {
                shard: shard_for(&record.partition_key, shard_count),
                value: codec::encode_record(arrived, &record.partition_key, &record.data),
            })
            .collect();
        let (reply, answer) = oneshot::channel();
        self.requests.send(writer::PutRequest { records: encoded, reply }).map_err(|_| LogError::WriterStopped)?;
        let writer::PutReply { records, result } = answer.await.map_err(|_| LogError::WriterStopped)?;
        drop(records); // here, on the thread that allocated them (see `PutReply`)
        result
    }
}

#[async_trait::async_trait]
impl EventStream for EventLog {
    async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError> {
        let positions = self.put(records).await.map_err(|error| StreamError::Unavailable(error.to_string()))?;
        Ok(positions
            .into_iter()
            .map(|(shard, seq)| PutOutcome::Stored {
                shard_id: shard_id(shard),
                sequence_number: sequence_number(shard, seq),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
