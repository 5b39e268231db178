//! One HTTP health check against an instance's port. How often, after what
//! grace and how many failures count is the rollout engine's business.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use slipway_core::domain::Health;

use crate::runtime::{Probe, RuntimeError};

/// The client every check uses: no redirects (a 3xx already counts as healthy),
/// no proxy (the instance is on this machine), and no pooled connections, so
/// each check measures a fresh connection and never reuses one to a port an
/// earlier instance held.
pub(super) fn client() -> Result<reqwest::Client, RuntimeError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| RuntimeError::Failed(format!("cannot build the health-check client: {e}")))
}

/// `GET http://127.0.0.1:<port><path>`, bounded by `health.timeout()`:
/// 2xx and 3xx are healthy, anything else is not.
pub(super) async fn check(client: &reqwest::Client, port: u16, health: &Health) -> Probe {
    let url = format!("http://127.0.0.1:{port}{}", health.path());
    let timeout = Duration::from_secs(u64::from(health.timeout().max(1)));
    match client.get(&url).timeout(timeout).send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() || status.is_redirection() {
                Probe::Healthy
            } else {
                Probe::Unhealthy(format!(
                    "GET {} answered {}",
                    health.path(),
                    status.as_u16()
                ))
            }
        }
        Err(e) => Probe::Unhealthy(format!(
            "not answering on port {port}: {}",
            short_reason(&e, timeout)
        )),
    }
}

/// A few words on why a request failed, without reqwest's long wrapping
/// ("error sending request for url (...)").
fn short_reason(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s", timeout.as_secs());
    }
    let mut source = e.source();
    let mut innermost = None;
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                _ => io.to_string(),
            };
        }
        innermost = Some(cause);
        source = cause.source();
    }
    innermost.map_or_else(|| e.to_string(), ToString::to_string)
}
