//! The "just use a database" alternative to batched ingest: the same events written to
//! PostgreSQL with `COPY` into a table keyed like Tidemark's idempotency key, durable
//! (the server's default `synchronous_commit`) when the `COPY` returns.

use anyhow::Context;
use bytes::Bytes;
use futures::SinkExt;
use std::time::{Duration, Instant};

/// What one `COPY` of `events` cost.
pub struct CopyRun {
    pub events: u64,
    pub elapsed: Duration,
    /// CPU seconds of the server process that ran the `COPY` (its WAL writer and
    /// checkpointer are not counted).
    pub backend_cpu: f64,
}

const TABLE: &str = "tm_bench_peers.events";

/// `events` page views and purchases shaped as the batch phase's, as CSV chunks of
/// about 1 MiB, made before the clock starts.
fn csv_chunks(events: u64) -> Vec<Bytes> {
    let mut chunks = Vec::new();
    let mut chunk = String::with_capacity(1 << 20);
    for n in 0..events {
        let (kind, order, amount, currency) = if n % 5 == 0 {
            ("purchase", format!("o{n}"), format!("{}.{:02}", n % 300, n % 100), "EUR")
        } else {
            ("page_view", String::new(), String::new(), "")
        };
        chunk.push_str(&format!(
            "bench,b{n},{kind},2026-12-01 12:00:00+00,2026-12-01 12:00:00+00,anon-{},{},{order},{amount},{currency},\"{{\"\"url\"\":\"\"/p/{}\"\"}}\"\n",
            n % 17,
            ["EU", "US", "APAC"][(n % 3) as usize],
            n % 100,
        ));
        if chunk.len() >= 1 << 20 {
            chunks.push(Bytes::from(std::mem::take(&mut chunk)));
        }
    }
    if !chunk.is_empty() {
        chunks.push(Bytes::from(chunk));
    }
    chunks
}

pub async fn copy_events(url: &str, events: u64) -> anyhow::Result<CopyRun> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.with_context(|| format!("connecting to {url}"))?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS tm_bench_peers; DROP TABLE IF EXISTS {TABLE};
             CREATE TABLE {TABLE} (source text NOT NULL, event_id text NOT NULL, event_type text NOT NULL,
               occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL, anonymous_id text,
               region text, order_id text, amount numeric(12,2), currency text, properties jsonb,
               PRIMARY KEY (source, event_id))"
        ))
        .await?;
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let chunks = csv_chunks(events);
    let cpu_before = super::procs::cpu_seconds(pid as u32);
    let started = Instant::now();
    let sink = client.copy_in::<_, Bytes>(&format!("COPY {TABLE} FROM STDIN (FORMAT csv)")).await?;
    futures::pin_mut!(sink);
    for chunk in chunks {
        sink.send(chunk).await?;
    }
    let copied = sink.finish().await?;
    let elapsed = started.elapsed();
    let backend_cpu = super::procs::cpu_seconds(pid as u32) - cpu_before;
    anyhow::ensure!(copied == events, "COPY wrote {copied} rows of {events}");
    client.batch_execute(&format!("DROP TABLE {TABLE}")).await?;
    drop(client);
    driver.await??;
    Ok(CopyRun { events, elapsed, backend_cpu })
}
