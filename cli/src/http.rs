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

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `stopped` completes, then drains open connections.
pub async fn serve(listener: TcpListener, app: Router, stopped: impl Future<Output = ()>) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().half_close(true);
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
        let builder = builder.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut closing_signal = closing_signal.clone();
        tokio::spawn(async move {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    /// A server whose one route answers after `delay`, and the means to stop it.
    async fn start(delay: Duration) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
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
        let server = tokio::spawn(serve(listener, app, async move {
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
