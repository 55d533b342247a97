//! Progress of long jobs. The domain reports counts; the binary draws them (indicatif
//! bars on a terminal, log lines with rates otherwise).

pub trait Progress: Send + Sync {
    fn start(&self, label: &str, total_rows: Option<u64>);
    fn advance(&self, rows: u64);
    fn finish(&self, message: &str);
}

/// For tests and callers that do not show progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _label: &str, _total_rows: Option<u64>) {}
    fn advance(&self, _rows: u64) {}
    fn finish(&self, _message: &str) {}
}
