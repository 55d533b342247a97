//! Kill -9 a running `tidemark up` while clients are sending: every event it
//! acknowledged is still there after restart, and counted once.

use crate::support::*;
use chrono::{Duration, Utc};
use serde_json::json;
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration as StdDuration;
use tidemark_core::bucket::HourBucket;
use tidemark_core::event::Event;
use tidemark_core::merge::read_bucket;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidemark-node"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--http-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--udp-addr",
            "off",
        ])
        .env("TIDEMARK_WRITE_KEYS", format!("{WRITE_KEY}=web"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(StdDuration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
    let addr: std::net::SocketAddr = banner
        .split_whitespace()
        .find_map(|word| word.strip_prefix("http://"))
        .expect("banner names the http address")
        .parse()
        .unwrap();

    // Eight clients send 50-event batches until the process dies under them.
    let started = Utc::now();
    let mut clients = Vec::new();
    for client_number in 0..8 {
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut acknowledged = Vec::new();
            for batch_number in 0.. {
                let batch: Vec<_> = (0..50)
                    .map(|n| json!({"event_id": format!("k{client_number}-{batch_number}-{n}"), "event_type": "click", "anonymous_id": "a", "region": "EU"}))
                    .collect();
                let sent = http
                    .post(format!("http://{addr}/v1/events"))
                    .header("x-tidemark-write-key", WRITE_KEY)
                    .json(&batch)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        let Ok(report) = response.json::<serde_json::Value>().await else { break };
                        for result in report["results"].as_array().into_iter().flatten() {
                            if result["status"] == "accepted" {
                                acknowledged.push(result["event_id"].as_str().unwrap().to_owned());
                            }
                        }
                    }
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    child.start_kill().unwrap();
    assert!(!child.wait().await.unwrap().success(), "the node was killed, not stopped");
    let mut acknowledged = HashSet::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert!(acknowledged.len() > 1_000, "clients got acknowledgements before the kill ({})", acknowledged.len());

    // Restart on the same directory; the consumers finish what the crash interrupted.
    let stack = start(dir.path()).await;
    stack.wait_until_caught_up(StdDuration::from_secs(60)).await.unwrap();
    let mut stored = HashSet::new();
    let mut bucket = HourBucket::of(started - Duration::minutes(5));
    while bucket.start() <= Utc::now() {
        for item in read_bucket(stack.kv(), stack.layout(), bucket).await.unwrap() {
            let event = Event::from_record_bytes(&item.value).unwrap();
            assert!(stored.insert(event.event_id), "each event is stored once");
        }
        bucket = bucket.next();
    }
    let lost: Vec<_> = acknowledged.difference(&stored).take(5).collect();
    assert!(lost.is_empty(), "acknowledged events lost in the crash: {lost:?}");
    assert_eq!(stack.index().num_docs(), stored.len() as u64, "the index counts each stored event once");
    stack.shutdown().await.unwrap();
}

const ROWS: usize = 200_000;

const LOAD_PIPELINE: &str = r#"
[[source]]
name = "sales"
kind = "csv"
path = "sales.csv"

[[table]]
name   = "sales"
source = "sales"
load   = "append"
columns = [
  { name = "id",     type = "bigint" },
  { name = "region", type = "varchar" },
  { name = "amount", type = "decimal(12,2)" },
]
"#;

async fn loaded_rows(dir: &std::path::Path) -> i64 {
    let env = tidemark::batch::BatchEnv::open(&dir.join("tidemark.toml"), &dir.join("data")).unwrap();
    let query = tidemark_core::ports::Query::new("SELECT COUNT(*) FROM sales");
    let counted = tidemark_core::ports::Warehouse::query(&env.warehouse, &query).await;
    match counted.map(|r| r.rows[0][0].clone()) {
        Ok(tidemark_core::batch::Value::Int(n)) => n,
        // The table does not exist until the first load creates it.
        _ => 0,
    }
}

/// Kill -9 a load at several moments (staging, committing, done): the table holds the
/// whole load or none of it, never a part; the next run loads what is missing, once.
/// An append table, where a replayed load would show as doubled rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_killed_at_any_moment_leaves_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), LOAD_PIPELINE).unwrap();
    let mut csv = String::from("id,region,amount\n");
    for n in 0..ROWS {
        csv.push_str(&format!("{n},{},{}.{:02}\n", REGIONS[n % 3], n % 1000, n % 100));
    }
    std::fs::write(dir.path().join("sales.csv"), csv).unwrap();
    {
        let env = tidemark::batch::BatchEnv::open(&dir.path().join("tidemark.toml"), &dir.path().join("data")).unwrap();
        env.extract(None).await.unwrap();
    }
    let load = || {
        Command::new(env!("CARGO_BIN_EXE_tidemark-job"))
            .args(["batch-load", "--pipeline"])
            .arg(dir.path().join("tidemark.toml"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut killed = 0;
    for delay_ms in [150, 400, 800, 1_500, 3_000] {
        let mut child = load();
        let outcome = tokio::time::timeout(StdDuration::from_millis(delay_ms), child.wait()).await;
        if outcome.is_err() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            killed += 1;
        }
        let rows = loaded_rows(dir.path()).await;
        assert!(rows == 0 || rows == ROWS as i64, "after a kill at {delay_ms} ms: {rows} rows, a part of a load");
    }
    assert!(killed > 0, "at least one load was killed mid-way");
    assert!(load().wait().await.unwrap().success());
    assert_eq!(loaded_rows(dir.path()).await, ROWS as i64, "every row once");
}
