//! `tidemark demo`: a whole e-commerce day through both sides of the pipeline in about a
//! minute. The day's beacons stream in first (every hour answered by real time);
//! then the night's batch loads hours 0–11 and later 12–17 from the
//! shop's own database and web log, and the same report switches those hours to batch;
//! reconcile then says what real time missed, and realtime-compact moves the
//! day's page views and the purchases batch lacks into the warehouse. Last, analyze
//! finds the hour in which the EU's page-view beacons failed, against a forecast from
//! three weeks of history.

pub mod day;
mod shop;
mod stream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use tidemark_core::analysis::{AnalysisSummary, Analyzer};
use tidemark_core::bucket::Interval;
use tidemark_core::clock::FixedClock;
use tidemark_core::compact::CompactSummary;
use tidemark_core::ingest::WriteKeys;
use tidemark_core::reconcile::ReconcileSummary;
use tidemark_core::report::{run_report, Report, ReportQuery};

use tidemark_core::job::{Job, JobOptions, JobOutcome, Trigger};

use crate::batch::{print_analyses, print_compact, print_outcome, print_reconcile, BatchEnv};
use crate::config::{UpConfig, DEV_WRITE_KEYS};
use crate::Stack;

pub use day::Day;
pub use stream::Streamed;

/// Marks a directory the demo created, so that a re-run may wipe it and nothing else.
const MARKER: &str = ".tidemark-demo";
const WRITE_KEY: &str = "dev-write-key";
/// The report the demo narrates.
pub const REPORT: &str = "sales_by_region";

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its stores and the shop's files (wiped at start if an
    /// earlier demo made it; refused if it holds anything else).
    #[arg(long, default_value = "./tidemark-demo")]
    pub data_dir: PathBuf,
    /// Where the beacon endpoint listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Where the dashboard and the other read routes listen (loopback).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub admin_addr: SocketAddr,
    /// The shop's orders database; when it does not answer, the orders go to a CSV export.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres: String,
    /// Orders in the generated day.
    #[arg(long, default_value_t = 2400)]
    pub orders: usize,
    /// Seed of the generated day.
    #[arg(long, default_value_t = 20261124)]
    pub seed: u64,
    /// How long the day's beacons take to stream in.
    #[arg(long, default_value_t = 20.0)]
    pub stream_seconds: f64,
    /// How long to hold each picture before the next batch load.
    #[arg(long, default_value_t = 10.0)]
    pub pause_seconds: f64,
    /// Stop when the story is told instead of keeping the dashboard up until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

/// What the demo did, for the closing lines and for tests.
pub struct Outcome {
    pub day: DateTime<Utc>,
    pub orders_in: String,
    pub streamed: Streamed,
    /// The report at each stage: all real time, after hours 0–11, after hours 12–17.
    pub reports: Vec<Report>,
    pub reconciliation: Vec<ReconcileSummary>,
    pub compaction: Vec<CompactSummary>,
    pub analyses: Vec<AnalysisSummary>,
}

/// The running demo: its stack stays up until [`Demo::shutdown`].
pub struct Demo {
    pub stack: Stack,
    pub day: Day,
    dir: PathBuf,
    orders: shop::OrdersDb,
    args: DemoArgs,
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).is_file() {
            anyhow::bail!("--data-dir {} exists and was not made by tidemark demo; choose another", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing the earlier demo in {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by tidemark demo; removed by the next one\n")?;
    Ok(())
}

impl Demo {
    /// Generates yesterday (UTC), writes the shop's sources and starts the stack.
    pub async fn start(args: DemoArgs) -> anyhow::Result<Demo> {
        let dir = args.data_dir.clone();
        prepare_dir(&dir)?;
        let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).context("midnight")?;
        let start = Utc.from_utc_datetime(&today) - Span::days(1);
        let day = Day::generate(start, args.orders, args.seed);
        let orders = shop::OrdersDb::open(&args.postgres, &dir).await?;
        let pipeline = shop::write_files(&dir, &day, args.seed, &orders)?;
        let keys = WriteKeys::parse(DEV_WRITE_KEYS).map_err(anyhow::Error::msg)?;
        let mut config = UpConfig::for_tests(dir.join("data"), keys);
        config.http_addr = args.http_addr;
        config.admin_addr = args.admin_addr;
        config.udp_addr = None;
        config.pipeline = Some(pipeline);
        let stack = Stack::start(config).await.with_context(|| {
            format!(
                "starting the demo stack on {} (--http-addr) and {} (--admin-addr)",
                args.http_addr, args.admin_addr
            )
        })?;
        Ok(Demo { stack, day, dir, orders, args })
    }

    /// The dashboard showing the demo's day.
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/?day={}", self.stack.admin_addr(), self.day.start.format("%Y-%m-%d"))
    }

    /// The console: the demo's jobs and their runs, Run now, dead letters.
    pub fn console_url(&self) -> String {
        format!("http://{}/console", self.stack.admin_addr())
    }

    fn batch(&self) -> anyhow::Result<&BatchEnv> {
        self.stack.batch().context("the demo stack has no batch side")
    }

    /// Tells the story: stream, batch up to noon, batch up to 18:00, reconcile.
    pub async fn play(&self) -> anyhow::Result<Outcome> {
        let beacons = self.day.beacons();
        println!(
            "\n1/6  Real time: streaming {} beacons of {} ({} orders, {} page views) over {} s",
            beacons.len(),
            self.day.start.format("%Y-%m-%d"),
            self.day.orders.len(),
            self.day.page_views.len(),
            self.args.stream_seconds
        );
        let streamed = stream::replay(self.stack.http_addr(), WRITE_KEY, &beacons, self.args.stream_seconds).await?;
        self.stack.wait_until_caught_up(Duration::from_secs(60)).await?;
        let mut reports = vec![self.report().await?];
        crate::report::print_table(&serde_json::to_value(&reports[0])?);
        self.pause().await;

        println!("\n2/6  The night's batch, first part: the shop's orders and web log for hours 00–11");
        self.load_hours(0, 12).await?;
        reports.push(self.report().await?);
        crate::report::print_table(&serde_json::to_value(&reports[1])?);
        self.pause().await;

        println!("\n3/6  Batch catches up: hours 12–17; the tidemark moves to 18:00");
        self.load_hours(12, 18).await?;
        reports.push(self.report().await?);
        crate::report::print_table(&serde_json::to_value(&reports[2])?);

        println!("\n4/6  Reconcile: what real time missed, hour by hour, where batch now answers");
        let env = self.batch()?;
        let JobOutcome::Reconcile(reconciliation) = self.run(Job::Reconcile, JobOptions::default()).await? else {
            anyhow::bail!("reconcile answered another job's outcome");
        };
        print_reconcile(&reconciliation);

        println!("\n5/6  realtime-compact: the day's page views and the purchases batch lacks, into the warehouse");
        let day = JobOptions { day: Some(self.day.start.date_naive()), ..JobOptions::default() };
        let JobOutcome::Compact(compaction) = self.run(Job::RealtimeCompact, day).await? else {
            anyhow::bail!("realtime-compact answered another job's outcome");
        };
        print_compact(&compaction);
        print_outcome(&self.run(Job::ReportViews, JobOptions::default()).await?);

        let as_of = self.day.start + Span::hours(17) + Span::minutes(20);
        println!(
            "\n6/6  Analyze, as of {}: forecasts over {} weeks of beacons, profiles, customer segments",
            as_of.format("%H:%M"),
            day::HISTORY_DAYS / 7
        );
        let analyzer = Analyzer {
            pipeline: &env.pipeline,
            warehouse: &env.warehouse,
            index: self.stack.index(),
            clock: &FixedClock::new(as_of),
            notifier: env.notifier.as_deref(),
        };
        let analyses = analyzer.run(None).await?;
        print_analyses(&analyses);
        Ok(Outcome {
            day: self.day.start,
            orders_in: self.orders.describe(),
            streamed,
            reports,
            reconciliation,
            compaction,
            analyses,
        })
    }

    /// The shop records hours `[from, to)`; then batch-extract and batch-load run.
    async fn load_hours(&self, from: u32, to: u32) -> anyhow::Result<()> {
        let inserted = self.orders.insert(self.day.orders_between(from, to)).await?;
        shop::append_log(&self.dir, &self.day.access_log(from, to))?;
        println!("     {inserted} orders written to {}", self.orders.describe());
        print_outcome(&self.run(Job::BatchExtract, JobOptions::default()).await?);
        print_outcome(&self.run(Job::BatchLoad, JobOptions::default()).await?);
        Ok(())
    }

    /// One job on the demo's stack, recorded in its history as the CLI's (the console
    /// lists the demo's runs).
    async fn run(&self, job: Job, options: JobOptions) -> anyhow::Result<JobOutcome> {
        let jobs = self.stack.jobs().context("the demo stack has no jobs")?;
        Ok(jobs.run(job, &options, Trigger::Cli).await?)
    }

    async fn report(&self) -> anyhow::Result<Report> {
        let env = self.batch()?;
        let def = env.pipeline.report(REPORT).context("the demo pipeline declares sales_by_region")?;
        let query = ReportQuery {
            interval: Interval::Hour,
            from: self.day.start,
            to: self.day.start + Span::days(1),
            by: Some("region".to_owned()),
        };
        Ok(run_report(def, &query, &env.warehouse, self.stack.index()).await?)
    }

    async fn pause(&self) {
        if self.args.pause_seconds > 0.0 {
            println!("     (dashboard: {}; next step in {} s)", self.dashboard_url(), self.args.pause_seconds);
            tokio::time::sleep(Duration::from_secs_f64(self.args.pause_seconds)).await;
        }
    }

    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stack.shutdown().await
    }
}

/// `tidemark demo`.
pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let demo = Demo::start(args.clone()).await?;
    println!("tidemark demo: dashboard at {}", demo.dashboard_url());
    println!("console (jobs, runs, dead letters) at {}", demo.console_url());
    println!("orders go to {}; data under {}", demo.orders.describe(), demo.dir.display());
    let outcome = demo.play().await?;
    println!(
        "\nDone: {} beacons accepted; batch now answers up to {}.",
        outcome.streamed.accepted,
        outcome.reports.last().and_then(|r| r.tidemark.at).map_or("-".to_owned(), |t| t.format("%H:%M").to_string())
    );
    if args.exit {
        return demo.shutdown().await;
    }
    println!(
        "The dashboard stays up at {} and the console at {} — Ctrl-C to stop.",
        demo.dashboard_url(),
        demo.console_url()
    );
    crate::wait_for_stop_signal().await?;
    demo.shutdown().await
}
