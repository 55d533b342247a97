//! The servers the peers bench measures, each in its own process so that its CPU time
//! and memory are its own: nginx with a config of the bench's, and `tidemark up`.
//! CPU time and peak memory are read from `/proc` (utime + stime of the process and
//! its children; `VmHWM`): a few numbers from a stable kernel interface, no crate
//! reads a foreign process's counters more simply.

use anyhow::Context;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The kernel's clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`): 100 on every
/// Linux architecture this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// A free loopback port: bound, read, released.
fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Waits until `addr` accepts connections, or fails after `timeout` saying what.
fn wait_for_listener(addr: SocketAddr, what: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "{what} did not listen on {addr} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// utime + stime of `pid`, in seconds; `None` once it is gone.
fn own_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces: fields count from the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SECOND)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds of `pid` and its live children (nginx's workers).
pub fn cpu_seconds(pid: u32) -> f64 {
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| parent_of(*child) == Some(pid));
    own_cpu_seconds(pid).unwrap_or(0.0) + children.filter_map(own_cpu_seconds).sum::<f64>()
}

/// Peak resident memory of `pid` in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A child process stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Err(error) = self.0.kill() {
            eprintln!("stopping process {}: {error}", self.0.id());
        }
        if let Err(error) = self.0.wait() {
            eprintln!("waiting for process {}: {error}", self.0.id());
        }
    }
}

/// nginx serving `GET /p.gif` with `empty_gif` and a buffered access log: the classic
/// beacon collector. Nothing is durable when it answers.
pub struct Nginx {
    process: Running,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start(binary: &str) -> anyhow::Result<Nginx> {
        let dir = tempfile::tempdir()?;
        let addr = free_addr()?;
        let root = dir.path().display();
        // keepalive_requests: nginx closes a connection after 1,000 requests by
        // default; the load generator keeps its connections for the whole round, as
        // it does against Tidemark, which closes none.
        let config = format!(
            "daemon off;\nmaster_process on;\nworker_processes auto;\npid {root}/nginx.pid;\n\
             error_log {root}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log {root}/access.log combined buffer=64k flush=1s;\n\
             client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n\
             uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n  keepalive_requests 100000000;\n\
             server {{ listen {addr}; location = /p.gif {{ empty_gif; }} }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config)?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {binary} (apt-get install nginx)"))?;
        let process = Running(child);
        wait_for_listener(addr, "nginx", Duration::from_secs(10))?;
        Ok(Nginx { process, addr, _dir: dir })
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// `tidemark up` on a fresh data directory, consumers running: the real deployment.
pub struct Tidemark {
    process: Running,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Tidemark {
    /// Starts `binary up` with its data under `parent` (a disk or a RAM disk).
    pub fn start(binary: &Path, parent: &Path) -> anyhow::Result<Tidemark> {
        let dir = tempfile::tempdir_in(parent).with_context(|| format!("a data directory in {}", parent.display()))?;
        let (http, admin) = (free_addr()?, free_addr()?);
        let child = Command::new(binary)
            .arg("up")
            .args(["--data-dir", &dir.path().display().to_string()])
            .args(["--http-addr", &http.to_string(), "--admin-addr", &admin.to_string(), "--udp-addr", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let process = Running(child);
        wait_for_listener(http, "tidemark up", Duration::from_secs(30))?;
        wait_for_listener(admin, "tidemark up (admin)", Duration::from_secs(30))?;
        Ok(Tidemark { process, http, admin, _dir: dir })
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Records the two consumers have yet to process, over every shard.
    pub async fn lag(&self, http: &reqwest::Client) -> anyhow::Result<u64> {
        let stats: serde_json::Value =
            http.get(format!("http://{}/v1/stats", self.admin)).send().await?.error_for_status()?.json().await?;
        let shards = stats["stream"]["shards"].as_array().context("stats without stream.shards")?;
        Ok(shards
            .iter()
            .filter_map(|shard| shard["consumers"].as_object())
            .flat_map(|consumers| consumers.values())
            .filter_map(|consumer| consumer["lag"].as_u64())
            .sum())
    }

    /// Waits until both consumers have caught up; how long that took.
    pub async fn drain(&self, http: &reqwest::Client, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        while self.lag(http).await? > 0 {
            anyhow::ensure!(started.elapsed() < timeout, "the consumers did not catch up within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(started.elapsed())
    }
}

/// The `tidemark` binary built beside this bench (`target/<profile>/tidemark`).
pub fn sibling_tidemark() -> anyhow::Result<PathBuf> {
    let bench = std::env::current_exe()?;
    let path = bench.with_file_name("tidemark");
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build it first (cargo build --release -p tidemark) or pass --tidemark",
        path.display()
    );
    Ok(path)
}
