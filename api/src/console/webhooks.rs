//! The Webhooks pages, for admin tokens only (`/ui/webhooks`): every
//! subscription (its URL cut to the receiver's origin, since a URL's path
//! and query often carry a secret; the signing secret never), one
//! webhook's deliveries, and Redeliver.

use super::page::{render, PageError};
use super::session::{CsrfForm, Viewer};
use super::view::{Nav, When};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::contract::DeliveriesQuery;
use slipway_core::domain::{DeliveryId, DeliveryStatus, Scope, WebhookId};
use slipway_core::store::{Delivery, Webhook};

/// One webhook as listed.
struct WebhookLine {
    id: String,
    receiver: String,
    kind: &'static str,
    events: String,
    apps: String,
    description: String,
    disabled: Option<String>,
    created: When,
}

/// One delivery as listed.
struct DeliveryLine {
    id: String,
    event: String,
    status: &'static str,
    class: &'static str,
    attempts: i32,
    code: Option<i32>,
    error: Option<String>,
    created: When,
    delivered: Option<When>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    nav: Option<Nav>,
    webhooks: Vec<WebhookLine>,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    nav: Option<Nav>,
    webhook: WebhookLine,
    deliveries: Vec<DeliveryLine>,
    csrf: String,
}

/// `GET /ui/webhooks`.
pub async fn list(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    let webhooks = state.db(|s| s.list_webhooks()).await?;
    let page = WebhooksPage {
        nav: Some(viewer.nav()),
        webhooks: webhooks.into_iter().map(webhook_line).collect(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /ui/webhooks/{id}`: the webhook and its newest deliveries.
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let limit = DeliveriesQuery::DEFAULT_LIMIT;
    let found = state
        .db(move |s| {
            let Some(webhook) = s.get_webhook(&id)? else {
                return Ok(None);
            };
            let deliveries = s.list_deliveries(&id, limit)?;
            Ok(Some((webhook, deliveries)))
        })
        .await?;
    let Some((webhook, deliveries)) = found else {
        return Err(no_such_webhook());
    };
    let page = WebhookPage {
        nav: Some(viewer.nav()),
        webhook: webhook_line(webhook),
        deliveries: deliveries.into_iter().map(delivery_line).collect(),
        csrf: viewer.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/webhooks/{id}/deliveries/{delivery}/redeliver`: queues the
/// same event again, as the API's redeliver does, and shows the webhook.
pub async fn redeliver(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    viewer.check_csrf(&form.csrf)?;
    let webhook = webhook_path(&path.0)?;
    let delivery = DeliveryId::parse(&path.1)
        .map_err(|_| PageError::new(StatusCode::NOT_FOUND, "There is no such delivery."))?;
    let shown = webhook.clone();
    state
        .write(&viewer.caller, move |s| s.redeliver(&webhook, &delivery))
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/ui/webhooks/{shown}")))
        .finish())
}

fn webhook_path(raw: &str) -> Result<WebhookId, PageError> {
    WebhookId::parse(raw).map_err(|_| no_such_webhook())
}

fn no_such_webhook() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "There is no such webhook.")
}

fn webhook_line(webhook: Webhook) -> WebhookLine {
    let events: Vec<&str> = webhook.events.iter().map(|e| e.as_str()).collect();
    let apps: Vec<String> = webhook.apps.iter().map(|a| a.to_string()).collect();
    WebhookLine {
        id: webhook.id.to_string(),
        receiver: receiver(&webhook.url),
        kind: webhook.kind.as_str(),
        events: events.join(", "),
        apps: if apps.is_empty() {
            "every app".into()
        } else {
            apps.join(", ")
        },
        description: webhook.description,
        disabled: webhook.disabled_reason.or_else(|| {
            webhook
                .disabled_at
                .map(|_| "disabled by its receiver".into())
        }),
        created: When::of(webhook.created_at),
    }
}

fn delivery_line(delivery: Delivery) -> DeliveryLine {
    DeliveryLine {
        id: delivery.id.to_string(),
        event: delivery.event_type.to_string(),
        status: delivery.status.as_str(),
        class: match delivery.status {
            DeliveryStatus::Delivered => "status-ok",
            DeliveryStatus::Pending => "status-busy",
            DeliveryStatus::Failed => "status-bad",
        },
        attempts: delivery.attempts,
        code: delivery.last_status_code,
        error: delivery.last_error,
        created: When::of(delivery.created_at),
        delivered: delivery.delivered_at.map(When::of),
    }
}

/// The receiver a URL names, without what may be secret in it: the
/// scheme and host (and port) only, no user, path or query. A Slack URL's
/// path is itself the credential.
fn receiver(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let trimmed = rest.len() > authority.len();
    format!(
        "{scheme}{}{host}{}",
        if scheme.is_empty() { "" } else { "://" },
        if trimmed { "/…" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::receiver;

    #[test]
    fn a_receiver_keeps_no_user_path_or_query() {
        assert_eq!(
            receiver("https://hooks.slack.com/services/T1/B2/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            receiver("http://user:pw@10.0.0.1:8080?token=x"),
            "http://10.0.0.1:8080/…"
        );
        assert_eq!(receiver("https://example.com"), "https://example.com");
    }
}
