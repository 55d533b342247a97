//! Benchmarks of the hot paths, printing their figures (see BENCHMARKS.md). The batch
//! path's are in `batch.rs` (`tidemark-bench batch`), merged reports' in `report.rs`
//! (`tidemark-bench report`), the pixel handler's own cost in `handler.rs`
//! (`tidemark-bench handler`), the Lambda functions' cold starts in `lambda_init.rs`
//! (`tidemark-bench lambda-init`), Tidemark beside nginx and PostgreSQL in `peers/`
//! (`tidemark-bench peers`).
//!
//! `tidemark-bench realtime` runs, in one process on loopback:
//! 1. the pixel `GET /v1/p.gif` and a bare axum handler returning the same GIF,
//!    side by side with the same load generator at each concurrency level, consumers off;
//! 2. `POST /v1/events` with 100-event batches, consumers off: durable ingest rate;
//! 3. the consumers (stream-index + stream-store) draining the whole backlog.

mod analysis;
mod batch;
mod handler;
mod hostile;
mod lambda_init;
mod load;
mod machine;
mod peers;
mod report;
mod udp;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::time::{Duration, Instant};
use tidemark::{Stack, UpConfig};
use tidemark_core::ingest::WriteKeys;

const WRITE_KEY: &str = "bench-write-key";
/// Pixel and bare alternate this many times within their phase.
const ROUNDS: u32 = 4;

/// The same allocator as the `tidemark` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest, consumer and pixel throughput of the local stack.
    Realtime {
        /// Seconds per load phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent connections for the batch phase.
        #[arg(long, default_value_t = 32)]
        batch_connections: usize,
        /// Concurrent connections for the pixel and bare phases, one measurement per
        /// value. A durable pixel waits for its group's fsync, so its throughput grows
        /// with concurrency until the CPU is busy; the bare handler is CPU-bound already
        /// at the lowest level. Both are measured at every level.
        #[arg(long, value_delimiter = ',', default_values_t = [64, 256])]
        pixel_connections: Vec<usize>,
        /// Records per consumer batch (one index commit and one KV sync each).
        #[arg(long, default_value_t = tidemark_local::RunnerConfig::default().batch_size)]
        consumer_batch: usize,
        /// Only the pixel and bare phases: skip batch ingest and the consumers.
        #[arg(long)]
        pixel_only: bool,
    },
    /// The pixel handler's own cost, one request at a time through the router, beside
    /// the bare handler; no sockets. Meant to run under callgrind as well.
    Handler {
        /// Requests per handler.
        #[arg(long, default_value_t = 100_000)]
        requests: u64,
        /// Directory for the event log (e.g. under /dev/shm to take the disk out).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Rule-engine, DuckDB load and (with --postgres) PostgreSQL-to-warehouse throughput.
    Batch {
        /// Generated order rows.
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        /// PostgreSQL URL for the end-to-end extract → load run, e.g. postgres://postgres@127.0.0.1/test.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Peak memory while many clients send hostile 1 MiB bodies at once.
    Hostile {
        /// Clients sending at the same time.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Rounds per body shape.
        #[arg(long, default_value_t = 4)]
        rounds: usize,
    },
    /// UDP ingest at paced rates: what arrives, what the kernel drops, what is shed.
    Udp {
        /// Datagrams per second, one measurement per value.
        #[arg(long, value_delimiter = ',', default_values_t = [5_000, 10_000, 20_000, 40_000, 80_000])]
        rates: Vec<u64>,
        /// Events per rate (each sent twice).
        #[arg(long, default_value_t = 20_000)]
        events: usize,
    },
    /// Cold start of every function `sam build` built, under a local runtime API.
    LambdaInit(lambda_init::LambdaInitArgs),
    /// Tidemark beside nginx and PostgreSQL COPY, same load, same machine, one run.
    Peers(peers::PeersArgs),
    /// The analyze job at scale (forecast per group, profile, segments) and its accuracy.
    Analysis {
        /// Order rows in the warehouse.
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
    },
    /// Merged report latency over a large warehouse and index.
    Report {
        /// Order rows in the warehouse.
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// Purchase events in the search index.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Measured rounds per report.
        #[arg(long, default_value_t = 200)]
        iterations: u64,
    },
}

fn main() -> anyhow::Result<()> {
    // Quiet unless asked: `RUST_LOG=info` shows the warehouse's slow statements.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match Cli::parse().command {
        Command::Realtime { seconds, batch_connections, pixel_connections, consumer_batch, pixel_only } => {
            realtime(Duration::from_secs(seconds), batch_connections, pixel_connections, consumer_batch, pixel_only)
        }
        Command::Handler { requests, dir } => handler::run(requests, dir),
        Command::Batch { rows, postgres } => batch::run(rows, postgres),
        Command::Report { rows, events, iterations } => report::run(rows, events, iterations),
        Command::Hostile { clients, rounds } => hostile::run(clients, rounds),
        Command::Udp { rates, events } => udp::run(rates, events),
        Command::LambdaInit(args) => lambda_init::run(&args),
        Command::Peers(args) => peers::run(&args),
        Command::Analysis { rows } => analysis::run(rows),
    }
}

/// Both sides at one concurrency level, with how idle the machine was during each.
struct Level {
    pixel: load::LoadResult,
    bare: load::LoadResult,
    pixel_idle: machine::IdleShare,
    bare_idle: machine::IdleShare,
}

/// One round of `target`, adding the machine's idle share over it to `idle`.
fn timed_round(
    target: load::Target,
    connections: usize,
    round: Duration,
    idle: &mut machine::IdleShare,
) -> anyhow::Result<load::LoadResult> {
    let before = machine::CpuTicks::now();
    let result = load::run(target, connections, round)?;
    idle.add(before, machine::CpuTicks::now());
    Ok(result)
}

/// The pixel and the bare handler at one concurrency, in alternating rounds so that
/// drift in this shared VM's speed hits both alike.
fn pixel_vs_bare(
    pixel_addr: std::net::SocketAddr,
    bare_addr: std::net::SocketAddr,
    connections: usize,
    round: Duration,
    first_round: u32,
) -> anyhow::Result<Level> {
    let pixel_target =
        |number| load::Target::Pixel { addr: pixel_addr, write_key: WRITE_KEY, round: first_round + number };
    let bare_target = load::Target::Bare { addr: bare_addr };
    let (mut pixel_idle, mut bare_idle) = (machine::IdleShare::default(), machine::IdleShare::default());
    let mut pixel = timed_round(pixel_target(0), connections, round, &mut pixel_idle)?;
    let mut bare = timed_round(bare_target, connections, round, &mut bare_idle)?;
    for number in 1..ROUNDS {
        pixel.merge(timed_round(pixel_target(number), connections, round, &mut pixel_idle)?)?;
        bare.merge(timed_round(bare_target, connections, round, &mut bare_idle)?)?;
    }
    Ok(Level { pixel, bare, pixel_idle, bare_idle })
}

fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .context("server runtime")
}

fn realtime(
    phase: Duration,
    batch_connections: usize,
    pixel_connections: Vec<usize>,
    consumer_batch: usize,
    pixel_only: bool,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = server_runtime()?;
    let keys = WriteKeys::parse(&format!("{WRITE_KEY}=bench")).map_err(anyhow::Error::msg)?;
    println!(
        "machine: {} cores; data in {}",
        std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        dir.path().display()
    );

    // 1. The pixel (one durable event per request) and a bare axum handler returning
    //    the same GIF, side by side with the same load generator, on a quiet log: run
    //    first so that neither pays for the background flushes of the batch phase.
    //    Consumers off: this measures the ingest path.
    let mut config = UpConfig::for_tests(dir.path().to_path_buf(), keys.clone());
    config.run_consumers = false;
    config.udp_addr = None;
    config.runner.batch_size = consumer_batch;
    let stack = server.block_on(Stack::start(config.clone()))?;
    let bare_addr = server.block_on(load::bare_gif_server())?;
    let round = phase / ROUNDS;
    let mut pixel_events = 0;
    let mut best = (0.0_f64, 0.0_f64);
    for (level, &connections) in (0..).zip(&pixel_connections) {
        // Distinct rounds per level keep every pixel's event id unique in the backlog.
        // Only the pixel rounds write to the log.
        let commits_before = stack.log().commit_stats();
        let Level { pixel, bare, pixel_idle, bare_idle } =
            pixel_vs_bare(stack.http_addr(), bare_addr, connections, round, level * ROUNDS)?;
        let commits = stack.log().commit_stats().since(&commits_before);
        for (name, result, idle) in
            [("GET /v1/p.gif    (durable)", &pixel, &pixel_idle), ("bare axum GIF    (no work)", &bare, &bare_idle)]
        {
            println!(
                "{name}, {connections} connections, {:.1} s: {:.0} requests/s, latency p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms, errors {}{}",
                result.elapsed.as_secs_f64(), result.requests_per_second(), result.p(50.0), result.p(90.0), result.p(99.0), result.errors,
                idle.describe()
            );
        }
        println!(
            "  event log      {:.0} group commits/s, {:.1} pixels per group, {:.0} µs per commit with its fsync",
            commits.groups as f64 / pixel.elapsed.as_secs_f64(),
            commits.mean_requests(),
            commits.mean_commit_micros()
        );
        println!(
            "pixel / bare     {:.2} at {connections} connections",
            pixel.requests_per_second() / bare.requests_per_second()
        );
        pixel_events += pixel.events;
        best = (best.0.max(pixel.requests_per_second()), best.1.max(bare.requests_per_second()));
    }
    if pixel_connections.len() > 1 {
        println!("pixel / bare     {:.2} at saturation (the best rate of each over the levels above)", best.0 / best.1);
    }
    if pixel_only {
        server.block_on(stack.shutdown())?;
        return Ok(());
    }
    // 2. Durable batch ingest, consumers still off so that the figure is ingest alone.
    let batch = load::run(
        load::Target::Batch { addr: stack.http_addr(), write_key: WRITE_KEY, round: 0 },
        batch_connections,
        phase,
    )?;
    println!(
        "POST /v1/events  100-event batches, {batch_connections} connections, {:.1} s: {:.0} events/s durable ({:.0} requests/s), latency p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms, errors {}",
        batch.elapsed.as_secs_f64(), batch.events_per_second(), batch.requests_per_second(), batch.p(50.0), batch.p(90.0), batch.p(99.0), batch.errors
    );

    let ingested = batch.events + pixel_events;
    server.block_on(stack.shutdown())?;

    // 3. Consumers drain the backlog: index + KV (both consumers at once).
    config.run_consumers = true;
    let started = Instant::now();
    let stack = server.block_on(Stack::start(config.clone()))?;
    let mut last_report = Instant::now();
    while !stack.caught_up()? {
        std::thread::sleep(Duration::from_millis(50));
        if last_report.elapsed() > Duration::from_secs(2) {
            let indexed = stack.consumer_stats()[0].records.load(std::sync::atomic::Ordering::Relaxed);
            let stored = stack.consumer_stats()[1].records.load(std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "  consumers: indexed {indexed}, stored {stored} of {ingested} after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let drained = started.elapsed();
    println!(
        "consumers        stream-index + stream-store caught up on {ingested} events in {:.1} s: {:.0} events/s through both (index documents {})",
        drained.as_secs_f64(),
        ingested as f64 / drained.as_secs_f64(),
        stack.index().num_docs()
    );
    server.block_on(stack.shutdown())?;
    Ok(())
}
