//! The log's single writer: group commit.
//!
//! Every put request waiting when the writer wakes goes into one atomic fjall batch
//! followed by one fsync; then each request is answered with its positions. Under
//! load one fsync covers many requests, which is what makes durable acks cheap.

use super::{codec, LogError, Shared, EMPTY};
use chrono::Utc;
use fjall::PersistMode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tidemark_core::ports::stream::StreamRecordIn;
use tidemark_core::shard::shard_for;
use tokio::sync::{mpsc, oneshot};

pub struct PutRequest {
    pub records: Vec<StreamRecordIn>,
    pub reply: oneshot::Sender<Result<Vec<(usize, u64)>, LogError>>,
}

/// Most records gathered into one group commit.
const MAX_GROUP_RECORDS: usize = 50_000;

pub type Spawned = (mpsc::UnboundedSender<PutRequest>, oneshot::Receiver<()>);

pub fn spawn(shared: Arc<Shared>) -> Result<Spawned, LogError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (done, done_signal) = oneshot::channel();
    std::thread::Builder::new()
        .name("tidemark-log-writer".to_owned())
        .spawn(move || {
            run(shared, receiver);
            // Nobody may be waiting; that is fine.
            if done.send(()).is_err() {
                tracing::trace!("no one waited for the log writer to stop");
            }
        })
        .map_err(|_| LogError::WriterStopped)?;
    Ok((sender, done_signal))
}

fn run(shared: Arc<Shared>, mut receiver: mpsc::UnboundedReceiver<PutRequest>) {
    let mut next_seq: Vec<u64> = shared
        .heads
        .iter()
        .map(|head| match head.load(Ordering::Acquire) {
            EMPTY => 0,
            seq => seq + 1,
        })
        .collect();
    while let Some(first) = receiver.blocking_recv() {
        let mut group = vec![first];
        let mut gathered = group[0].records.len();
        while gathered < MAX_GROUP_RECORDS {
            match receiver.try_recv() {
                Ok(request) => {
                    gathered += request.records.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        match commit_group(&shared, &group, &next_seq) {
            Ok((positions, committed_next)) => {
                next_seq = committed_next;
                for (shard, next) in next_seq.iter().enumerate() {
                    if *next > 0 {
                        shared.heads[shard].store(next - 1, Ordering::Release);
                    }
                }
                shared.appended.notify_waiters();
                for (request, placed) in group.into_iter().zip(positions) {
                    if request.reply.send(Ok(placed)).is_err() {
                        tracing::debug!("put caller went away before its answer");
                    }
                }
            }
            Err(error) => {
                // Nothing of the group was acknowledged; its sequence numbers are reused.
                let reason = error.to_string();
                tracing::error!(error = %reason, requests = group.len(), "event log group commit failed");
                for request in group {
                    if request.reply.send(Err(LogError::CommitFailed(reason.clone()))).is_err() {
                        tracing::debug!("put caller went away before its answer");
                    }
                }
            }
        }
    }
    if let Err(error) = shared.db.persist(PersistMode::SyncAll) {
        tracing::error!(%error, "event log final persist failed");
    }
}

/// Positions of each request's records, and the next sequence numbers once committed.
type Committed = (Vec<Vec<(usize, u64)>>, Vec<u64>);

/// Writes the group on a copy of `next_seq`, so that a failed commit leaves it as it was.
fn commit_group(shared: &Shared, group: &[PutRequest], next_seq: &[u64]) -> Result<Committed, LogError> {
    let mut next_seq = next_seq.to_vec();
    let arrived = Utc::now().timestamp_millis();
    let shard_count = shared.shards.len();
    let mut batch = shared.db.batch();
    let mut positions = Vec::with_capacity(group.len());
    for request in group {
        let mut placed = Vec::with_capacity(request.records.len());
        for record in &request.records {
            let shard = shard_for(&record.partition_key, shard_count);
            let seq = next_seq[shard];
            next_seq[shard] += 1;
            batch.insert(
                &shared.shards[shard],
                seq.to_be_bytes(),
                codec::encode_record(arrived, &record.partition_key, &record.data),
            );
            placed.push((shard, seq));
        }
        positions.push(placed);
    }
    batch.commit()?;
    shared.db.persist(PersistMode::SyncAll)?;
    Ok((positions, next_seq))
}
