//! `tidemark-bench udp`: the rate at which UDP ingest loses nothing. At each rate one
//! sender paces datagrams (one event each, half of them sent twice, as the issue's
//! test did) at the stack; then the bench waits until every datagram is handled or
//! counted as lost, and prints what the kernel dropped and what was shed. `received`
//! beyond `handled` is still queued for the committer when the wait ends; `lost` is
//! what the stack never received, shed or counted as dropped.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tidemark::{Stack, UpConfig};
use tidemark_core::ingest::WriteKeys;

const WRITE_KEY: &str = "bench-write-key";

fn datagram(n: usize) -> Vec<u8> {
    format!(
        r#"{{"wk":"{WRITE_KEY}","event_id":"udp-{n}","event_type":"page_view","anonymous_id":"a{}","region":"EU"}}"#,
        n % 97
    )
    .into_bytes()
}

pub fn run(rates: Vec<u64>, events: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        println!("udp: {events} events per rate, each sent twice (the second a duplicate)");
        println!(
            "{:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>10}",
            "rate/s", "reached/s", "sent", "received", "handled", "accepted", "shed", "dropped", "lost"
        );
        for rate in rates {
            let dir = tempfile::tempdir()?;
            let keys = WriteKeys::parse(&format!("{WRITE_KEY}=web")).map_err(anyhow::Error::msg)?;
            let stack = Stack::start(UpConfig::for_tests(dir.path().to_path_buf(), keys)).await?;
            let target = stack.udp_addr().ok_or_else(|| anyhow::anyhow!("udp is off"))?;
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
            let sent = events * 2;
            let started = Instant::now();
            for n in 0..sent {
                // Paced in 1 ms slices: the datagrams due by now go out back to back.
                let due = Duration::from_secs_f64(n as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    if wait > Duration::from_millis(1) {
                        tokio::time::sleep(wait).await;
                    }
                }
                socket.send_to(&datagram(n / 2), target).await?;
            }
            // What the one sender reached: above some rate it cannot keep the pace.
            let reached = sent as f64 / started.elapsed().as_secs_f64();
            let counters = stack.udp_counters();
            let handled = || counters.handled();
            let deadline = Instant::now() + Duration::from_secs(30);
            let dropped = || counters.kernel_drops().unwrap_or(0);
            while handled() + dropped() < sent as u64 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (shed, drops) = (counters.shed.load(Ordering::Relaxed), dropped());
            println!(
                "{rate:>10} {reached:>10.0} {sent:>10} {:>10} {:>10} {:>10} {shed:>8} {drops:>8} {:>10}",
                counters.datagrams.load(Ordering::Relaxed),
                handled(),
                counters.accepted.load(Ordering::Relaxed),
                (sent as u64).saturating_sub(counters.datagrams.load(Ordering::Relaxed) + drops)
            );
            stack.shutdown().await?;
        }
        Ok(())
    })
}
