//! `tidemark-bench handler`: what one pixel costs the server in CPU, apart from sockets,
//! the load generator and the fsync. Requests go straight into the product's router,
//! one at a time, against the real event log (put it on a RAM-backed directory with
//! `--dir /dev/shm/...` to take the disk out), and the bare handler goes through the
//! same router path. Under `valgrind --tool=callgrind` the counts are instructions,
//! repeatable whatever else the machine does, and `callgrind_annotate` breaks the
//! pixel down by function (see BENCHMARKS.md).

use axum::body::Body;
use http_body_util::BodyExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::{Ingestor, WriteKeys};
use tidemark_local::EventLog;
use tower::ServiceExt;

pub fn run(requests: u64, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(measure(requests, dir))
}

async fn measure(requests: u64, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let temporary = match &dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    println!("data in {}", temporary.path().display());
    let keys = WriteKeys::parse(&format!("{}=bench", crate::WRITE_KEY)).map_err(anyhow::Error::msg)?;
    // The same shard count and limits as the stack `tidemark-bench realtime` starts.
    let config = tidemark::UpConfig::for_tests(temporary.path().to_path_buf(), keys);
    let log = EventLog::open(temporary.path(), config.stream_shards)?;
    let ingestor = Ingestor::new(Arc::new(log), config.write_keys, config.limits, Arc::new(SystemClock));
    let pixel = tidemark_beacon_ingest::router(Arc::new(ingestor));
    let bare = crate::load::bare_router();

    for (name, router, path) in [("pixel", pixel, "/v1/p.gif"), ("bare", bare, "/p.gif")] {
        let started = Instant::now();
        for number in 0..requests {
            let uri = format!(
                "{path}?wk={}&event_type=page_view&event_id=h-{number}&anonymous_id=a{}&region=EU&url=%2Fhome",
                crate::WRITE_KEY,
                number % 64
            );
            let request = axum::http::Request::get(uri).header("host", "127.0.0.1").body(Body::empty())?;
            let response = router.clone().oneshot(request).await?;
            anyhow::ensure!(response.status().is_success(), "{name} answered {}", response.status());
            response.into_body().collect().await?;
        }
        let elapsed = started.elapsed();
        println!(
            "{name:<5} {requests} requests one at a time: {:.2} µs each (wall; the pixel's includes waiting for the log)",
            elapsed.as_secs_f64() * 1e6 / requests as f64
        );
    }
    Ok(())
}
