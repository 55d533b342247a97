//! A closed-loop HTTP/1.1 load generator on hyper: N keep-alive connections, each
//! sending its next request as soon as the last one is answered, with latencies in an
//! HDR histogram. It runs on its own runtime so that it competes with the server
//! only for the cores, as an outside client would.

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

#[derive(Clone, Copy)]
pub enum Target {
    /// `round` keeps event ids distinct between runs against the same stack.
    Batch {
        addr: SocketAddr,
        write_key: &'static str,
        round: u32,
    },
    Pixel {
        addr: SocketAddr,
        write_key: &'static str,
        round: u32,
    },
    Bare {
        addr: SocketAddr,
    },
}

impl Target {
    fn addr(self) -> SocketAddr {
        match self {
            Target::Batch { addr, .. } | Target::Pixel { addr, .. } | Target::Bare { addr } => addr,
        }
    }

    fn events_per_request(self) -> u64 {
        match self {
            Target::Batch { .. } => 100,
            _ => 1,
        }
    }

    fn request(self, connection: usize, number: u64) -> anyhow::Result<Request<Full<Bytes>>> {
        let host = self.addr().to_string();
        Ok(match self {
            Target::Batch { write_key, round, .. } => {
                let mut body = String::with_capacity(100 * 200);
                body.push('[');
                for n in 0..100 {
                    if n > 0 {
                        body.push(',');
                    }
                    let kind = if n % 5 == 0 {
                        format!(r#""event_type":"purchase","order_id":"o{round}-{connection}-{number}-{n}","amount":{}.{:02},"currency":"EUR""#, n * 3, n)
                    } else {
                        r#""event_type":"page_view""#.to_owned()
                    };
                    body.push_str(&format!(
                        r#"{{"event_id":"b{round}-{connection}-{number}-{n}",{kind},"anonymous_id":"anon-{}","region":"{}","properties":{{"url":"/p/{n}"}}}}"#,
                        n % 17,
                        ["EU", "US", "APAC"][n % 3]
                    ));
                }
                body.push(']');
                Request::post("/v1/events")
                    .header("host", host)
                    .header("content-type", "application/json")
                    .header("x-tidemark-write-key", write_key)
                    .body(Full::new(Bytes::from(body)))?
            }
            Target::Pixel { write_key, round, .. } => Request::get(format!(
                "/v1/p.gif?wk={write_key}&event_type=page_view&event_id=px{round}-{connection}-{number}&anonymous_id=a{connection}&region=EU&url=%2Fhome"
            ))
            .header("host", host)
            .body(Full::new(Bytes::new()))?,
            Target::Bare { .. } => Request::get(format!("/p.gif?n={number}")).header("host", host).body(Full::new(Bytes::new()))?,
        })
    }
}

pub struct LoadResult {
    pub elapsed: Duration,
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    histogram: Histogram<u64>,
}

impl LoadResult {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    /// Adds another run of the same target (a later round).
    pub fn merge(&mut self, other: LoadResult) -> anyhow::Result<()> {
        self.elapsed += other.elapsed;
        self.requests += other.requests;
        self.events += other.events;
        self.errors += other.errors;
        self.histogram.add(other.histogram)?;
        Ok(())
    }

    /// Latency percentile in milliseconds.
    pub fn p(&self, percentile: f64) -> f64 {
        self.histogram.value_at_percentile(percentile) as f64 / 1000.0
    }
}

pub fn run(target: Target, connections: usize, duration: Duration) -> anyhow::Result<LoadResult> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bench-load").enable_all().build()?;
    runtime.block_on(async move {
        let progress = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = Vec::with_capacity(connections);
        for connection in 0..connections {
            let progress = Arc::clone(&progress);
            tasks.push(tokio::spawn(async move { connection_loop(target, connection, deadline, progress).await }));
        }
        let reporter = tokio::spawn({
            let progress = Arc::clone(&progress);
            async move {
                let mut last = 0;
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let now = progress.load(Ordering::Relaxed);
                    eprintln!("  {:.0} requests/s ({} so far)", (now - last) as f64 / 2.0, now);
                    last = now;
                }
            }
        });
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let (mut requests, mut errors) = (0, 0);
        for task in tasks {
            let (task_histogram, task_requests, task_errors) = task.await??;
            histogram.add(task_histogram)?;
            requests += task_requests;
            errors += task_errors;
        }
        reporter.abort();
        let elapsed = started.elapsed();
        Ok(LoadResult { elapsed, requests, events: requests * target.events_per_request(), errors, histogram })
    })
}

async fn connection_loop(
    target: Target,
    connection: usize,
    deadline: Instant,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    let stream = TcpStream::connect(target.addr()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = driver.await {
            eprintln!("connection closed: {error}");
        }
    });
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut requests, mut errors) = (0u64, 0u64);
    let mut number = 0u64;
    while Instant::now() < deadline {
        let request = target.request(connection, number)?;
        number += 1;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        histogram.record(sent.elapsed().as_micros().max(1) as u64)?;
        if ok {
            requests += 1;
            progress.fetch_add(1, Ordering::Relaxed);
        } else {
            errors += 1;
        }
    }
    Ok((histogram, requests, errors))
}

/// The baseline: an axum handler that returns the same GIF and does nothing else.
pub fn bare_router() -> axum::Router {
    use axum::http::header;
    axum::Router::new().route(
        "/p.gif",
        axum::routing::get(|| async {
            (
                [
                    (header::CONTENT_TYPE, "image/gif"),
                    (header::CACHE_CONTROL, "no-store, no-cache, must-revalidate, max-age=0"),
                ],
                tidemark_beacon_ingest::PIXEL_GIF,
            )
        }),
    )
}

/// The baseline on the same HTTP server as the product.
pub async fn bare_gif_server() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // Served exactly as `tidemark up` serves the pixel, so that the two differ only in
    // what the handler does.
    tokio::spawn(tidemark::http::serve(
        listener,
        bare_router(),
        tidemark::http::ServeLimits::default(),
        std::future::pending(),
    ));
    Ok(addr)
}
