//! `/webhooks`: subscriptions, secret rotation, test events and the
//! delivery log. Secrets are shown once, at creation and rotation.

use crate::domain::{
    AppName, DeliveryId, DeliveryStatus, Description, EventId, EventPattern, InvalidInput,
    WebhookId, WebhookKind, WebhookUrl,
};
use crate::events::BodyKind;
use crate::store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Patterns and apps one webhook may list.
const MAX_LIST: usize = 100;

/// `POST /webhooks`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries go: `https://`, or `http://` too.
    #[schema(max_length = 2048)]
    pub url: String,
    #[schema(value_type = WebhookKind)]
    pub kind: String,
    /// `*`, a family (`deployment.*`) or event types (`deployment.failed`).
    #[schema(value_type = Vec<EventPattern>, min_items = 1, max_items = 100)]
    pub events: Vec<String>,
    /// Apps whose events it receives; empty or left out: all.
    #[schema(value_type = Vec<AppName>, max_items = 100)]
    #[serde(default)]
    pub apps: Vec<String>,
    /// A single line, at most 1024 characters.
    #[schema(max_length = 1024)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateWebhook {
    /// The subscription, checked; `allow_private` accepts loopback and
    /// private address literals in the URL.
    pub fn parse(&self, allow_private: bool) -> Result<store::NewWebhook, InvalidInput> {
        let url = WebhookUrl::parse(&self.url, allow_private)
            .map_err(|err| InvalidInput::new("url", err.to_string()))?;
        let kind = WebhookKind::parse(&self.kind)?;
        if self.events.is_empty() {
            return Err(InvalidInput::new(
                "events",
                "list at least one event type, or \"*\"",
            ));
        }
        let mut events = Vec::new();
        for raw in bounded(&self.events, "events")? {
            let pattern = EventPattern::parse(raw)?;
            if !events.contains(&pattern) {
                events.push(pattern);
            }
        }
        let mut apps = Vec::new();
        for raw in bounded(&self.apps, "apps")? {
            let app = AppName::parse(raw).map_err(|e| InvalidInput::new("apps", e.message))?;
            if !apps.contains(&app) {
                apps.push(app);
            }
        }
        let description = match &self.description {
            Some(text) => Description::parse(text)?.as_str().to_owned(),
            None => String::new(),
        };
        Ok(store::NewWebhook {
            url: url.as_str().to_owned(),
            kind,
            events,
            apps,
            description,
        })
    }
}

fn bounded<'a>(list: &'a [String], field: &str) -> Result<&'a [String], InvalidInput> {
    if list.len() > MAX_LIST {
        return Err(InvalidInput::new(
            field,
            format!("at most {MAX_LIST} entries"),
        ));
    }
    Ok(list)
}

/// A subscription as the API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub kind: WebhookKind,
    pub events: Vec<EventPattern>,
    /// Apps whose events it receives; empty: every app.
    pub apps: Vec<AppName>,
    pub description: String,
    /// Set when a receiver answered 410 Gone: nothing more is sent.
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Until then the previous secret signs too (after a rotation).
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::Webhook> for Webhook {
    fn from(w: store::Webhook) -> Webhook {
        Webhook {
            id: w.id,
            url: w.url,
            kind: w.kind,
            events: w.events,
            apps: w.apps,
            description: w.description,
            disabled_at: w.disabled_at,
            disabled_reason: w.disabled_reason,
            previous_secret_expires_at: w.previous_secret_expires_at,
            actor: w.actor,
            created_at: w.created_at,
        }
    }
}

/// A webhook, and once only its signing secret (creation and rotation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret: shown only in this response.
    #[schema(pattern = "^whsec_")]
    pub secret: String,
}

/// `GET /webhooks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

impl From<Vec<store::Webhook>> for WebhookList {
    fn from(list: Vec<store::Webhook>) -> WebhookList {
        WebhookList {
            webhooks: list.into_iter().map(Webhook::from).collect(),
        }
    }
}

/// `?limit=` of the delivery log.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many, newest first: 1-500 (default 50).
    #[param(minimum = 1, maximum = 500, default = 50)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl DeliveriesQuery {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 500;

    pub fn limit(&self) -> Result<i64, InvalidInput> {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT);
        if (1..=Self::MAX_LIMIT).contains(&limit) {
            Ok(limit)
        } else {
            let message = format!("must be between 1 and {}", Self::MAX_LIMIT);
            Err(InvalidInput::new("limit", message))
        }
    }
}

/// One event on its way to one webhook, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook: WebhookId,
    /// The event, sent as `webhook-id` on every attempt.
    pub event: EventId,
    /// The event's type (`deployment.succeeded`, or `webhook.test`).
    #[schema(value_type = String)]
    pub event_type: BodyKind,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[schema(required = true)]
    pub last_status_code: Option<i32>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<store::Delivery> for Delivery {
    fn from(d: store::Delivery) -> Delivery {
        Delivery {
            id: d.id,
            webhook: d.webhook,
            event: d.event,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

/// `GET /webhooks/{id}/deliveries`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

impl From<Vec<store::Delivery>> for DeliveryList {
    fn from(list: Vec<store::Delivery>) -> DeliveryList {
        DeliveryList {
            deliveries: list.into_iter().map(Delivery::from).collect(),
        }
    }
}
