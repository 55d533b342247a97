//! Local AWS stand-ins for tests: `moto_server` (Kinesis,
//! DynamoDB, S3) and `osmem-server` (the OpenSearch API), each started on a free
//! loopback port and killed when dropped. Recipes: `../shared/AWS-LOCAL.md`.
//!
//! A missing emulator skips the test that asked for it, unless
//! `TIDEMARK_REQUIRE_EMULATORS` is set (CI sets it), in which case it fails.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;

use crate::config::AwsClients;

pub const REQUIRE_VAR: &str = "TIDEMARK_REQUIRE_EMULATORS";

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

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

fn missing(what: &str) -> Option<Emulator> {
    if std::env::var_os(REQUIRE_VAR).is_some() {
        panic!("{what} is required ({REQUIRE_VAR} is set) but not installed: pip install 'moto[server]' osmem-server");
    }
    eprintln!("skipping: {what} is not installed (pip install 'moto[server]' osmem-server)");
    None
}

impl Emulator {
    /// `moto_server` on a free port, or `None` (skip) if it is not installed.
    pub fn moto() -> Option<Emulator> {
        let Some(bin) = on_path("moto_server") else { return missing("moto_server") };
        Some(Self::spawn(bin, |port| vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()]))
    }

    /// `osmem-server` on a free port, or `None` (skip) if it is not installed.
    pub fn osmem() -> Option<Emulator> {
        let Some(bin) = osmem_binary() else { return missing("osmem-server") };
        Some(Self::spawn(bin, |port| vec!["-addr".into(), format!("127.0.0.1:{port}"), "-no-stdin-watch".into()]))
    }

    fn spawn(bin: PathBuf, args: impl Fn(u16) -> Vec<String>) -> Emulator {
        let port = free_port().expect("a free loopback port");
        let child = Command::new(&bin)
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "{} did not listen on {addr}", bin.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        Emulator { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK configuration for this emulator: fixed test credentials, us-east-1.
    pub async fn sdk_config(&self) -> SdkConfig {
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
