//! udp-ingest: one JSON event per datagram, the same contract as the HTTP batch.
//!
//! The write key travels inside the datagram as a `wk` field. Datagrams that arrive
//! together are validated one by one and put on the stream in one call, so a burst
//! costs one group commit instead of one per datagram. UDP has no answer channel:
//! rejections are counted and logged with their reason.
//!
//! Receiving never waits for a commit: one task reads the socket continuously (with a
//! large kernel buffer) and hands bursts to the task that validates and commits them.
//! While commits lag, bursts queue in memory up to [`MAX_QUEUED_BYTES`]; past that a
//! datagram is shed and counted. What the kernel itself dropped (its buffer full) is
//! read from the socket's drop counter in `/proc/net/udp`. So no loss is silent:
//! `/v1/stats` shows `udp.shed` and `udp.kernel_drops`.

use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tidemark_core::ingest::{EventResult, Ingestor, MAX_BATCH_EVENTS};
use tidemark_core::validate::ValidationError;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// Largest datagram read; bigger ones are truncated by the kernel and fail to parse.
const MAX_DATAGRAM: usize = 64 * 1024;
/// The kernel receive buffer asked for. Linux caps it at `net.core.rmem_max` (twice
/// that, in fact); `/v1/stats` shows what was granted.
pub const RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// Datagram bytes waiting for the committer at most; beyond, datagrams are shed.
pub const MAX_QUEUED_BYTES: u64 = 64 * 1024 * 1024;

/// A datagram's sender and its parsed event (or why it could not be parsed).
type Datagram = (SocketAddr, Result<Value, ValidationError>);
type Burst = Vec<(SocketAddr, Vec<u8>)>;

#[derive(Debug, Default)]
pub struct UdpCounters {
    pub datagrams: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub unauthorized: AtomicU64,
    pub failed: AtomicU64,
    /// Received but dropped here because the queue to the committer was full.
    pub shed: AtomicU64,
    /// Bytes of datagrams waiting for the committer.
    pub queued_bytes: AtomicU64,
    /// The kernel receive buffer granted, in bytes.
    pub receive_buffer: AtomicU64,
    /// The bound port, to find the socket's drop counter.
    pub port: AtomicU64,
}

impl UdpCounters {
    /// Datagrams dealt with one way or another: stored, refused, failed or shed.
    pub fn handled(&self) -> u64 {
        [&self.accepted, &self.rejected, &self.unauthorized, &self.failed, &self.shed]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Datagrams the kernel dropped on this socket since it was opened (its buffer was
    /// full): the `drops` column of `/proc/net/udp` and `/proc/net/udp6`.
    pub fn kernel_drops(&self) -> Option<u64> {
        let port = self.port.load(Ordering::Relaxed);
        let mut found = None;
        for table in ["/proc/net/udp", "/proc/net/udp6"] {
            let Ok(text) = std::fs::read_to_string(table) else { continue };
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local_port =
                    fields.get(1).and_then(|a| a.rsplit(':').next()).and_then(|p| u64::from_str_radix(p, 16).ok());
                if local_port == Some(port) {
                    let drops: u64 = fields.last().and_then(|d| d.parse().ok()).unwrap_or(0);
                    found = Some(found.unwrap_or(0) + drops);
                }
            }
        }
        found
    }
}

/// A UDP socket with a large receive buffer, ready for tokio.
pub fn bind(addr: SocketAddr, counters: &UdpCounters) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(error) = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES) {
        tracing::warn!(%error, "udp receive buffer not enlarged");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size()?;
    counters.receive_buffer.store(granted as u64, Ordering::Relaxed);
    if granted < RECEIVE_BUFFER_BYTES {
        tracing::info!(granted, asked = RECEIVE_BUFFER_BYTES, "udp receive buffer capped by net.core.rmem_max");
    }
    let socket = UdpSocket::from_std(socket.into())?;
    counters.port.store(u64::from(socket.local_addr()?.port()), Ordering::Relaxed);
    Ok(socket)
}

pub async fn serve(
    socket: UdpSocket,
    ingestor: Arc<Ingestor>,
    counters: Arc<UdpCounters>,
    shutdown: watch::Receiver<bool>,
) {
    let (bursts, mut pending) = mpsc::unbounded_channel::<Burst>();
    let receiver = tokio::spawn(receive(socket, bursts, Arc::clone(&counters), shutdown));
    while let Some(burst) = pending.recv().await {
        let bytes: usize = burst.iter().map(|(_, datagram)| datagram.len()).sum();
        handle_burst(&ingestor, &counters, burst).await;
        counters.queued_bytes.fetch_sub(bytes as u64, Ordering::Relaxed);
    }
    if receiver.await.is_err() {
        tracing::error!("udp receiver task failed");
    }
    tracing::info!("udp ingest stopped");
}

/// Reads the socket until shutdown, a burst at a time, never waiting for a commit.
async fn receive(
    socket: UdpSocket,
    bursts: mpsc::UnboundedSender<Burst>,
    counters: Arc<UdpCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let first = tokio::select! {
            received = socket.recv_from(&mut buffer) => received,
            _ = shutdown.changed() => break,
        };
        let mut burst: Burst = Vec::new();
        match first {
            Ok((length, peer)) => burst.push((peer, buffer[..length].to_vec())),
            Err(error) => {
                tracing::warn!(%error, "udp receive failed");
                continue;
            }
        }
        while burst.len() < MAX_BATCH_EVENTS {
            match socket.try_recv_from(&mut buffer) {
                Ok((length, peer)) => burst.push((peer, buffer[..length].to_vec())),
                Err(_) => break,
            }
        }
        counters.datagrams.fetch_add(burst.len() as u64, Ordering::Relaxed);
        let bytes: u64 = burst.iter().map(|(_, datagram)| datagram.len() as u64).sum();
        if counters.queued_bytes.load(Ordering::Relaxed) + bytes > MAX_QUEUED_BYTES {
            counters.shed.fetch_add(burst.len() as u64, Ordering::Relaxed);
            tracing::error!(datagrams = burst.len(), "udp datagrams shed: the commit queue is full");
            continue;
        }
        counters.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        if bursts.send(burst).is_err() {
            break;
        }
    }
}

/// Groups a burst by source (write key) and ingests each group in one stream put.
async fn handle_burst(ingestor: &Ingestor, counters: &UdpCounters, burst: Vec<(SocketAddr, Vec<u8>)>) {
    let mut by_source: HashMap<String, Vec<Datagram>> = HashMap::new();
    for (peer, bytes) in burst {
        let mut object = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                reject(counters, peer, "$", "object", "a datagram must hold one JSON object");
                continue;
            }
            Err(error) => {
                reject(counters, peer, "$", "json", &error.to_string());
                continue;
            }
        };
        let key = match object.remove("wk") {
            Some(Value::String(key)) => Some(key),
            _ => None,
        };
        let Ok(source) = ingestor.authenticate(key.as_deref()) else {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "udp datagram refused: missing or unknown write key (field wk)");
            continue;
        };
        by_source.entry(source).or_default().push((peer, Ok(Value::Object(object))));
    }
    for (source, events) in by_source {
        let peers: Vec<SocketAddr> = events.iter().map(|(peer, _)| *peer).collect();
        let events = events.into_iter().map(|(_, event)| event).collect();
        match ingestor.ingest(&source, events).await {
            Ok(report) => {
                for (peer, result) in peers.into_iter().zip(report.results) {
                    match result {
                        EventResult::Accepted { .. } => {
                            counters.accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        EventResult::Rejected { field, rule, message } => {
                            reject(counters, peer, &field, rule, &message)
                        }
                        EventResult::Failed { reason, .. } => {
                            counters.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(%peer, %reason, "udp event not stored");
                        }
                    }
                }
            }
            Err(error) => {
                counters.failed.fetch_add(peers.len() as u64, Ordering::Relaxed);
                tracing::error!(%error, datagrams = peers.len(), "udp burst not stored");
            }
        }
    }
}

fn reject(counters: &UdpCounters, peer: SocketAddr, field: &str, rule: &str, message: &str) {
    counters.rejected.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, field, rule, reason = message, "udp datagram rejected");
}
