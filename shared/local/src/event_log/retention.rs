//! Trimming the log: a record goes once every consumer has checkpointed past it *and*
//! it arrived longer ago than the retention period (so a consumer reset within the
//! period can still replay it). Nothing a consumer has not finished is ever trimmed,
//! nor the newest record of a shard, which carries the shard's sequence on at reopen.

use chrono::{DateTime, Utc};
use fjall::PersistMode;

use super::{codec, EventLog, LogError};

/// Records removed per storage batch: trimming never holds one huge batch in memory.
const TRIM_CHUNK: usize = 10_000;

impl EventLog {
    /// Removes, per shard, the records up to the lowest checkpoint of `consumers` that
    /// arrived before `before`; returns how many went. A shard some consumer has not
    /// started is left whole.
    pub fn trim(&self, consumers: &[&str], before: DateTime<Utc>) -> Result<u64, LogError> {
        let mut removed = 0;
        for shard in 0..self.shard_count() {
            let mut floor = Some(u64::MAX);
            for consumer in consumers {
                floor = floor.zip(self.checkpoint(consumer, shard)?).map(|(a, b)| a.min(b));
            }
            let Some(floor) = floor.filter(|f| *f != u64::MAX) else { continue };
            let Some(head) = self.head(shard) else { continue };
            let floor = floor.min(head.saturating_sub(1));
            loop {
                let old: Vec<u64> = self
                    .read_from_start(shard, TRIM_CHUNK)?
                    .into_iter()
                    .take_while(|record| record.seq <= floor && record.seq < head && record.arrived_at < before)
                    .map(|record| record.seq)
                    .collect();
                if old.is_empty() {
                    break;
                }
                let mut batch = self.shared.db.batch();
                for seq in &old {
                    batch.remove(&self.shared.shards[shard], seq.to_be_bytes());
                }
                batch.commit()?;
                removed += old.len() as u64;
                if old.len() < TRIM_CHUNK {
                    break;
                }
            }
        }
        if removed > 0 {
            self.shared.db.persist(PersistMode::SyncAll)?;
        }
        Ok(removed)
    }

    /// The oldest `max` records still in `shard`.
    fn read_from_start(&self, shard: usize, max: usize) -> Result<Vec<super::LoggedRecord>, LogError> {
        let mut records = Vec::new();
        for guard in self.shared.shards[shard].iter().take(max) {
            let (key, value) = guard.into_inner()?;
            let seq = codec::decode_seq(shard, &key)?;
            records.push(codec::decode_record(shard, seq, &value)?);
        }
        Ok(records)
    }
}
