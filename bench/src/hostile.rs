//! `tidemark-bench hostile`: peak memory of the local stack while 50 clients at once
//! send 1 MiB bodies shaped to make a parser allocate (the issue's measure of "memory
//! per request stays bounded whatever the body").
//!
//! The stack runs in this process, consumers on; the figure is the process's peak RSS
//! (`VmHWM`) over the rounds minus its RSS before them. The bodies are built once and
//! shared, so the client side adds about one copy of each shape, not one per request.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tidemark::{Stack, UpConfig};
use tidemark_core::ingest::WriteKeys;

const WRITE_KEY: &str = "bench-write-key";
const BODY_BYTES: usize = 1024 * 1024;

/// Bodies just under 1 MiB, each a different way to make a naive parser allocate.
fn shapes() -> Vec<(&'static str, Bytes)> {
    let fill = |prefix: &str, unit: &str, suffix: &str| {
        let mut body = String::from(prefix);
        while body.len() + unit.len() + suffix.len() < BODY_BYTES {
            body.push_str(unit);
        }
        if body.ends_with(',') {
            body.pop();
        }
        body.push_str(suffix);
        Bytes::from(body)
    };
    vec![
        ("array of 500k zeros", fill("[", "0,", "]")),
        ("500 events of 2 KiB keys", {
            let event =
                format!(r#"{{"event_type":"click","anonymous_id":"a","properties":{{"{}":1}}}},"#, "k".repeat(2000));
            fill("[", &event, "]")
        }),
        (
            "one event, 100k-key object",
            fill(r#"[{"event_type":"click","anonymous_id":"a","properties":{"#, r#""k":0,"#, "}}]"),
        ),
        ("NDJSON of 20k lines", fill("", "{\"event_type\":\"click\"}\n", "")),
        ("nested arrays", fill("[", "[", "")),
    ]
}

fn rss_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("{field} in /proc/self/status"))
}

pub fn run(clients: usize, rounds: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let keys = WriteKeys::parse(&format!("{WRITE_KEY}=web")).map_err(anyhow::Error::msg)?;
        let stack = Stack::start(UpConfig::for_tests(dir.path().to_path_buf(), keys)).await?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
        let url = format!("http://{}/v1/events", stack.http_addr());
        let shapes = shapes();
        let baseline = rss_kib("VmRSS:")?;
        println!("hostile bodies: {clients} clients at once, {rounds} rounds per shape, 1 MiB each");
        println!("{:<28} {:>10} {:>14}", "shape", "seconds", "statuses");
        for (name, body) in &shapes {
            let started = Instant::now();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            for _ in 0..rounds {
                let sends = (0..clients).map(|_| {
                    client
                        .post(&url)
                        .header("x-tidemark-write-key", WRITE_KEY)
                        .body(body.clone())
                        .timeout(Duration::from_secs(30))
                        .send()
                });
                for answer in futures::future::join_all(sends).await {
                    *statuses.entry(answer.map(|a| a.status().as_u16()).unwrap_or(0)).or_default() += 1;
                }
            }
            println!("{name:<28} {:>10.2} {:>14}", started.elapsed().as_secs_f64(), format!("{statuses:?}"));
        }
        let peak = rss_kib("VmHWM:")?;
        println!(
            "RSS before {:.1} MiB, peak {:.1} MiB: {:.1} MiB for {clients} concurrent 1 MiB bodies ({:.2} MiB per request)",
            baseline as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(baseline) as f64 / 1024.0,
            peak.saturating_sub(baseline) as f64 / 1024.0 / clients as f64
        );
        stack.shutdown().await
    })
}
