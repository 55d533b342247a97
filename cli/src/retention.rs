//! Retention of the local stores, configured in one place ([`Retention`]) and applied
//! by `tidemark up` every hour:
//! - the log: records below both consumers' checkpoints that arrived longer ago than
//!   `log` (nothing a consumer has not finished is ever trimmed);
//! - the key-value store and the search index: events that happened longer ago than
//!   `events` (realtime-compact and reconcile read at most the last week);
//! - dead letters parked longer ago than `dead_letters`;
//! - raw extract runs in the interim store written longer ago than `raw` (the state
//!   that loads read is compacted by batch-load before then: `raw_retention`).
//!
//! The warehouse keeps what the pipeline file's tables hold: that is the batch side's
//! record, and its growth is the user's to decide.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tidemark_core::batch::raw_retention::{self, RawRetention};
use tidemark_core::kv_key::KvLayout;
use tidemark_local::{DirObjectStore, EventLog, FjallKvStore, TantivyIndex};

use crate::consumers::{STREAM_INDEX, STREAM_STORE};

/// How long each store keeps what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Log records, once both consumers have them.
    pub log: Duration,
    /// Events in the key-value store and the index, by event time.
    pub events: Duration,
    /// Dead letters, by parking time.
    pub dead_letters: Duration,
    /// Raw extract runs, by the time they were written.
    pub raw: RawRetention,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            log: Duration::days(7),
            events: Duration::days(35),
            dead_letters: Duration::days(30),
            raw: RawRetention::default(),
        }
    }
}

/// What one pass removed, for `/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    #[serde(with = "tidemark_core::event::millis_rfc3339")]
    pub at: DateTime<Utc>,
    pub log_records: u64,
    pub kv_items: u64,
    pub index_documents: u64,
    pub dead_letters: u64,
    pub raw_runs: u64,
}

/// The stores a pass trims.
#[derive(Clone)]
pub struct Stores {
    pub log: EventLog,
    pub kv: FjallKvStore,
    pub index: TantivyIndex,
    pub layout: KvLayout,
    /// The batch side's interim store.
    pub interim: DirObjectStore,
}

/// One pass at `now` (the injected clock of the tests).
pub async fn apply(stores: &Stores, retention: Retention, now: DateTime<Utc>) -> anyhow::Result<Removed> {
    let mut removed = Removed { at: now, ..Removed::default() };
    let (log, kv, layout) = (stores.log.clone(), stores.kv.clone(), stores.layout.clone());
    let (log_records, kv_items, dead_letters) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let log_records = log.trim(&[STREAM_INDEX, STREAM_STORE], now - retention.log)?;
        let kv_items = kv.expire(&layout, now - retention.events)?;
        let mut dead_letters = 0;
        for consumer in [STREAM_INDEX, STREAM_STORE] {
            dead_letters += log.expire_dead_letters(consumer, now - retention.dead_letters)?;
        }
        Ok((log_records, kv_items, dead_letters))
    })
    .await??;
    removed.log_records = log_records;
    removed.kv_items = kv_items;
    removed.dead_letters = dead_letters;
    removed.index_documents = stores.index.expire(now - retention.events).await?;
    removed.raw_runs = raw_retention::expire(&stores.interim, now - retention.raw.keep).await?;
    Ok(removed)
}

/// The last pass, shared with `/v1/stats`.
pub type LastPass = Arc<Mutex<Option<Removed>>>;

/// Applies the retention every hour (the first pass a minute after start) until shutdown.
pub async fn run(
    stores: Stores,
    retention: Retention,
    last: LastPass,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wait = std::time::Duration::from_secs(60);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
        wait = std::time::Duration::from_secs(3_600);
        match apply(&stores, retention, Utc::now()).await {
            Ok(removed) => {
                tracing::info!(
                    log_records = removed.log_records,
                    kv_items = removed.kv_items,
                    index_documents = removed.index_documents,
                    dead_letters = removed.dead_letters,
                    "retention applied"
                );
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(removed);
            }
            Err(error) => tracing::error!(%error, "retention pass failed; next in an hour"),
        }
    }
}
