//! Replays the day's beacons against the running stack over HTTP, in time order, spread
//! over a chosen number of seconds, the way browsers would have sent them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// What the beacon endpoint answered over the whole replay.
#[derive(Debug, Default, Clone, Copy)]
pub struct Streamed {
    pub accepted: u64,
    pub rejected: u64,
}

/// The largest batch `POST /v1/events` takes (the Kinesis PutRecords limit).
const BATCH: usize = 500;

pub async fn replay(
    http: SocketAddr,
    write_key: &str,
    beacons: &[(DateTime<Utc>, Value)],
    seconds: f64,
) -> anyhow::Result<Streamed> {
    let client = reqwest::Client::new();
    let url = format!("http://{http}/v1/events");
    // Ten sends a second: smooth enough that the chart grows visibly, few enough
    // requests that the replay costs nothing.
    let ticks = ((seconds * 10.0).ceil() as usize).max(1);
    let per_tick = beacons.len().div_ceil(ticks).max(1);
    let bar = ProgressBar::with_draw_target(Some(beacons.len() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix:>18} [{bar:30}] {human_pos}/{human_len} beacons {per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix("streaming beacons");
    let started = Instant::now();
    let mut streamed = Streamed::default();
    for (tick, slice) in beacons.chunks(per_tick).enumerate() {
        for batch in slice.chunks(BATCH) {
            let events: Vec<&Value> = batch.iter().map(|(_, event)| event).collect();
            let answer: Value = client
                .post(&url)
                .header(tidemark_beacon_ingest::WRITE_KEY_HEADER, write_key)
                .json(&events)
                .send()
                .await
                .with_context(|| format!("posting beacons to {url}"))?
                .error_for_status()
                .with_context(|| format!("{url} refused the beacons"))?
                .json()
                .await
                .context("reading the beacon endpoint's answer")?;
            streamed.accepted += answer["accepted"].as_u64().unwrap_or(0);
            streamed.rejected += answer["rejected"].as_u64().unwrap_or(0);
            bar.inc(batch.len() as u64);
        }
        let due = Duration::from_secs_f64(seconds * (tick + 1) as f64 / ticks as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        accepted = streamed.accepted,
        rejected = streamed.rejected,
        seconds = format!("{secs:.1}"),
        "demo beacons streamed"
    );
    Ok(streamed)
}
