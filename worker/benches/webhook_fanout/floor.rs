//! The floor: what this machine does with HTTP alone. The same number of
//! signed-size POSTs as the scenario delivers, sent straight to a receiver
//! like the scenario's by a reqwest client built as the deliverer builds
//! its own, 64 at a time (the deliverer's default slots), no database.

use super::receiver::CountingReceiver;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Requests per second.
pub async fn measure(requests: usize) -> Result<f64, String> {
    let receiver = CountingReceiver::start()
        .await
        .map_err(|e| format!("cannot start the floor's receiver: {e}"))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    // About the size of an `app.created` body.
    let body = format!("{{\"data\":{{\"app\":\"{}\"}}}}", "x".repeat(400));
    let urls: Vec<String> = (0..50).map(|n| receiver.url(n)).collect();
    let started = Instant::now();
    let failed = std::sync::atomic::AtomicUsize::new(0);
    futures_util::stream::iter(0..requests)
        .for_each_concurrent(64, |i| {
            let request = client
                .post(&urls[i % urls.len()])
                .header("content-type", "application/json")
                .header("webhook-id", format!("floor-{i}"))
                .body(body.clone())
                .send();
            let failed = &failed;
            async move {
                match request.await {
                    Ok(response) if response.status().is_success() => {}
                    _ => {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failed.into_inner();
    if failed > 0 || receiver.total() != requests {
        return Err(format!(
            "the floor's receiver saw {} of {requests} requests ({failed} failed)",
            receiver.total()
        ));
    }
    Ok(requests as f64 / elapsed)
}
