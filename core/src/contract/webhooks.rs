//! `/webhooks`: subscriptions, secret rotation, test events and the
//! delivery log. Secrets are shown once, at creation and rotation.

use crate::domain::{AppName, Description, EventPattern, InvalidInput, WebhookKind, WebhookUrl};
use crate::store;
pub use crate::store::Delivery;
pub use crate::store::Webhook;
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
        WebhookList { webhooks: list }
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

/// `GET /webhooks/{id}/deliveries`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

impl From<Vec<store::Delivery>> for DeliveryList {
    fn from(list: Vec<store::Delivery>) -> DeliveryList {
        DeliveryList { deliveries: list }
    }
}
