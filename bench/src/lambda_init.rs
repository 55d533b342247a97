//! `tidemark-bench lambda-init --build-dir .aws-sam/build`: each function's cold start,
//! the real `bootstrap` that `sam build` produced, started the way Lambda starts it.
//!
//! The bench serves Lambda's runtime API itself (two routes: the first
//! `GET .../invocation/next` marks the end of init, `POST .../init/error` a failed one),
//! and points the function's AWS clients at `moto_server` and its search client at
//! `osmem-server` on loopback, with the settings the template gives it. Init time is
//! from spawning the process to its first poll for an invocation: what Lambda reports
//! as `Init Duration`, less the sandbox's own start and with loopback instead of the
//! region's endpoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{provision, S3ObjectStore};
use tidemark_core::ports::ObjectStore;
use tokio::sync::mpsc;

const PIPELINE_KEY: &str = "pipeline/tidemark.toml";

#[derive(Debug, clap::Args)]
pub struct LambdaInitArgs {
    /// Where `sam build` put the functions (one directory each, with `bootstrap`).
    #[arg(long, default_value = ".aws-sam/build")]
    build_dir: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// What the runtime API saw: the first poll, or an init error with its body.
enum InitEnd {
    Polled,
    Failed(String),
}

pub fn run(args: &LambdaInitArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(measure(args))
}

async fn measure(args: &LambdaInitArgs) -> anyhow::Result<()> {
    let (moto, osmem) = (Emulator::moto(), Emulator::osmem());
    let clients = moto.clients().await;
    // Jobs read the pipeline file at cold start; the report function, given a bucket
    // without one, starts as a fresh stack's does (no warehouse call at init).
    provision::bucket(&clients, "bench-interim").await?;
    provision::bucket(&clients, "bench-empty").await?;
    let pipeline = include_str!("../../examples/shop/tidemark.toml");
    S3ObjectStore::new(clients.s3.clone(), "bench-interim", "").put(PIPELINE_KEY, pipeline.as_bytes().to_vec()).await?;

    let mut functions: Vec<PathBuf> = std::fs::read_dir(&args.build_dir)
        .with_context(|| format!("reading {} (run sam build first)", args.build_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|dir| dir.join("bootstrap").is_file())
        .collect();
    functions.sort();
    println!("{:<26} {:>9} {:>9} {:>9} {:>10}", "function", "p50 ms", "max ms", "size MB", "result");
    for dir in functions {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bucket = if name == "ReportFunction" { "bench-empty" } else { "bench-interim" };
        let env = settings(&moto.url(), &osmem.url(), bucket);
        let mut times = Vec::new();
        let mut failure = None;
        for _ in 0..args.rounds {
            match cold_start(&dir.join("bootstrap"), &env).await? {
                (elapsed, InitEnd::Polled) => times.push(elapsed),
                (_, InitEnd::Failed(body)) => {
                    failure = Some(body);
                    break;
                }
            }
        }
        times.sort();
        let size = std::fs::metadata(dir.join("bootstrap"))?.len() as f64 / 1_048_576.0;
        let ms = |d: Option<&Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0));
        let result = match &failure {
            Some(body) => format!("init error: {}", body.chars().take(120).collect::<String>()),
            None => "ok".to_owned(),
        };
        println!("{name:<26} {:>9} {:>9} {size:>9.1} {result:>10}", ms(times.get(times.len() / 2)), ms(times.last()));
    }
    Ok(())
}

/// The settings the template gives the functions, pointed at the emulators.
fn settings(moto: &str, osmem: &str, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("TIDEMARK_AWS_ENDPOINT", moto.into()),
        ("TIDEMARK_SEARCH_URL", osmem.into()),
        ("TIDEMARK_SEARCH_BACKEND", "domain".into()),
        ("TIDEMARK_STREAM_NAME", "bench-events".into()),
        ("TIDEMARK_KV_TABLE", "bench-events".into()),
        ("TIDEMARK_BUCKET", bucket.into()),
        ("TIDEMARK_PIPELINE_KEY", PIPELINE_KEY.into()),
        ("TIDEMARK_WRITE_KEYS", "bench-write-key=web".into()),
        ("TIDEMARK_REDSHIFT_WORKGROUP", "bench".into()),
        ("TIDEMARK_REDSHIFT_COPY_ROLE", "arn:aws:iam::123456789012:role/bench-copy".into()),
        ("TIDEMARK_ADMIN_TOKENS_SECRET", "bench-admin-tokens".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// Starts `bootstrap` against a fresh runtime API; returns when it first polls for an
/// invocation or reports an init error (a minute at most).
async fn cold_start(bootstrap: &Path, env: &[(&'static str, String)]) -> anyhow::Result<(Duration, InitEnd)> {
    let (tx, mut rx) = mpsc::channel::<InitEnd>(1);
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(Arc::new(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, api).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bootstrap)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    let end = tokio::select! {
        end = rx.recv() => end.unwrap_or(InitEnd::Failed("runtime API closed".into())),
        status = child.wait() => InitEnd::Failed(format!("exited before polling: {status:?}")),
        _ = tokio::time::sleep(Duration::from_secs(60)) => InitEnd::Failed("no poll within 60 s".into()),
    };
    let elapsed = started.elapsed();
    child.kill().await.ok();
    server.abort();
    Ok((elapsed, end))
}

async fn next(State(tx): State<Arc<mpsc::Sender<InitEnd>>>) -> &'static str {
    tx.try_send(InitEnd::Polled).ok();
    // No invocation comes: the function waits here until it is killed.
    std::future::pending::<()>().await;
    ""
}

async fn init_error(State(tx): State<Arc<mpsc::Sender<InitEnd>>>, body: String) -> &'static str {
    tx.try_send(InitEnd::Failed(body)).ok();
    "{}"
}
