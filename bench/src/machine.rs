//! How busy the whole machine was during a round: the load generator shares the two
//! cores with the server, so the process's own CPU time would not show a pixel round
//! that leaves the cores idle while requests wait for the disk.
//!
//! Read by hand from the first line of `/proc/stat`: one line of numbers, and the
//! bench must still build and run (without this figure) where there is no `/proc`.

/// Cumulative CPU ticks of all cores since boot.
#[derive(Clone, Copy)]
pub struct CpuTicks {
    idle: u64,
    total: u64,
}

impl CpuTicks {
    /// None where `/proc/stat` is missing or unreadable.
    pub fn now() -> Option<CpuTicks> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }
}

/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`; guest time
/// is already inside user, so only the first eight count. Waiting for I/O is idle.
fn parse(stat: &str) -> Option<CpuTicks> {
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if fields.len() < 5 {
        return None;
    }
    Some(CpuTicks { idle: fields[3] + fields[4], total: fields.iter().sum() })
}

/// Idle and total ticks summed over several rounds.
#[derive(Default)]
pub struct IdleShare {
    idle: u64,
    total: u64,
}

impl IdleShare {
    /// Adds the window between two readings; a missing reading adds nothing.
    pub fn add(&mut self, before: Option<CpuTicks>, after: Option<CpuTicks>) {
        if let (Some(before), Some(after)) = (before, after) {
            self.idle += after.idle.saturating_sub(before.idle);
            self.total += after.total.saturating_sub(before.total);
        }
    }

    /// ", machine 14 % idle", or nothing when it could not be read (no ticks added).
    pub fn describe(&self) -> String {
        if self.total > 0 {
            format!(", machine {:.0} % idle", self.idle as f64 * 100.0 / self.total as f64)
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_counts_io_wait_and_leaves_out_guest_time() {
        let stat = "cpu  100 0 50 800 50 0 0 0 70 0\ncpu0 1 2 3\n";
        let ticks = parse(stat).unwrap();
        assert_eq!((ticks.idle, ticks.total), (850, 1000));
        let mut share = IdleShare::default();
        share.add(Some(CpuTicks { idle: 0, total: 0 }), Some(ticks));
        assert_eq!(share.describe(), ", machine 85 % idle");
        assert!(parse("intr 1 2 3").is_none());
        assert_eq!(IdleShare::default().describe(), "");
    }
}
