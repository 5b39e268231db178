//! The far end of the fan-out bench: one HTTP/1.1 server (hyper, keep-alive)
//! on 127.0.0.1 with a path per webhook (`/hook/<n>`). It keeps only what
//! the checks need, so its memory stays small next to the delivery loops':
//! how many requests each (webhook, event) got, and over how many
//! connections.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Default)]
struct Seen {
    /// Requests per (webhook number, `webhook-id` header).
    per_delivery: Mutex<HashMap<(usize, String), u32>>,
    total: AtomicUsize,
    /// Requests to a path that is no webhook's, or without `webhook-id`.
    strays: AtomicUsize,
    connections: AtomicUsize,
}

/// What the receiver saw, checked after a run.
pub struct Tally {
    pub total: usize,
    /// Distinct (webhook, event) pairs.
    pub distinct: usize,
    /// Pairs received more than once.
    pub duplicated: usize,
    pub strays: usize,
    pub connections: usize,
}

/// A running receiver; stops when dropped.
pub struct CountingReceiver {
    addr: SocketAddr,
    seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CountingReceiver {
    pub async fn start() -> std::io::Result<CountingReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let accepting = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                accepting.connections.fetch_add(1, Ordering::Relaxed);
                let seen = accepting.clone();
                let service = service_fn(move |request| receive(seen.clone(), request));
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(CountingReceiver { addr, seen, task })
    }

    /// The URL of webhook number `n`.
    pub fn url(&self, n: usize) -> String {
        format!("http://{}/hook/{n}", self.addr)
    }

    pub fn total(&self) -> usize {
        self.seen.total.load(Ordering::Relaxed)
    }

    pub fn tally(&self) -> Tally {
        let per_delivery = self.seen.per_delivery.lock().expect("receiver lock");
        Tally {
            total: self.total(),
            distinct: per_delivery.len(),
            duplicated: per_delivery.values().filter(|n| **n > 1).count(),
            strays: self.seen.strays.load(Ordering::Relaxed),
            connections: self.seen.connections.load(Ordering::Relaxed),
        }
    }
}

async fn receive(
    seen: Arc<Seen>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let hook = request
        .uri()
        .path()
        .strip_prefix("/hook/")
        .and_then(|n| n.parse::<usize>().ok());
    let event = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read the whole body, as a receiver does before answering.
    let _ = request.into_body().collect().await;
    match (hook, event) {
        (Some(hook), Some(event)) => {
            *seen
                .per_delivery
                .lock()
                .expect("receiver lock")
                .entry((hook, event))
                .or_default() += 1;
        }
        _ => {
            seen.strays.fetch_add(1, Ordering::Relaxed);
        }
    }
    seen.total.fetch_add(1, Ordering::Relaxed);
    // A short body, as most receivers answer: the sender must read it to
    // keep the connection.
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"ok\":true}",
    ))))
}
