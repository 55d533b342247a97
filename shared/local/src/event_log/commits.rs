//! Counters of the log's group commits, for `/v1/stats` and the benchmark.
//!
//! A durable log lives or dies by its syncs: how many a second, how many records each
//! one covers, how long each takes. A disk whose flush slows down shows here first, as
//! a longer mean commit, before it shows as slower answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Written by the log's one writer thread, read by anyone.
#[derive(Debug, Default)]
pub struct CommitCounters {
    groups: AtomicU64,
    requests: AtomicU64,
    records: AtomicU64,
    busy_micros: AtomicU64,
}

impl CommitCounters {
    /// One group committed and synced: `requests` puts holding `records` records,
    /// `took` from the start of the batch to the end of the sync.
    pub fn add(&self, requests: usize, records: usize, took: Duration) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.busy_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CommitStats {
        CommitStats {
            groups: self.groups.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            busy_micros: self.busy_micros.load(Ordering::Relaxed),
        }
    }
}

/// Totals since the log was opened. Subtract two snapshots for a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Group commits, each one atomic batch and one fsync.
    pub groups: u64,
    /// Put calls answered by them.
    pub requests: u64,
    /// Records written by them.
    pub records: u64,
    /// Wall time spent committing and syncing, in microseconds.
    pub busy_micros: u64,
}

impl CommitStats {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &CommitStats) -> CommitStats {
        CommitStats {
            groups: self.groups.saturating_sub(earlier.groups),
            requests: self.requests.saturating_sub(earlier.requests),
            records: self.records.saturating_sub(earlier.records),
            busy_micros: self.busy_micros.saturating_sub(earlier.busy_micros),
        }
    }

    /// Put calls per group commit.
    pub fn mean_requests(&self) -> f64 {
        ratio(self.requests, self.groups)
    }

    /// Microseconds per group commit, sync included.
    pub fn mean_commit_micros(&self) -> f64 {
        ratio(self.busy_micros, self.groups)
    }
}

fn ratio(total: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_difference_of_two_snapshots() {
        let counters = CommitCounters::default();
        counters.add(3, 300, Duration::from_micros(200));
        let earlier = counters.snapshot();
        counters.add(5, 5, Duration::from_micros(300));
        counters.add(1, 1, Duration::from_micros(100));
        let window = counters.snapshot().since(&earlier);
        assert_eq!(window, CommitStats { groups: 2, requests: 6, records: 6, busy_micros: 400 });
        assert_eq!(window.mean_requests(), 3.0);
        assert_eq!(window.mean_commit_micros(), 200.0);
        assert_eq!(CommitStats::default().mean_requests(), 0.0, "no groups: no mean, not NaN");
    }
}
