//! The HTTP server of `tidemark up`: hyper's connection builder serving the axum app.
//!
//! Written out instead of `axum::serve` for one setting that axum does not expose:
//! HTTP/1 half-close. Without it hyper, while a handler is still waiting (a pixel
//! waits for its group's fsync), reads the connection once more to notice a client
//! that hangs up, and because the waiting request still holds its slice of the read
//! buffer, that read also makes hyper allocate a fresh buffer: one extra syscall and
//! one allocation per durable request. With half-close a client that leaves is noticed
//! when its answer is written, which for a request whose event is already on its way
//! into the log changes nothing. Shutdown works as in `axum::serve`: stop accepting,
//! let each connection finish the request in flight, wait for all of them.
//!
//! A slow or greedy client cannot hold the server: a connection must deliver each
//! request's headers within [`ServeLimits::header_timeout`] (an idle keep-alive
//! connection is closed after it too), and past [`ServeLimits::max_connections`] open
//! connections a new one is answered `503` with `Retry-After` and closed at once.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// What one listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Open connections at once; more are refused with `503`.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and the longest a keep-alive
    /// connection stays open idle.
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self { max_connections: 4_096, header_timeout: Duration::from_secs(10) }
    }
}

/// The answer to a connection over the limit, written before closing it.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 57\r\n\r\n\
{\"error\":\"too many open connections; retry in a second\"}\n";

/// Serves `app` on `listener` until `stopped` completes, then drains open connections.
pub async fn serve(listener: TcpListener, app: Router, limits: ServeLimits, stopped: impl Future<Output = ()>) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().half_close(true).timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection task holds a receiver; the sender's `closed()` fires when all are gone.
    let (closing, closing_signal) = watch::channel(false);
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let builder = builder.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut closing_signal = closing_signal.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let mut draining = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::trace!(%error, "http connection ended with an error");
                        }
                        break;
                    }
                    changed = closing_signal.changed(), if !draining => {
                        // Finish the request in flight, then close. (An error means the
                        // server is gone, which is a reason to close as well.)
                        if changed.is_err() {
                            tracing::trace!("http server stopped without a shutdown signal");
                        }
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(closing_signal);
        });
    }
    drop(listener);
    drop(closing_signal);
    if closing.send(true).is_err() {
        tracing::trace!("no open http connections at shutdown");
    }
    closing.closed().await;
}

/// Tells a client over the connection limit to come back, without reading its request.
async fn refuse(mut stream: TcpStream) {
    let written = tokio::time::timeout(Duration::from_secs(1), stream.write_all(OVER_CAPACITY)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::trace!("over-capacity answer not delivered");
    }
    tracing::debug!("http connection refused: at the open-connection limit");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    /// A server whose one route answers after `delay`, and the means to stop it.
    async fn start(delay: Duration) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        start_with(delay, ServeLimits::default()).await
    }

    async fn start_with(
        delay: Duration,
        limits: ServeLimits,
    ) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let app = Router::new().route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(delay).await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, limits, async move {
            if stopped.await.is_err() {
                tracing::trace!("the test dropped the stop sender");
            }
        }));
        (addr, stop, server)
    }

    async fn send(stream: &mut TcpStream) {
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    }

    async fn read_all(stream: &mut TcpStream) -> String {
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn a_client_that_half_closes_still_gets_its_answer() {
        let (addr, _stop, _server) = start(Duration::from_millis(100)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        send(&mut stream).await;
        stream.shutdown().await.unwrap();
        let answer = read_all(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let limits = ServeLimits { header_timeout: Duration::from_millis(300), ..ServeLimits::default() };
        let (addr, _stop, _server) = start_with(Duration::ZERO, limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: te").await.unwrap();
        // Meanwhile a well-behaved client is served.
        let mut quick = TcpStream::connect(addr).await.unwrap();
        quick.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.unwrap();
        assert!(read_all(&mut quick).await.ends_with("done"));
        let started = std::time::Instant::now();
        let rest = tokio::time::timeout(Duration::from_secs(5), read_all(&mut slow)).await.expect("closed in time");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(!rest.contains("done"), "{rest}");
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_told_to_retry() {
        let limits = ServeLimits { max_connections: 2, ..ServeLimits::default() };
        let (addr, _stop, _server) = start_with(Duration::from_millis(400), limits).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            send(&mut stream).await;
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let answer = read_all(&mut extra).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("retry-after: 1") && answer.contains("too many open connections"), "{answer}");
        // The held connections are served, and their slots come back.
        drop(held);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut again = TcpStream::connect(addr).await.unwrap();
        again.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.unwrap();
        assert!(read_all(&mut again).await.ends_with("done"));
    }

    #[tokio::test]
    async fn shutdown_finishes_the_request_in_flight_then_stops() {
        let (addr, stop, server) = start(Duration::from_millis(300)).await;
        let mut busy = TcpStream::connect(addr).await.unwrap();
        send(&mut busy).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).unwrap();
        let answer = read_all(&mut busy).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("done"), "{answer}");
        // The idle keep-alive connection is closed, and the server returns.
        let mut rest = Vec::new();
        match idle.read_to_end(&mut rest).await {
            Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        }
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    }
}
