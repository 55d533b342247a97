//! Local AWS stand-ins for tests: `moto_server` (Kinesis,
//! DynamoDB, S3), `osmem-server` (the OpenSearch API) and `cargo lambda watch` (the
//! Lambda runtime and invoke APIs, for running the real function binaries), each started
//! on a free loopback port and killed when dropped. Recipes: `../shared/AWS-LOCAL.md`.
//!
//! The tests that start them are `#[ignore]`d with the reason, so a machine without them
//! reports them as ignored rather than passed; run with `-- --include-ignored` (CI
//! does), a missing emulator fails the test naming what to install.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;

use crate::config::AwsClients;
use crate::retry::describe;

pub struct Emulator {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("emulator {}: kill: {e}", self.addr);
        }
        if let Err(e) = self.child.wait() {
            eprintln!("emulator {}: wait: {e}", self.addr);
        }
    }
}

/// A function binary polling a local runtime API.
pub struct RunningFunction {
    child: Child,
}

impl RunningFunction {
    /// Whether it is still running (a failed cold start exits).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for RunningFunction {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("function: kill: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("function: wait: {e}");
        }
    }
}

/// Ports this process has handed to an emulator. Binding port 0 and letting go can give
/// two tests running at once the same port: the second emulator then fails to bind, its
/// test talks to the first test's emulator, and fails once that test ends and kills it.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port that is free now and that no other emulator of this process got.
fn free_port() -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `osmem-server` ships inside its PyPI package rather than on PATH.
fn osmem_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OSMEM_SERVER") {
        return Some(PathBuf::from(p));
    }
    on_path("osmem-server").or_else(|| {
        let out = Command::new("python3")
            .args(["-c", "import os, osmem_server; print(os.path.dirname(osmem_server.__file__))"])
            .output()
            .ok()?;
        let dir = String::from_utf8(out.stdout).ok()?;
        let bin = PathBuf::from(dir.trim()).join("bin").join("osmem-server");
        bin.is_file().then_some(bin)
    })
}

fn missing(what: &str) -> ! {
    panic!("{what} is not installed: pip install 'moto[server]' osmem-server cargo-lambda");
}

impl Emulator {
    /// `moto_server` on a free port.
    pub fn moto() -> Emulator {
        let Some(bin) = on_path("moto_server") else { missing("moto_server") };
        Self::spawn(bin, |port| vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()])
    }

    /// `osmem-server` on a free port.
    pub fn osmem() -> Emulator {
        let Some(bin) = osmem_binary() else { missing("osmem-server") };
        Self::spawn(bin, |port| vec!["-addr".into(), format!("127.0.0.1:{port}"), "-no-stdin-watch".into()])
    }

    /// `cargo lambda watch --only-lambda-apis`: Lambda's runtime API, which a function
    /// binary started by [`Emulator::function`] polls, and the invoke API
    /// (`/2015-03-31/functions/_/invocations`, `/lambda-url/_/<path>`) a test calls.
    pub fn lambda_api() -> Emulator {
        let Some(bin) = on_path("cargo-lambda") else { missing("cargo-lambda") };
        Self::spawn(bin, |port| {
            ["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()]
                .map(String::from)
                .to_vec()
        })
    }

    /// Signed-request access to this emulator (the DynamoDB source's and `pipeline
    /// push`'s), with the same test credentials as [`Emulator::sdk_config`].
    pub fn aws_api(&self) -> tidemark_sources::aws_api::AwsApi {
        let url = self.url();
        tidemark_sources::aws_api::AwsApi::from_vars(|name| match name {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
            "TIDEMARK_AWS_ENDPOINT" => Some(url.clone()),
            _ => None,
        })
        .expect("emulator settings are complete")
    }

    /// The binary a function test starts: `test_build` (the test build's own), or, when
    /// `TIDEMARK_SAM_BUILD_DIR` names a `sam build` output, the `bootstrap` SAM built for
    /// `function` (its logical id), so the same test checks the deployable artefact.
    pub fn function_binary(function: &str, test_build: &Path) -> PathBuf {
        match std::env::var_os("TIDEMARK_SAM_BUILD_DIR") {
            Some(dir) => {
                let bootstrap = Path::new(&dir).join(function).join("bootstrap");
                assert!(bootstrap.is_file(), "{} is missing: run sam build first", bootstrap.display());
                bootstrap
            }
            None => test_build.to_path_buf(),
        }
    }

    /// Starts the function binary `bin` on this runtime API (from [`Emulator::lambda_api`])
    /// with `env` added, as Lambda starts `bootstrap`; killed when dropped.
    pub fn function(&self, bin: &Path, env: &[(&str, String)]) -> RunningFunction {
        let mut cmd = Command::new(bin);
        cmd.env("AWS_LAMBDA_RUNTIME_API", format!("http://{}/.rt", self.addr))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        RunningFunction { child }
    }

    fn spawn(bin: PathBuf, args: impl Fn(u16) -> Vec<String>) -> Emulator {
        let port = free_port().expect("a free loopback port");
        let mut child = Command::new(&bin)
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited ({status}) before listening on {addr}", bin.display());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{} did not listen on {addr}", bin.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        Emulator { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK configuration for this emulator: fixed test credentials, us-east-1.
    async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tidemark-emulator"))
            .load()
            .await
    }

    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_sdk(&self.sdk_config().await, true)
    }
}

/// Every record of a stream, shard by shard from the trim horizon, each with its shard
/// id: what a test reads back to check what was acknowledged.
pub async fn read_stream(
    clients: &AwsClients,
    stream: &str,
) -> Result<Vec<(String, aws_sdk_kinesis::types::Record)>, String> {
    use aws_sdk_kinesis::types::ShardIteratorType;
    let shards = clients.kinesis.list_shards().stream_name(stream).send().await.map_err(|e| describe(&e))?;
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = clients
            .kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(|e| describe(&e))?
            .shard_iterator;
        while let Some(current) = iterator {
            let page = clients.kinesis.get_records().shard_iterator(current).send().await.map_err(|e| describe(&e))?;
            if page.records().is_empty() {
                break;
            }
            out.extend(page.records().iter().map(|r| (shard.shard_id().to_string(), r.clone())));
            iterator = page.next_shard_iterator;
        }
    }
    Ok(out)
}
