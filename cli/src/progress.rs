//! Progress of batch jobs: an indicatif bar with rows and rows/s on a terminal, and a
//! log line with count, rate and elapsed time at the end either way.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tidemark_core::batch::Progress;

pub struct BarProgress {
    state: Mutex<Option<(ProgressBar, String, Instant)>>,
}

impl BarProgress {
    pub fn new() -> Self {
        BarProgress { state: Mutex::new(None) }
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn start(&self, label: &str, total_rows: Option<u64>) {
        let bar = ProgressBar::with_draw_target(total_rows, ProgressDrawTarget::stderr());
        let template = if total_rows.is_some() {
            "{prefix:>18} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta}"
        } else {
            "{prefix:>18} {spinner} {human_pos} rows {per_sec} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = Some((bar, label.to_string(), Instant::now()));
    }

    fn advance(&self, rows: u64) {
        if let Some((bar, _, _)) = self.state.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(rows);
        }
    }

    fn finish(&self, message: &str) {
        if let Some((bar, label, started)) = self.state.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            let rows = bar.position();
            let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
            tracing::info!(job = %label, rows, rows_per_sec = rate.round(), elapsed_s = format!("{secs:.2}"), result = %message, "job step finished");
        }
    }
}
