//! `tidemark-bench peers`: Tidemark beside what a user would run instead, on the same
//! machine, with the same load generator and connections, in alternating rounds of one
//! run:
//!
//! - the pixel: nginx `empty_gif` with a buffered access log (nothing durable), the
//!   `tidemark up` pixel (fsynced before it answers) with both consumers running, and
//!   the same on a RAM disk;
//! - batched ingest: `POST /v1/events` (100 events a request) against the same number
//!   of the same events written to PostgreSQL with one `COPY`.
//!
//! Tidemark's rates are *sustained*: after each round the bench waits for both
//! consumers to catch up and counts that time too, so a side whose index or key-value
//! store falls behind is not credited with throughput it cannot keep.

mod copy;
mod procs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::load::{self, LoadResult, Target};
use procs::{Nginx, Tidemark};

/// The development write key `tidemark up` accepts on loopback.
const WRITE_KEY: &str = "dev-write-key";
/// How long the consumers may take to catch up after a round.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Seconds per round and side.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds; the sides alternate within each.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Keep-alive connections for the pixel sides, one measurement per value.
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256])]
    connections: Vec<usize>,
    /// Connections for batched ingest.
    #[arg(long, default_value_t = 32)]
    batch_connections: usize,
    /// PostgreSQL for the COPY side.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// The nginx binary (the bench starts it with a config of its own).
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// The tidemark binary (default: the one built beside this bench).
    #[arg(long)]
    tidemark: Option<PathBuf>,
    /// A RAM disk for the third pixel side.
    #[arg(long, default_value = "/dev/shm")]
    ram_disk: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Nginx,
    Durable,
    RamDisk,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Nginx => "nginx empty_gif + access log",
            Side::Durable => "tidemark pixel, fsynced",
            Side::RamDisk => "tidemark pixel, RAM disk",
        }
    }
}

/// One side's rounds at one level, summed.
struct Tally {
    load: Option<LoadResult>,
    /// Time the consumers needed after the rounds to catch up.
    drain: Duration,
    cpu: f64,
    /// The largest lag seen at the end of a round, before draining.
    lag_at_end: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally { load: None, drain: Duration::ZERO, cpu: 0.0, lag_at_end: 0 }
    }

    fn add(&mut self, run: LoadResult, drain: Duration, cpu: f64, lag: u64) -> anyhow::Result<()> {
        match &mut self.load {
            Some(load) => load.merge(run)?,
            None => self.load = Some(run),
        }
        self.drain += drain;
        self.cpu += cpu;
        self.lag_at_end = self.lag_at_end.max(lag);
        Ok(())
    }

    /// Requests per second with the consumers' catch-up time counted.
    fn sustained(&self) -> f64 {
        self.load.as_ref().map_or(0.0, |load| load.events as f64 / (load.elapsed + self.drain).as_secs_f64())
    }

    fn cpu_per_thousand(&self) -> f64 {
        self.load.as_ref().map_or(0.0, |load| self.cpu / load.events.max(1) as f64 * 1000.0)
    }
}

pub fn run(args: &PeersArgs) -> anyhow::Result<()> {
    let binary = match &args.tidemark {
        Some(path) => path.clone(),
        None => procs::sibling_tidemark()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let http = reqwest::Client::new();
    let nginx = Nginx::start(&args.nginx)?;
    let durable = Tidemark::start(&binary, &std::env::temp_dir())?;
    let ram = Tidemark::start(&binary, &args.ram_disk)?;
    println!(
        "peers: {} cores, {} s per round, {} rounds; nginx {}, tidemark {} (data in {} and {})",
        std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        args.seconds,
        args.rounds,
        nginx.addr,
        binary.display(),
        std::env::temp_dir().display(),
        args.ram_disk.display()
    );
    let round = Duration::from_secs(args.seconds);
    let mut tallies: BTreeMap<(usize, Side), Tally> = BTreeMap::new();
    for number in 0..args.rounds {
        for &connections in &args.connections {
            for side in [Side::Nginx, Side::Durable, Side::RamDisk] {
                eprintln!("round {}: {} at {connections} connections", number + 1, side.label());
                let tally = tallies.entry((connections, side)).or_insert_with(Tally::new);
                let (run, drain, cpu, lag) = match side {
                    Side::Nginx => {
                        let before = procs::cpu_seconds(nginx.pid());
                        let run = load::run(Target::Bare { addr: nginx.addr }, connections, round)?;
                        (run, Duration::ZERO, procs::cpu_seconds(nginx.pid()) - before, 0)
                    }
                    Side::Durable | Side::RamDisk => {
                        let tidemark = if side == Side::Durable { &durable } else { &ram };
                        let target = Target::Pixel { addr: tidemark.http, write_key: WRITE_KEY, round: number };
                        tidemark_round(&runtime, tidemark, &http, target, connections, round)?
                    }
                };
                anyhow::ensure!(run.errors == 0, "{}: {} requests failed", side.label(), run.errors);
                tally.add(run, drain, cpu, lag)?;
            }
        }
    }
    let batch = batched(&runtime, args, &durable, &http, round)?;
    print_pixel(&tallies, &args.connections);
    print_batch(&batch);
    for (name, tidemark) in [("fsynced", &durable), ("RAM disk", &ram)] {
        if let Some(peak) = procs::peak_rss_mib(tidemark.pid()) {
            println!("tidemark up ({name}): peak RSS {peak:.0} MiB");
        }
    }
    Ok(())
}

/// One round against `tidemark`, then its consumers' catch-up; the CPU both took.
/// The load generator runs on a runtime of its own, outside `runtime`.
fn tidemark_round(
    runtime: &tokio::runtime::Runtime,
    tidemark: &Tidemark,
    http: &reqwest::Client,
    target: Target,
    connections: usize,
    round: Duration,
) -> anyhow::Result<(LoadResult, Duration, f64, u64)> {
    let before = procs::cpu_seconds(tidemark.pid());
    let run = load::run(target, connections, round)?;
    let (lag, drain) = runtime.block_on(async {
        let lag = tidemark.lag(http).await?;
        anyhow::Ok((lag, tidemark.drain(http, DRAIN_LIMIT).await?))
    })?;
    Ok((run, drain, procs::cpu_seconds(tidemark.pid()) - before, lag))
}

struct Batched {
    tidemark: Tally,
    copy: copy::CopyRun,
}

/// Batched ingest for a round, drained, then the same number of events by `COPY`.
fn batched(
    runtime: &tokio::runtime::Runtime,
    args: &PeersArgs,
    tidemark: &Tidemark,
    http: &reqwest::Client,
    round: Duration,
) -> anyhow::Result<Batched> {
    eprintln!("batched POST /v1/events at {} connections", args.batch_connections);
    let target = Target::Batch { addr: tidemark.http, write_key: WRITE_KEY, round: args.rounds };
    let (run, drain, cpu, lag) = tidemark_round(runtime, tidemark, http, target, args.batch_connections, round)?;
    anyhow::ensure!(run.errors == 0, "batched ingest: {} requests failed", run.errors);
    let events = run.events;
    let mut tally = Tally::new();
    tally.add(run, drain, cpu, lag)?;
    eprintln!("PostgreSQL COPY of {events} events");
    let copy = runtime.block_on(copy::copy_events(&args.postgres, events))?;
    Ok(Batched { tidemark: tally, copy })
}

fn print_pixel(tallies: &BTreeMap<(usize, Side), Tally>, levels: &[usize]) {
    println!(
        "\n{:<30} {:>6} {:>12} {:>12} {:>8} {:>8} {:>12} {:>10}",
        "pixel side", "conns", "answered/s", "sustained/s", "p50 ms", "p99 ms", "CPU s/1k", "lag at end"
    );
    for ((connections, side), tally) in tallies {
        let Some(load) = &tally.load else { continue };
        println!(
            "{:<30} {:>6} {:>12.0} {:>12.0} {:>8.2} {:>8.2} {:>12.4} {:>10}",
            side.label(),
            connections,
            load.requests_per_second(),
            tally.sustained(),
            load.p(50.0),
            load.p(99.0),
            tally.cpu_per_thousand(),
            tally.lag_at_end
        );
    }
    for connections in levels {
        let rate = |side| tallies.get(&(*connections, side)).map_or(0.0, Tally::sustained);
        let nginx = rate(Side::Nginx).max(f64::MIN_POSITIVE);
        println!(
            "at {connections} connections: fsynced pixel / nginx = {:.2}, RAM-disk pixel / nginx = {:.2} (sustained)",
            rate(Side::Durable) / nginx,
            rate(Side::RamDisk) / nginx
        );
    }
}

fn print_batch(batch: &Batched) {
    let Some(load) = &batch.tidemark.load else { return };
    let copy_rate = batch.copy.events as f64 / batch.copy.elapsed.as_secs_f64();
    println!(
        "\nbatched: tidemark {} events in {:.1} s + {:.1} s for the consumers: {:.0} events/s sustained \
         ({:.0}/s answered, p50 {:.1} ms, p99 {:.1} ms), {:.4} CPU s per 1k events",
        load.events,
        load.elapsed.as_secs_f64(),
        batch.tidemark.drain.as_secs_f64(),
        batch.tidemark.sustained(),
        load.events_per_second(),
        load.p(50.0),
        load.p(99.0),
        batch.tidemark.cpu_per_thousand()
    );
    println!(
        "batched: PostgreSQL COPY of the same {} events in {:.1} s: {copy_rate:.0} events/s, {:.4} CPU s per 1k events (backend)",
        batch.copy.events,
        batch.copy.elapsed.as_secs_f64(),
        batch.copy.backend_cpu / batch.copy.events.max(1) as f64 * 1000.0
    );
    println!("batched: tidemark / COPY = {:.2} (sustained)", batch.tidemark.sustained() / copy_rate);
}
