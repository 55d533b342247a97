//! The log's single writer: group commit.
//!
//! Every put request waiting when the writer wakes goes into one atomic fjall batch
//! followed by one fsync; then each request is answered with its positions. Under
//! load one fsync covers many requests, which is what makes durable acks cheap.
//!
//! Callers hand over records already encoded and assigned to a shard, so this one
//! thread, which every put goes through, only numbers them and writes.

use super::{LogError, Shared, EMPTY};
use fjall::PersistMode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A record ready for the log: its shard and its stored value (`codec::encode_record`).
pub struct Encoded {
    pub shard: usize,
    pub value: Vec<u8>,
}

pub struct PutRequest {
    pub records: Vec<Encoded>,
    pub reply: oneshot::Sender<PutReply>,
}

/// The answer to a put. The request's records come back with it so that their buffers
/// are freed on the caller's thread, which allocated them: the allocator frees faster
/// on the owning thread, and the one writer that every put waits on does less.
pub struct PutReply {
    pub records: Vec<Encoded>,
    pub result: Result<Vec<(usize, u64)>, LogError>,
}

/// Most records gathered into one group commit.
const MAX_GROUP_RECORDS: usize = 50_000;

/// A group of at least this many requests means they are arriving in a crowd ...
const CROWD: usize = 8;
/// ... and then the writer waits this long for more before it commits the next group.
/// An fsync costs far more CPU than the requests it covers (on the 2-vCPU VMs of
/// BENCHMARKS.md about 200 µs, in the sync call and the block layer's completion work),
/// so under load fewer, larger groups leave more CPU for the requests themselves; a
/// lone request still commits at once. The wait is also latency that every waiting
/// request pays, and where few requests are in flight (64 connections) the machine sat
/// a fifth idle behind it at 300 µs: 100 µs measured best there and as good at 256 and
/// 1,024 connections. See "What limits the pixel" in BENCHMARKS.md.
const LINGER: std::time::Duration = std::time::Duration::from_micros(100);

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
    let mut last_group = 0;
    while let Some(first) = receiver.blocking_recv() {
        let mut group = vec![first];
        let mut gathered = group[0].records.len();
        if last_group >= CROWD {
            std::thread::sleep(LINGER);
        }
        while gathered < MAX_GROUP_RECORDS {
            match receiver.try_recv() {
                Ok(request) => {
                    gathered += request.records.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        last_group = group.len();
        let started = std::time::Instant::now();
        match commit_group(&shared, &group, &next_seq) {
            Ok((positions, committed_next)) => {
                shared.commits.add(group.len(), gathered, started.elapsed());
                next_seq = committed_next;
                for (shard, next) in next_seq.iter().enumerate() {
                    if *next > 0 {
                        shared.heads[shard].store(next - 1, Ordering::Release);
                    }
                }
                shared.appended.notify_waiters();
                for (request, placed) in group.into_iter().zip(positions) {
                    let reply = PutReply { records: request.records, result: Ok(placed) };
                    if request.reply.send(reply).is_err() {
                        tracing::debug!("put caller went away before its answer");
                    }
                }
            }
            Err(error) => {
                // Nothing of the group was acknowledged; its sequence numbers are reused.
                let reason = error.to_string();
                tracing::error!(error = %reason, requests = group.len(), "event log group commit failed");
                for request in group {
                    let reply =
                        PutReply { records: request.records, result: Err(LogError::CommitFailed(reason.clone())) };
                    if request.reply.send(reply).is_err() {
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
    let mut batch = shared.db.batch();
    let mut positions = Vec::with_capacity(group.len());
    for request in group {
        let mut placed = Vec::with_capacity(request.records.len());
        for record in &request.records {
            let shard = record.shard;
            let seq = next_seq[shard];
            next_seq[shard] += 1;
            batch.insert(&shared.shards[shard], seq.to_be_bytes(), record.value.as_slice());
            placed.push((shard, seq));
        }
        positions.push(placed);
    }
    batch.commit()?;
    shared.db.persist(PersistMode::SyncAll)?;
    Ok((positions, next_seq))
}
