//! A running job's progress as the console shows it: the step it is on, rows so far and
//! the total when known. The job reports through [`Progress`] as it always does; this
//! keeps the latest state beside whatever else draws it (a bar, log lines).

use serde::Serialize;
use std::sync::{Arc, Mutex};

use crate::batch::Progress;

/// Where a run is, at the moment it is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressSnapshot {
    /// The current step's label (`loading orders`), empty before the first.
    pub step: String,
    pub rows: u64,
    pub total: Option<u64>,
    /// Steps finished so far, with their closing message.
    pub steps_done: usize,
    pub last_message: String,
}

pub struct LiveProgress {
    state: Mutex<ProgressSnapshot>,
    inner: Arc<dyn Progress>,
}

impl LiveProgress {
    /// Keeps the state and passes every report on to `inner`.
    pub fn new(inner: Arc<dyn Progress>) -> Self {
        Self { state: Mutex::new(ProgressSnapshot::default()), inner }
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, change: impl FnOnce(&mut ProgressSnapshot)) {
        change(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Progress for LiveProgress {
    fn start(&self, label: &str, total_rows: Option<u64>) {
        self.update(|s| {
            s.step = label.to_owned();
            s.rows = 0;
            s.total = total_rows;
        });
        self.inner.start(label, total_rows);
    }

    fn advance(&self, rows: u64) {
        self.update(|s| s.rows += rows);
        self.inner.advance(rows);
    }

    fn finish(&self, message: &str) {
        self.update(|s| {
            s.steps_done += 1;
            s.last_message = message.to_owned();
        });
        self.inner.finish(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::progress::Silent;

    #[test]
    fn the_snapshot_follows_the_reports() {
        let live = LiveProgress::new(Arc::new(Silent));
        assert_eq!(live.snapshot(), ProgressSnapshot::default());
        live.start("loading orders", Some(10));
        live.advance(4);
        live.advance(3);
        let now = live.snapshot();
        assert_eq!((now.step.as_str(), now.rows, now.total, now.steps_done), ("loading orders", 7, Some(10), 0));
        live.finish("orders: 7 rows");
        live.start("loading customers", None);
        let now = live.snapshot();
        assert_eq!((now.rows, now.steps_done, now.last_message.as_str()), (0, 1, "orders: 7 rows"));
    }
}
