//! The whole real-time side in one process: what `tidemark up` runs and what the
//! end-to-end tests start and stop.

use crate::batch::BatchEnv;
use crate::config::UpConfig;
use crate::consumers::{self, STREAM_INDEX, STREAM_STORE};
use crate::http::ServeLimits;
use crate::stats::{self, StatsState};
use crate::udp::{self, UdpCounters};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::Ingestor;
use tidemark_core::kv_key::KvLayout;
use tidemark_local::{runner, ConsumerStats, EventLog, FjallKvStore, TantivyIndex};
use tidemark_report::admin::{AdminGuard, FixedTokens, Tokens};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub struct Stack {
    /// Ingest: the beacon routes.
    pub http_addr: SocketAddr,
    /// The read side: reports, stats, dashboard.
    pub admin_addr: SocketAddr,
    pub udp_addr: Option<SocketAddr>,
    pub log: EventLog,
    pub kv: FjallKvStore,
    pub index: TantivyIndex,
    pub layout: KvLayout,
    pub ingestor: Arc<Ingestor>,
    pub udp_counters: Arc<UdpCounters>,
    pub indexer_stats: Arc<ConsumerStats>,
    pub storer_stats: Arc<ConsumerStats>,
    /// The batch side, when a pipeline file is configured.
    pub batch: Option<BatchEnv>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    writer_done: Option<oneshot::Receiver<()>>,
}

/// The read side's guard: loopback host names unless the operator allows others, and
/// the admin tokens when configured.
fn read_guard(config: &UpConfig) -> AdminGuard {
    let tokens = (!config.admin_tokens.is_empty())
        .then(|| Arc::new(FixedTokens::new(config.admin_tokens.iter().map(String::as_str))) as Tokens);
    let mut hosts = AdminGuard::loopback_hosts(&config.allowed_hosts);
    if !config.admin_addr.ip().is_unspecified() {
        hosts.push(config.admin_addr.ip().to_string());
    }
    AdminGuard { tokens, hosts: Some(Arc::new(hosts)) }
}

/// Binds `addr` (the error names `variable`) and serves `app` there until shutdown.
async fn listen(
    addr: SocketAddr,
    variable: &str,
    app: axum::Router,
    limits: ServeLimits,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding HTTP on {addr} ({variable})"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let stopped = async move {
            if shutdown.changed().await.is_err() {
                tracing::debug!("shutdown sender dropped");
            }
        };
        crate::http::serve(listener, app, limits, stopped).await;
    });
    Ok((bound, task))
}

impl Stack {
    /// Opens the stores under `config.data_dir`, starts the consumers, and binds the
    /// sockets (port 0 picks a free one; see `http_addr` and `udp_addr`).
    pub async fn start(config: UpConfig) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let log =
            EventLog::open(&config.data_dir.join("stream"), config.stream_shards).context("opening the event log")?;
        let writer_done = log.take_writer_done();
        let kv = FjallKvStore::open(&config.data_dir.join("kv")).context("opening the key-value store")?;
        let index = TantivyIndex::open(&config.data_dir.join("index")).context("opening the search index")?;
        let clock = Arc::new(SystemClock);
        let ingestor = Arc::new(Ingestor::new(
            Arc::new(log.clone()),
            config.write_keys.clone(),
            config.limits.clone(),
            clock.clone(),
        ));
        let (shutdown, shutdown_signal) = watch::channel(false);
        let indexer_stats = Arc::new(ConsumerStats::default());
        let storer_stats = Arc::new(ConsumerStats::default());
        let udp_counters = Arc::new(UdpCounters::default());
        let mut tasks = Vec::new();
        if config.run_consumers {
            tasks.push(runner::spawn(
                STREAM_INDEX,
                log.clone(),
                consumers::stream_index(Arc::new(index.clone())),
                config.runner.clone(),
                Arc::clone(&indexer_stats),
                shutdown_signal.clone(),
            ));
            tasks.push(runner::spawn(
                STREAM_STORE,
                log.clone(),
                consumers::stream_store(Arc::new(kv.clone()), config.kv_layout.clone()),
                config.runner.clone(),
                Arc::clone(&storer_stats),
                shutdown_signal.clone(),
            ));
        }

        let batch = config.pipeline.as_deref().map(|path| BatchEnv::open(path, &config.data_dir)).transpose()?;
        let reports = batch.as_ref().map(|env| tidemark_report::BatchReports {
            reports: Arc::new(env.pipeline.reports.clone()),
            warehouse: Arc::new(env.warehouse.clone()),
        });
        let ingest_app = tidemark_beacon_ingest::router(Arc::clone(&ingestor)).merge(stats::health_router());
        let read_app = tidemark_report::router(tidemark_report::ReportState {
            index: Arc::new(index.clone()),
            clock,
            batch: reports,
        })
        .merge(stats::router(StatsState {
            log: log.clone(),
            index: index.clone(),
            ingest: ingestor.counters(),
            udp: Arc::clone(&udp_counters),
            indexer: Arc::clone(&indexer_stats),
            storer: Arc::clone(&storer_stats),
        }));
        let read_app = read_guard(&config).protect(read_app);
        let (http_addr, ingest_task) =
            listen(config.http_addr, "TIDEMARK_HTTP_ADDR", ingest_app, config.serve, shutdown_signal.clone()).await?;
        let (admin_addr, read_task) =
            listen(config.admin_addr, "TIDEMARK_ADMIN_ADDR", read_app, config.serve, shutdown_signal.clone()).await?;
        tasks.extend([ingest_task, read_task]);

        let udp_addr = match config.udp_addr {
            Some(addr) => {
                let socket = udp::bind(addr, &udp_counters)
                    .with_context(|| format!("binding UDP on {addr} (TIDEMARK_UDP_ADDR)"))?;
                let bound = socket.local_addr()?;
                tasks.push(tokio::spawn(udp::serve(
                    socket,
                    Arc::clone(&ingestor),
                    Arc::clone(&udp_counters),
                    shutdown_signal.clone(),
                )));
                Some(bound)
            }
            None => None,
        };
        if let Some(env) = &batch {
            let realtime = crate::schedule::Realtime {
                kv: Arc::new(kv.clone()),
                index: Arc::new(index.clone()),
                layout: config.kv_layout.clone(),
            };
            tasks.push(tokio::spawn(crate::schedule::run(env.clone(), realtime, shutdown_signal.clone())));
        }
        tracing::info!(%http_addr, %admin_addr, udp = ?udp_addr, data_dir = %config.data_dir.display(), "tidemark is up");
        Ok(Stack {
            http_addr,
            admin_addr,
            udp_addr,
            log,
            kv,
            index,
            layout: config.kv_layout,
            ingestor,
            udp_counters,
            indexer_stats,
            storer_stats,
            batch,
            shutdown,
            tasks,
            writer_done,
        })
    }

    /// True once both consumers have checkpointed every record in every shard.
    pub fn caught_up(&self) -> Result<bool, tidemark_local::LogError> {
        for shard in 0..self.log.shard_count() {
            for consumer in [STREAM_INDEX, STREAM_STORE] {
                if self.log.lag(consumer, shard)? > 0 {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Waits until the consumers have caught up with the log, or `timeout` passes.
    pub async fn wait_until_caught_up(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.caught_up()? {
            if Instant::now() > deadline {
                anyhow::bail!("consumers did not catch up within {timeout:?}: {:?}", stats::shard_lag(&self.log)?);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops the sockets and consumers, then waits for the stores to close.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if self.shutdown.send(true).is_err() {
            tracing::debug!("every task had already stopped");
        }
        for task in self.tasks.drain(..) {
            task.await.context("a stack task panicked")?;
        }
        let writer_done = self.writer_done.take();
        drop(self);
        if let Some(done) = writer_done {
            done.await.context("the event log writer stopped abnormally")?;
        }
        tracing::info!("tidemark stopped");
        Ok(())
    }
}
