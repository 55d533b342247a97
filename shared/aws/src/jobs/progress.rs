//! Progress of a job on Lambda, where no terminal draws a bar: a log line when a step
//! starts, one at most every ten seconds with rows so far and the rate, and one at the end.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tidemark_core::batch::Progress;

const EVERY: Duration = Duration::from_secs(10);

struct Step {
    label: String,
    total: Option<u64>,
    rows: u64,
    started: Instant,
    logged: Instant,
}

#[derive(Default)]
pub struct LogProgress {
    step: Mutex<Option<Step>>,
}

fn rate(rows: u64, since: Instant) -> f64 {
    let secs = since.elapsed().as_secs_f64();
    if secs > 0.0 {
        (rows as f64 / secs).round()
    } else {
        0.0
    }
}

impl Progress for LogProgress {
    fn start(&self, label: &str, total_rows: Option<u64>) {
        tracing::info!(step = label, total_rows, "job step started");
        let now = Instant::now();
        let step = Step { label: label.to_string(), total: total_rows, rows: 0, started: now, logged: now };
        *self.step.lock().unwrap_or_else(|p| p.into_inner()) = Some(step);
    }

    fn advance(&self, rows: u64) {
        if let Some(step) = self.step.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            step.rows += rows;
            if step.logged.elapsed() >= EVERY {
                step.logged = Instant::now();
                tracing::info!(step = %step.label, rows = step.rows, total_rows = step.total,
                    rows_per_sec = rate(step.rows, step.started), "job step progress");
            }
        }
    }

    fn finish(&self, message: &str) {
        if let Some(step) = self.step.lock().unwrap_or_else(|p| p.into_inner()).take() {
            tracing::info!(step = %step.label, rows = step.rows, rows_per_sec = rate(step.rows, step.started),
                elapsed_s = format!("{:.2}", step.started.elapsed().as_secs_f64()), result = message, "job step finished");
        }
    }
}
