//! udp-ingest: one JSON event per datagram, the same contract as the HTTP batch.
//!
//! The write key travels inside the datagram as a `wk` field. Datagrams that arrive
//! together are validated one by one and put on the stream in one call, so a burst
//! costs one group commit instead of one per datagram. UDP has no answer channel:
//! rejections are counted and logged with their reason.

use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tidemark_core::ingest::{EventResult, Ingestor, MAX_BATCH_EVENTS};
use tidemark_core::validate::ValidationError;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Largest datagram read; bigger ones are truncated by the kernel and fail to parse.
const MAX_DATAGRAM: usize = 64 * 1024;

/// A datagram's sender and its parsed event (or why it could not be parsed).
type Datagram = (SocketAddr, Result<Value, ValidationError>);

#[derive(Debug, Default)]
pub struct UdpCounters {
    pub datagrams: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub unauthorized: AtomicU64,
    pub failed: AtomicU64,
}

pub async fn serve(
    socket: UdpSocket,
    ingestor: Arc<Ingestor>,
    counters: Arc<UdpCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let first = tokio::select! {
            received = socket.recv_from(&mut buffer) => received,
            _ = shutdown.changed() => break,
        };
        let mut burst: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
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
        handle_burst(&ingestor, &counters, burst).await;
    }
    tracing::info!("udp ingest stopped");
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
