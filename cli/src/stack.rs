//! The whole real-time side in one process: what `tidemark up` runs and what the
//! end-to-end tests start and stop.

use crate::batch::BatchEnv;
use crate::config::UpConfig;
use crate::consumers::{self, STREAM_INDEX, STREAM_STORE};
use crate::dead_letters::{self, DeadLetterState};
use crate::forget::{self, ForgetState};
use crate::health::{DiskWatch, HealthState};
use crate::http::ServeLimits;
use crate::jobs::LocalJobs;
use crate::retention::{self, LastPass, Stores};
use crate::stats::{self, StatsState};
use crate::udp::{self, UdpCounters};
use anyhow::Context;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::Ingestor;
use tidemark_core::key_registry::KeyRegistry;
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::SearchIndex;
use tidemark_local::runner::{self, ConsumerFn};
use tidemark_local::{ConsumerStats, DirObjectStore, EventLog, FjallKvStore, TantivyIndex};
use tidemark_report::admin::{AdminGuard, FixedTokens, Tokens};
use tidemark_report::jobs::JobsConsole;
use tidemark_report::write_keys::KeysConsole;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub struct Stack {
    http_addr: SocketAddr,
    admin_addr: SocketAddr,
    udp_addr: Option<SocketAddr>,
    stores: Stores,
    shared: Shared,
    batch: Option<BatchEnv>,
    jobs: Option<LocalJobs>,
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

fn open_stores(config: &UpConfig) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let log = EventLog::open(&config.data_dir.join("stream"), config.stream_shards).context("opening the event log")?;
    let kv = FjallKvStore::open(&config.data_dir.join("kv")).context("opening the key-value store")?;
    let index = TantivyIndex::open(&config.data_dir.join("index")).context("opening the search index")?;
    let interim = DirObjectStore::new(config.data_dir.join("interim"));
    Ok(Stores { log, kv, index, layout: config.kv_layout.clone(), interim })
}

/// The two consumers by name: the runner drives them, a redrive calls them again.
fn consumer_fns(stores: &Stores) -> Arc<BTreeMap<&'static str, ConsumerFn>> {
    Arc::new(BTreeMap::from([
        (STREAM_INDEX, consumers::stream_index(Arc::new(stores.index.clone()))),
        (STREAM_STORE, consumers::stream_store(Arc::new(stores.kv.clone()), stores.layout.clone())),
    ]))
}

fn spawn_consumers(
    stores: &Stores,
    consumers: &BTreeMap<&'static str, ConsumerFn>,
    config: &UpConfig,
    shared: &Shared,
    signal: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    [(STREAM_INDEX, &shared.indexer), (STREAM_STORE, &shared.storer)]
        .into_iter()
        .filter_map(|(name, stats)| {
            let consumer = Arc::clone(consumers.get(name)?);
            let (log, config, stats) = (stores.log.clone(), config.runner.clone(), Arc::clone(stats));
            Some(runner::spawn(name, log, consumer, config, stats, signal.clone()))
        })
        .collect()
}

/// The disk watch (ingest pauses at the high-water mark) and the hourly retention.
fn spawn_upkeep(
    stores: &Stores,
    config: &UpConfig,
    shared: &Shared,
    signal: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    shared.disk.check(&shared.ingestor);
    let disk = Arc::clone(&shared.disk).run(Arc::clone(&shared.ingestor), signal.clone());
    let retention = retention::run(stores.clone(), config.retention, Arc::clone(&shared.retention), signal.clone());
    vec![tokio::spawn(disk), tokio::spawn(retention)]
}

fn health(stores: &Stores, shared: &Shared) -> axum::Router {
    crate::health::router(HealthState {
        log: stores.log.clone(),
        ingestor: Arc::clone(&shared.ingestor),
        disk: Arc::clone(&shared.disk),
        indexer: Arc::clone(&shared.indexer),
        storer: Arc::clone(&shared.storer),
    })
}

/// What `/v1/reports` says when `up` runs without a pipeline file.
const NO_PIPELINE: &str = "no pipeline file, so no reports yet: check one with `tidemark pipeline check FILE`, \
     then start `tidemark up --pipeline FILE` (or set TIDEMARK_PIPELINE)";

/// Reports, stats, dead letters, the dashboard: everything a reader asks.
fn read_app(
    stores: &Stores,
    shared: &Shared,
    consumers: &Arc<BTreeMap<&'static str, ConsumerFn>>,
    batch: Option<&BatchEnv>,
    jobs: Option<&LocalJobs>,
    keys: KeysConsole,
) -> axum::Router {
    let reports = batch.map(|env| tidemark_report::BatchReports {
        reports: Arc::new(env.pipeline.reports.clone()),
        analyses: Arc::new(env.pipeline.analyses.clone()),
        warehouse: Arc::new(env.warehouse.clone()),
        interim: Some(Arc::clone(&env.store) as Arc<dyn tidemark_core::ports::ObjectStore>),
    });
    let report_state = tidemark_report::ReportState {
        index: Arc::new(stores.index.clone()),
        clock: Arc::new(SystemClock),
        batch: reports,
        no_pipeline: Arc::from(NO_PIPELINE),
        jobs: jobs.map(|jobs| JobsConsole {
            history: jobs.history().clone(),
            launcher: Arc::new(jobs.clone()),
            schedule: Arc::new(jobs.pipeline().schedule.clone()),
        }),
        keys: Some(keys),
    };
    tidemark_report::router(report_state)
        .merge(stats::router(StatsState {
            log: stores.log.clone(),
            index: stores.index.clone(),
            ingest: shared.ingestor.counters(),
            udp: Arc::clone(&shared.udp),
            indexer: Arc::clone(&shared.indexer),
            storer: Arc::clone(&shared.storer),
            retention: Arc::clone(&shared.retention),
        }))
        .merge(dead_letters::router(DeadLetterState { log: stores.log.clone(), consumers: Arc::clone(consumers) }))
        .merge(forget::router(ForgetState { stores: stores.clone(), batch: batch.cloned() }))
        .merge(batch.map(|env| crate::watermark::router::<()>(env.clone())).unwrap_or_default())
        .merge(batch.map(|env| crate::pipeline::router::<()>(env.clone())).unwrap_or_default())
        .merge(health(stores, shared))
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

/// The ingest listener (beacon routes, health) and the read listener (reports, stats,
/// dead letters, forget, the dashboard, behind the read guard); their bound addresses.
async fn spawn_listeners(
    stores: &Stores,
    config: &UpConfig,
    shared: &Shared,
    read: axum::Router,
    signal: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<(SocketAddr, SocketAddr)> {
    let ingest_app = tidemark_beacon_ingest::router(Arc::clone(&shared.ingestor)).merge(health(stores, shared));
    let read_app = read_guard(config).protect(read);
    let (http_addr, ingest_task) =
        listen(config.http_addr, "TIDEMARK_HTTP_ADDR", ingest_app, config.serve, signal.clone()).await?;
    let (admin_addr, read_task) =
        listen(config.admin_addr, "TIDEMARK_ADMIN_ADDR", read_app, config.serve, signal.clone()).await?;
    tasks.extend([ingest_task, read_task]);
    Ok((http_addr, admin_addr))
}

/// UDP ingest on `addr`; its bound address.
fn spawn_udp(
    addr: SocketAddr,
    shared: &Shared,
    signal: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<SocketAddr> {
    let socket = udp::bind(addr, &shared.udp).with_context(|| format!("binding UDP on {addr} (TIDEMARK_UDP_ADDR)"))?;
    let bound = socket.local_addr()?;
    let (ingestor, counters) = (Arc::clone(&shared.ingestor), Arc::clone(&shared.udp));
    tasks.push(tokio::spawn(udp::serve(socket, ingestor, counters, signal.clone())));
    Ok(bound)
}

/// The jobs on this process's stores, recorded in the job history; runs a stopped
/// process left are marked interrupted first.
async fn local_jobs(env: &BatchEnv, stores: &Stores) -> LocalJobs {
    let (kv, index) = (Arc::new(stores.kv.clone()), Arc::new(stores.index.clone()));
    let jobs = LocalJobs::new(env.clone(), kv, stores.layout.clone(), Some(index as Arc<dyn SearchIndex>));
    jobs.recover().await;
    jobs
}

/// The write keys of the console, over the key-value store; ingest starts with the
/// configured keys and those made in an earlier run.
async fn write_keys(stores: &Stores, config: &UpConfig, shared: &Shared) -> anyhow::Result<KeysConsole> {
    let registry = KeyRegistry::new(Arc::new(stores.kv.clone()), Arc::new(SystemClock));
    let keys = registry.effective(&config.write_keys).await.context("reading the write keys made in the console")?;
    shared.ingestor.replace_write_keys(keys);
    Ok(KeysConsole {
        registry,
        configured: Arc::new(config.write_keys.clone()),
        ingestor: Some(Arc::clone(&shared.ingestor)),
    })
}

/// The counters and state the tasks share with the routes.
struct Shared {
    ingestor: Arc<Ingestor>,
    indexer: Arc<ConsumerStats>,
    storer: Arc<ConsumerStats>,
    udp: Arc<UdpCounters>,
    disk: Arc<DiskWatch>,
    retention: LastPass,
}

impl Shared {
    fn new(stores: &Stores, config: &UpConfig) -> Self {
        let log = Arc::new(stores.log.clone());
        let clock = Arc::new(SystemClock);
        Shared {
            ingestor: Arc::new(Ingestor::new(log, config.write_keys.clone(), config.limits.clone(), clock)),
            indexer: Arc::default(),
            storer: Arc::default(),
            udp: Arc::default(),
            disk: Arc::new(DiskWatch::new(config.data_dir.clone(), config.disk_min_free)),
            retention: LastPass::default(),
        }
    }
}

impl Stack {
    /// Opens the stores under `config.data_dir`, starts the consumers, and binds the
    /// sockets (port 0 picks a free one; see `http_addr` and `udp_addr`).
    pub async fn start(config: UpConfig) -> anyhow::Result<Stack> {
        let stores = open_stores(&config)?;
        let writer_done = stores.log.take_writer_done();
        let shared = Shared::new(&stores, &config);
        let (shutdown, signal) = watch::channel(false);
        let consumers = consumer_fns(&stores);
        let mut tasks = Vec::new();
        if config.run_consumers {
            tasks.extend(spawn_consumers(&stores, &consumers, &config, &shared, &signal));
        }
        tasks.extend(spawn_upkeep(&stores, &config, &shared, &signal));
        let batch = config
            .pipeline
            .as_deref()
            .map(|path| {
                BatchEnv::open(path, &config.data_dir).map(|env| {
                    env.with_raw_retention(config.retention.raw)
                        .with_notifier(crate::config::notifier(config.notify_webhook.as_ref()))
                })
            })
            .transpose()?;
        let jobs = match &batch {
            Some(env) => Some(local_jobs(env, &stores).await),
            None => None,
        };
        let keys = write_keys(&stores, &config, &shared).await?;
        let read = read_app(&stores, &shared, &consumers, batch.as_ref(), jobs.as_ref(), keys)
            .merge(crate::settings::router::<()>(Arc::new(config.clone())));
        let (http_addr, admin_addr) = spawn_listeners(&stores, &config, &shared, read, &signal, &mut tasks).await?;
        let udp_addr = match config.udp_addr {
            Some(addr) => Some(spawn_udp(addr, &shared, &signal, &mut tasks)?),
            None => None,
        };
        if let Some(jobs) = &jobs {
            tasks.push(tokio::spawn(crate::schedule::run(jobs.clone(), signal.clone())));
        }
        tracing::info!(%http_addr, %admin_addr, udp = ?udp_addr, data_dir = %config.data_dir.display(), "tidemark is up");
        Ok(Stack { http_addr, admin_addr, udp_addr, stores, shared, batch, jobs, shutdown, tasks, writer_done })
    }

    /// Ingest: the beacon routes.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The read side: reports, stats, dashboard.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The UDP listener, when one was asked for.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The event log the ingest routes append to and the consumers read.
    pub fn log(&self) -> &EventLog {
        &self.stores.log
    }

    /// The key-value store stream-store writes.
    pub fn kv(&self) -> &FjallKvStore {
        &self.stores.kv
    }

    /// The search index stream-index writes.
    pub fn index(&self) -> &TantivyIndex {
        &self.stores.index
    }

    pub fn layout(&self) -> &KvLayout {
        &self.stores.layout
    }

    /// The batch side, when a pipeline file is configured.
    /// The jobs on this stack's stores, when it has a pipeline file.
    pub fn jobs(&self) -> Option<&LocalJobs> {
        self.jobs.as_ref()
    }

    pub fn batch(&self) -> Option<&BatchEnv> {
        self.batch.as_ref()
    }

    pub fn ingestor(&self) -> &Ingestor {
        &self.shared.ingestor
    }

    pub fn udp_counters(&self) -> &UdpCounters {
        &self.shared.udp
    }

    /// What stream-index and stream-store have done, in that order.
    pub fn consumer_stats(&self) -> [&ConsumerStats; 2] {
        [&self.shared.indexer, &self.shared.storer]
    }

    /// True once both consumers have checkpointed every record in every shard.
    pub fn caught_up(&self) -> Result<bool, tidemark_local::LogError> {
        for shard in 0..self.stores.log.shard_count() {
            for consumer in [STREAM_INDEX, STREAM_STORE] {
                if self.stores.log.lag(consumer, shard)? > 0 {
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
                anyhow::bail!(
                    "consumers did not catch up within {timeout:?}: {:?}",
                    stats::shard_lag(&self.stores.log)?
                );
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
