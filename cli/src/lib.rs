//! `tidemark`: every function of the pipeline in one process, on embedded stores.
//!
//! [`stack::Stack`] is what `tidemark up` runs and what the end-to-end tests start on
//! ephemeral ports: the beacon and report routers on one HTTP socket, the UDP ingest
//! socket, and the two stream consumers (stream-index, stream-store) reading the
//! embedded log.

pub mod batch;
pub mod config;
pub mod consumers;
pub mod dead_letters;
pub mod demo;
pub mod dlq;
pub mod forget;
pub mod health;
pub mod http;
pub mod jobs;
pub mod notify;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod retention;
pub mod schedule;
pub mod settings;
pub mod stack;
pub mod stats;
pub mod udp;
pub mod watermark;

pub use config::{JobArgs, UpConfig};
pub use stack::Stack;
pub use tidemark_core::job::Job;

use anyhow::Context;
use std::sync::Arc;
use tidemark_core::job::{Port, Trigger};
use tidemark_core::kv_key::KvLayout;

/// `tidemark up`: start the stack, print where it listens, run until Ctrl-C or SIGTERM.
pub async fn run_up(args: &config::UpArgs) -> anyhow::Result<()> {
    let config = UpConfig::from_args(args)?;
    if args.write_keys == config::DEV_WRITE_KEYS {
        tracing::warn!("using the development write key dev-write-key; set TIDEMARK_WRITE_KEYS for anything shared");
    }
    let stack = Stack::start(config).await?;
    let udp = stack.udp_addr().map(|addr| addr.to_string()).unwrap_or_else(|| "off".to_owned());
    // One parseable line on stdout: scripts and tests read the bound addresses from it.
    println!("tidemark is up: http://{} admin=http://{} udp={udp}", stack.http_addr(), stack.admin_addr());
    wait_for_stop_signal().await?;
    stack.shutdown().await
}

pub(crate) async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    tracing::info!("stop signal received; shutting down");
    Ok(())
}

/// `tidemark job run <job>`: one job now, with progress and a summary, recorded in the
/// job history. Opens the search index only for the jobs that read it.
pub async fn run_job(job: Job, args: &JobArgs) -> anyhow::Result<()> {
    let options = args.options(job)?;
    let env = batch::BatchEnv::open(&args.pipeline, &args.data_dir)?
        .with_raw_retention(config::raw_retention(args.retain_raw_days)?)
        .with_notifier(config::notifier(config::notify_webhook(args.notify_webhook.as_deref())?.as_ref()));
    let (kv, layout) = open_kv(args)?;
    let index = if job.needs(Port::Index) {
        let index = tidemark_local::TantivyIndex::open(&args.data_dir.join("index"))
            .context("opening the search index (is tidemark up running on this data directory?)")?;
        Some(Arc::new(index) as Arc<dyn tidemark_core::ports::SearchIndex>)
    } else {
        None
    };
    let jobs = jobs::LocalJobs::new(env, Arc::new(kv), layout, index);
    jobs.recover().await;
    batch::print_outcome(&jobs.run(job, &options, Trigger::Cli).await?);
    Ok(())
}

/// The real-time key-value store of a data directory no `tidemark up` holds.
fn open_kv(args: &JobArgs) -> anyhow::Result<(tidemark_local::FjallKvStore, KvLayout)> {
    let kv = tidemark_local::FjallKvStore::open(&args.data_dir.join("kv"))
        .context("opening the key-value store (is tidemark up running on this data directory?)")?;
    Ok((kv, KvLayout { write_shards: args.kv_write_shards, ..KvLayout::default() }))
}
