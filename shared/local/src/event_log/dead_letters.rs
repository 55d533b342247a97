//! Dead letters: records a consumer can never process, parked with their reason and
//! time, listed, shown, taken back out for a redrive, and expired after retention.

use chrono::{DateTime, Utc};
use fjall::PersistMode;

use super::{codec, DeadLetter, EventLog, LogError};

impl EventLog {
    /// Parks a record that `consumer` could not process, with the reason, durably.
    pub fn park(&self, consumer: &str, shard: usize, seq: u64, data: &[u8], reason: &str) -> Result<(), LogError> {
        let key = codec::dead_letter_key(consumer, shard, seq);
        let value = codec::encode_dead_letter(Utc::now().timestamp_millis(), reason, data);
        self.shared.dead_letters.insert(key, value)?;
        self.shared.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Every dead letter of `consumer`, by shard and sequence number.
    pub fn dead_letters(&self, consumer: &str) -> Result<Vec<DeadLetter>, LogError> {
        let mut parked = Vec::new();
        for guard in self.shared.dead_letters.prefix(codec::dead_letter_prefix(consumer)) {
            let (key, value) = guard.into_inner()?;
            parked.push(codec::decode_dead_letter(consumer, &key, &value)?);
        }
        Ok(parked)
    }

    /// One dead letter.
    pub fn dead_letter(&self, consumer: &str, shard: usize, seq: u64) -> Result<Option<DeadLetter>, LogError> {
        let key = codec::dead_letter_key(consumer, shard, seq);
        match self.shared.dead_letters.get(&key)? {
            Some(value) => Ok(Some(codec::decode_dead_letter(consumer, &key, &value)?)),
            None => Ok(None),
        }
    }

    /// Takes a dead letter out (it was redriven), durably.
    pub fn unpark(&self, consumer: &str, shard: usize, seq: u64) -> Result<(), LogError> {
        self.shared.dead_letters.remove(codec::dead_letter_key(consumer, shard, seq))?;
        self.shared.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Removes `consumer`'s dead letters parked before `before`; returns how many. A
    /// letter without a parking time (from before times were kept) counts as old.
    pub fn expire_dead_letters(&self, consumer: &str, before: DateTime<Utc>) -> Result<u64, LogError> {
        let mut removed = 0;
        for letter in self.dead_letters(consumer)? {
            if letter.parked_at.is_none_or(|at| at < before) {
                self.shared.dead_letters.remove(codec::dead_letter_key(consumer, letter.shard, letter.seq))?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.shared.db.persist(PersistMode::SyncAll)?;
        }
        Ok(removed)
    }
}
