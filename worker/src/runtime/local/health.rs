//! HTTP health checks against instances' ports. How often, after what grace
//! and how many failures count is the rollout engine's business.
//!
//! A starting instance is checked every tick until it is healthy. So that
//! each of those checks is one request, not a new connection (and, in many
//! apps, a new thread or task), the connection of a check that found the
//! instance not healthy yet is kept for that instance's next check. A healthy
//! answer closes it: a running instance holds no idle connection of ours that
//! could hold up its graceful shutdown. A kept connection belongs to one
//! instance id, never to its port, which a later instance may get.

use std::collections::HashMap;
use std::error::Error as _;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use slipway_core::domain::Health;
use tokio::net::TcpStream;

use crate::runtime::Probe;

/// A not-healthy answer's body longer than this is not read to its end; its
/// connection is closed rather than kept.
const MAX_KEPT_BODY: usize = 64 * 1024;

type Sender = SendRequest<Empty<Bytes>>;

/// Checks instances, keeping each starting instance's connection between checks.
#[derive(Debug, Default)]
pub(super) struct Checker {
    /// By instance id: the connection of its last check, idle.
    idle: Mutex<HashMap<String, Sender>>,
}

impl Checker {
    /// `GET http://127.0.0.1:<port><path>` for instance `id`, bounded by
    /// `health.timeout()`: 2xx and 3xx are healthy, anything else is not.
    pub async fn check(&self, id: &str, port: u16, health: &Health) -> Probe {
        let timeout = Duration::from_secs(u64::from(health.timeout().max(1)));
        let asked = tokio::time::timeout(timeout, self.ask(id, port, health.path())).await;
        match asked {
            Ok(Ok(status)) if is_healthy(status) => Probe::Healthy,
            Ok(Ok(status)) => Probe::Unhealthy(format!(
                "GET {} answered {}",
                health.path(),
                status.as_u16()
            )),
            Ok(Err(why)) => Probe::Unhealthy(format!("not answering on port {port}: {why}")),
            Err(_) => Probe::Unhealthy(format!(
                "not answering on port {port}: no answer within {}s",
                timeout.as_secs()
            )),
        }
    }

    /// Closes the connection kept for `id`, if any: before it is stopped.
    pub fn forget(&self, id: &str) {
        self.idle().remove(id);
    }

    /// Closes the connections of instances no longer `live`.
    pub fn keep_only(&self, live: impl Fn(&str) -> bool) {
        self.idle().retain(|id, _| live(id));
    }

    /// The status of `path` on the kept connection, or else on a new one:
    /// the app may have closed the kept one since, which says nothing of its health.
    async fn ask(&self, id: &str, port: u16, path: &str) -> Result<StatusCode, String> {
        let kept = self.idle().remove(id);
        if let Some(sender) = kept {
            if let Ok(status) = self.send(id, sender, port, path).await {
                return Ok(status);
            }
        }
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| describe_io(&e))?;
        // Requests are small and answered at once: nothing to gain from Nagle.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| describe(&e))?;
        tokio::spawn(async move {
            // How it ended is the next request's business, if there is one.
            let _ = connection.await;
        });
        self.send(id, sender, port, path).await
    }

    /// One request on `sender`; keeps the connection for `id` when the answer
    /// was not healthy and its body was read to its end.
    async fn send(
        &self,
        id: &str,
        mut sender: Sender,
        port: u16,
        path: &str,
    ) -> Result<StatusCode, String> {
        let request = Request::get(path)
            .header(header::HOST, format!("127.0.0.1:{port}"))
            .body(Empty::new())
            .map_err(|e| format!("cannot ask for {path:?}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !is_healthy(status)
            && Limited::new(response.into_body(), MAX_KEPT_BODY)
                .collect()
                .await
                .is_ok()
            && !sender.is_closed()
        {
            self.idle().insert(id.to_owned(), sender);
        }
        Ok(status)
    }

    fn idle(&self) -> MutexGuard<'_, HashMap<String, Sender>> {
        // Each holder does one insert, remove or retain: nothing half-done.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn is_healthy(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection()
}

/// A few words on why a request failed: the innermost I/O error's kind
/// where there is one, without hyper's wrapping.
fn describe(e: &hyper::Error) -> String {
    let mut source = e.source();
    let mut innermost = None;
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return describe_io(io);
        }
        innermost = Some(cause);
        source = cause.source();
    }
    innermost.map_or_else(|| e.to_string(), ToString::to_string)
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::domain::Manifest;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn health() -> Health {
        let manifest = Manifest::from_json(&serde_json::json!({
            "services": {"web": {"command": "x", "port": 3000, "health": {"path": "/health", "timeout": 2}}}
        }))
        .expect("manifest");
        let service = manifest.services().values().next().expect("a service");
        service.health().cloned().expect("health")
    }

    /// A real HTTP/1.1 server on a free port: answers the n-th request with
    /// `answers[n]` (status, whether it closes the connection after it), the
    /// last one ever after. Counts the connections it accepted.
    async fn server(answers: &'static [(u16, bool)]) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (accepted, asked) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let asked = asked.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0_u8; 1];
                    while stream.read(&mut byte).await.unwrap_or(0) == 1 {
                        head.push(byte[0]);
                        if !head.ends_with(b"\r\n\r\n") {
                            continue;
                        }
                        head.clear();
                        let n = asked.fetch_add(1, Ordering::SeqCst).min(answers.len() - 1);
                        let (status, close) = answers[n];
                        let connection = if close { "close" } else { "keep-alive" };
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: {connection}\r\n\r\nok"
                        );
                        if stream.write_all(answer.as_bytes()).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    #[tokio::test]
    async fn a_starting_instance_is_checked_on_one_connection_until_healthy() {
        let (port, accepted) =
            server(&[(503, false), (503, false), (503, false), (200, false)]).await;
        let (checker, health) = (Checker::default(), health());
        for _ in 0..3 {
            assert_eq!(
                checker.check("web-1", port, &health).await,
                Probe::Unhealthy("GET /health answered 503".to_owned())
            );
        }
        assert_eq!(checker.check("web-1", port, &health).await, Probe::Healthy);
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for four checks"
        );
        // Healthy: nothing kept, so the next check connects anew.
        assert!(checker.idle().is_empty());
        assert_eq!(checker.check("web-1", port, &health).await, Probe::Healthy);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_app_closed_is_replaced_without_a_false_failure() {
        let (port, accepted) = server(&[(503, true), (503, true), (200, false)]).await;
        let (checker, health) = (Checker::default(), health());
        let unhealthy = Probe::Unhealthy("GET /health answered 503".to_owned());
        assert_eq!(checker.check("web-1", port, &health).await, unhealthy);
        assert_eq!(checker.check("web-1", port, &health).await, unhealthy);
        assert_eq!(checker.check("web-1", port, &health).await, Probe::Healthy);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn kept_connections_belong_to_their_instance_and_go_with_it() {
        let (port, accepted) = server(&[(503, false)]).await;
        let (checker, health) = (Checker::default(), health());
        checker.check("web-1", port, &health).await;
        // Another instance on the same port never gets web-1's connection.
        checker.check("web-2", port, &health).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        checker.forget("web-1");
        checker.keep_only(|id| id != "web-2");
        assert!(checker.idle().is_empty());
        checker.check("web-1", port, &health).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("address").port()
        };
        assert_eq!(
            Checker::default().check("web-1", port, &health()).await,
            Probe::Unhealthy(format!("not answering on port {port}: connection refused"))
        );
    }
}
