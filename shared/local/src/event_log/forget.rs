//! Forgetting a person in the log: their records are emptied where they stand, and
//! their dead letters removed.
//!
//! A record is emptied, not removed: its sequence number stays taken, so no
//! checkpoint ever points past a hole and the shard's head carries on at reopen.
//! Consumers pass over an empty record (see `consume::FORGOTTEN`); retention trims it
//! in its time.

use fjall::PersistMode;

use super::{codec, EventLog, LogError};

/// Records rewritten per storage batch.
const CHUNK: usize = 10_000;

/// What forgetting took out of the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogForgotten {
    pub records: u64,
    pub dead_letters: u64,
}

impl EventLog {
    /// Empties every record whose data `owns` (keeping its arrival time, dropping its
    /// partition key, which may be the person's id) and removes every dead letter whose
    /// data it owns, durably.
    pub fn forget(&self, owns: impl Fn(&[u8]) -> bool) -> Result<LogForgotten, LogError> {
        let mut forgotten = LogForgotten::default();
        for shard in 0..self.shard_count() {
            let mut doomed = Vec::new();
            for guard in self.shared.shards[shard].iter() {
                let (key, value) = guard.into_inner()?;
                let seq = codec::decode_seq(shard, &key)?;
                let record = codec::decode_record(shard, seq, &value)?;
                if !record.data.is_empty() && owns(&record.data) {
                    doomed.push((seq, record.arrived_at.timestamp_millis()));
                }
                if doomed.len() == CHUNK {
                    forgotten.records += self.empty_records(shard, &mut doomed)?;
                }
            }
            forgotten.records += self.empty_records(shard, &mut doomed)?;
        }
        let mut letters = Vec::new();
        for guard in self.shared.dead_letters.iter() {
            let (key, value) = guard.into_inner()?;
            // The consumer's name ends at the first NUL of the key.
            let consumer = key.split(|b| *b == 0).next().map(String::from_utf8_lossy).unwrap_or_default();
            if owns(&codec::decode_dead_letter(&consumer, &key, &value)?.data) {
                letters.push(key.to_vec());
            }
        }
        for key in &letters {
            self.shared.dead_letters.remove(key.as_slice())?;
        }
        forgotten.dead_letters = letters.len() as u64;
        self.shared.db.persist(PersistMode::SyncAll)?;
        Ok(forgotten)
    }

    fn empty_records(&self, shard: usize, doomed: &mut Vec<(u64, i64)>) -> Result<u64, LogError> {
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut batch = self.shared.db.batch();
        for (seq, arrived) in doomed.iter() {
            batch.insert(&self.shared.shards[shard], seq.to_be_bytes(), codec::encode_record(*arrived, "", &[]));
        }
        batch.commit()?;
        let count = doomed.len() as u64;
        doomed.clear();
        Ok(count)
    }
}
