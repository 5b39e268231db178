//! The delivery loop: claims due deliveries from the database, sends each
//! in its own task (a slow receiver holds one slot, never the loop), and
//! records outcomes in batches. Retries follow the [`RetrySchedule`];
//! nothing is lost when a worker dies: its claims expire and come back.

use super::answer::{describe, drain, retry_after};
use super::resolve::GuardedResolver;
use super::schedule::RetrySchedule;
use super::{sign, slack};
use crate::trace;
use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, USER_AGENT};
use reqwest::StatusCode;
use slipway_core::domain::{WebhookKind, WebhookUrl};
use slipway_core::metrics::Metrics;
use slipway_core::store::{DueDelivery, Finished, Outcome, Store};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

/// Outcomes recorded per transaction.
const WRITE_BATCH: usize = 256;
/// How long shutdown waits for attempts in flight; the rest are retried
/// by whichever worker claims them once their lock expires.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How deliveries are made.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub schedule: RetrySchedule,
    /// Bound on one attempt, connect to last byte.
    pub timeout: Duration,
    /// Lets webhooks target loopback and private addresses (`slipway dev`).
    pub allow_private: bool,
    /// Attempts in flight at once in this process.
    pub concurrency: usize,
    /// Attempts in flight at once for one webhook, over all workers: a
    /// receiver that hangs holds no more slots than this.
    pub per_webhook: usize,
    /// How often an idle loop looks for due deliveries.
    pub poll_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            allow_private: false,
            concurrency: 256,
            per_webhook: 16,
            poll_interval: Duration::from_millis(200),
        }
    }
}

impl DeliveryConfig {
    /// How long a claim stays ours: the attempt's timeout and some slack, so
    /// a live worker always records its outcome before anyone else retries.
    pub fn lock(&self) -> Duration {
        self.timeout + Duration::from_secs(5)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// Sends deliveries for one worker process.
pub struct Deliverer {
    store: Store,
    config: DeliveryConfig,
    client: reqwest::Client,
    /// Names this process's claims.
    owner: String,
    metrics: Metrics,
    /// Outcomes were recorded: slots are free again, and the webhooks whose
    /// deliveries they were may be given more.
    recorded: Notify,
}

impl Deliverer {
    pub fn new(store: Store, config: DeliveryConfig, owner: String) -> Result<Self, ClientError> {
        // No proxy from the environment: a proxy would resolve and connect
        // to the target itself, past the guarded resolver.
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(config.allow_private)))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()?;
        Ok(Deliverer {
            store,
            config,
            client,
            owner,
            metrics: Metrics::new(),
            recorded: Notify::new(),
        })
    }

    /// Counts attempts by outcome and times them into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Delivers until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.config.concurrency.max(1)));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(this.clone().record(done_rx));
        tokio::pin!(shutdown);
        loop {
            let free = slots.available_permits();
            let claimed = if free == 0 {
                0
            } else {
                this.claim_and_send(free, &slots, &done_tx).await
            };
            if free > 0 && claimed == free {
                continue; // more may be due right now
            }
            let idle = tokio::time::sleep(this.config.poll_interval);
            tokio::select! {
                () = &mut shutdown => break,
                () = idle, if free > 0 => {}
                () = this.recorded.notified() => {}
                permit = slots.clone().acquire_owned(), if free == 0 => drop(permit),
            }
        }
        drop(done_tx);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
    }

    /// Claims up to `free` due deliveries and starts sending them; returns
    /// how many were claimed.
    async fn claim_and_send(
        self: &Arc<Self>,
        free: usize,
        slots: &Arc<Semaphore>,
        done: &mpsc::UnboundedSender<(Finished, OwnedSemaphorePermit)>,
    ) -> usize {
        let store = self.store.clone();
        let owner = self.owner.clone();
        let lock = chrono::TimeDelta::from_std(self.config.lock()).unwrap_or_default();
        let per_webhook = self.config.per_webhook;
        let claimed = tokio::task::spawn_blocking(move || {
            store.claim_deliveries(&owner, free, per_webhook, lock)
        })
        .await;
        let due = match claimed {
            Ok(Ok(due)) => due,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "claiming webhook deliveries failed");
                return 0;
            }
            Err(err) => {
                tracing::error!(error = %err, "claiming webhook deliveries panicked");
                return 0;
            }
        };
        let count = due.len();
        for delivery in due {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break; // cannot happen: we claimed at most `free`
            };
            let this = self.clone();
            let done = done.clone();
            // An HTTP client span (`POST`), child of the event's trace when
            // it has one. Only the host is recorded: a Slack URL's path is
            // its secret.
            let host = url::Url::parse(&delivery.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let span = tracing::info_span!(
                "webhook.deliver",
                otel.name = "POST",
                otel.kind = "client",
                http.request.method = "POST",
                server.address = %host,
                http.response.status_code = tracing::field::Empty,
                http.request.resend_count = delivery.attempts.saturating_sub(1),
                webhook = %delivery.webhook,
                delivery = %delivery.id,
                event = %delivery.event,
                event_type = %delivery.event_type,
                attempt = delivery.attempts,
            );
            trace::continue_from(&span, delivery.traceparent.as_deref());
            let task = async move {
                let started = std::time::Instant::now();
                let outcome = this.attempt(&delivery).await;
                let kind = match &outcome {
                    Outcome::Delivered { .. } => "delivered",
                    Outcome::Retry { .. } => "retry",
                    Outcome::Gone => "gone",
                    Outcome::Failed { .. } => "failed",
                };
                this.metrics.webhook_attempt(kind, started.elapsed());
                let finished = Finished {
                    id: delivery.id,
                    webhook: delivery.webhook,
                    outcome,
                };
                let _ = done.send((finished, permit));
            };
            tokio::spawn(task.instrument(span));
        }
        count
    }

    /// Writes outcomes in batches; a slot is freed once its outcome is stored.
    async fn record(
        self: Arc<Self>,
        mut done: mpsc::UnboundedReceiver<(Finished, OwnedSemaphorePermit)>,
    ) {
        let mut batch = Vec::new();
        while done.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            let (finished, permits): (Vec<_>, Vec<_>) =
                std::mem::take(&mut batch).into_iter().unzip();
            let store = self.store.clone();
            let owner = self.owner.clone();
            let count = finished.len();
            let written =
                tokio::task::spawn_blocking(move || store.finish_deliveries(&owner, &finished))
                    .await;
            match written {
                Ok(Ok(())) => {}
                // The claims stay locked and are retried once the lock expires.
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, count, "recording webhook outcomes failed")
                }
                Err(err) => tracing::error!(error = %err, "recording webhook outcomes panicked"),
            }
            drop(permits);
            self.recorded.notify_one();
        }
    }

    /// One attempt, turned into what to do next.
    async fn attempt(&self, delivery: &DueDelivery) -> Outcome {
        // Checked on every attempt: the URL may be an address literal, which
        // no resolver sees, or the guard may have been turned on since.
        if let Err(err) = WebhookUrl::parse(&delivery.url, self.config.allow_private) {
            tracing::warn!(error = %err, "webhook URL refused");
            return Outcome::Failed {
                status: None,
                error: format!("refused: {err}"),
            };
        }
        let result = self.send(delivery).await;
        let result = match result {
            // Read what the receiver sent (up to a bound) so its connection
            // goes back to the pool for the next delivery; an answer left
            // unread closes it.
            Ok(response) => Ok(drain(response).await),
            Err(err) => Err(err),
        };
        let span = tracing::Span::current();
        match &result {
            Ok(response) => {
                span.record("http.response.status_code", response.status().as_u16());
                if !response.status().is_success() {
                    trace::fail(
                        &span,
                        &format!("the receiver answered {}", response.status()),
                    );
                }
            }
            Err(err) => trace::fail(&span, &describe(err, self.config.timeout)),
        }
        let (status, error, retry_after) = match result {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    tracing::debug!(status = status.as_u16(), "webhook delivered");
                    return Outcome::Delivered {
                        status: status.as_u16(),
                    };
                }
                if status == StatusCode::GONE {
                    tracing::warn!("webhook receiver answered 410 Gone: disabling the webhook");
                    return Outcome::Gone;
                }
                let retry_after = match status {
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        retry_after(response.headers())
                    }
                    _ => None,
                };
                let error = format!("the receiver answered {status}");
                (Some(status.as_u16()), error, retry_after)
            }
            Err(err) => (None, describe(&err, self.config.timeout), None),
        };
        match self.config.schedule.delay_after(delivery.attempts) {
            Some(delay) => {
                let delay = retry_after.map_or(delay, |wait| wait.max(delay));
                tracing::info!(error = %error, retry_in_ms = delay.as_millis() as u64, "webhook attempt failed");
                Outcome::Retry {
                    status,
                    error,
                    at: Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default(),
                }
            }
            None => {
                tracing::warn!(error = %error, "webhook delivery failed: no attempts left");
                Outcome::Failed { status, error }
            }
        }
    }

    async fn send(&self, delivery: &DueDelivery) -> Result<reqwest::Response, reqwest::Error> {
        let body = match delivery.kind {
            WebhookKind::Generic => delivery.payload.clone(),
            WebhookKind::Slack => {
                let payload = serde_json::from_str(&delivery.payload).unwrap_or_default();
                slack::message(&payload).to_string()
            }
        };
        let timestamp = Utc::now().timestamp();
        let keys: Vec<sign::SigningKey> = delivery
            .secrets
            .iter()
            .filter_map(|secret| sign::SigningKey::parse(secret.expose()).ok())
            .collect();
        let event = delivery.event.as_str();
        let signature = sign::signature_header(&keys, event, timestamp, body.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("Slipway-Webhooks/1"));
        // This attempt's span when spans are exported, else the event's
        // context as it came, so the receiver can join the trace either way.
        let traceparent = trace::traceparent_of(&tracing::Span::current())
            .or_else(|| delivery.traceparent.clone())
            .unwrap_or_default();
        for (name, value) in [
            ("webhook-id", event.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
            ("traceparent", traceparent),
        ] {
            if value.is_empty() {
                continue;
            }
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        self.client
            .post(&delivery.url)
            .headers(headers)
            .body(body)
            .send()
            .await
    }
}
