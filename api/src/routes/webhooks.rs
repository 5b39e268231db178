//! `/webhooks`: subscriptions, secret rotation, test events and the
//! delivery log. Secrets are shown once, at creation and rotation.

use super::clip;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::domain::{
    AppName, DeliveryId, Description, EventPattern, InvalidInput, WebhookId, WebhookKind,
    WebhookUrl,
};
use slipway_core::store::NewWebhook;

/// Patterns and apps one webhook may list.
const MAX_LIST: usize = 100;
const DEFAULT_DELIVERIES: i64 = 50;
const MAX_DELIVERIES: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    kind: String,
    events: Vec<String>,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

impl CreateWebhook {
    fn parse(&self, allow_private: bool) -> Result<NewWebhook, ApiError> {
        let url = WebhookUrl::parse(&self.url, allow_private)
            .map_err(|err| InvalidInput::new("url", err.to_string()))?;
        let kind = WebhookKind::parse(&self.kind)?;
        if self.events.is_empty() {
            return Err(
                InvalidInput::new("events", "list at least one event type, or \"*\"").into(),
            );
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
        Ok(NewWebhook {
            url: url.as_str().to_owned(),
            kind,
            events,
            apps,
            description,
        })
    }
}

fn bounded<'a>(list: &'a [String], field: &str) -> Result<&'a [String], ApiError> {
    if list.len() > MAX_LIST {
        return Err(InvalidInput::new(field, format!("at most {MAX_LIST} entries")).into());
    }
    Ok(list)
}

fn webhook_path(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw)
        .map_err(|_| ApiError::NotFound(format!("webhook `{}` not found", clip(raw))))
}

fn not_found(id: &WebhookId) -> ApiError {
    ApiError::NotFound(format!("webhook `{id}` not found"))
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let new = body.parse(state.allow_private_webhooks)?;
    let actor = caller.actor();
    let (webhook, secret) = state
        .write(&caller, move |store| store.create_webhook(&new, &actor))
        .await?;
    let mut shown = json!(webhook);
    shown["secret"] = json!(secret.expose());
    Ok(HttpResponse::Created().json(shown))
}

pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let webhooks = state.db(|store| store.list_webhooks()).await?;
    Ok(HttpResponse::Ok().json(json!({ "webhooks": webhooks })))
}

pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let found = state.db({
        let id = id.clone();
        move |store| store.get_webhook(&id)
    });
    match found.await? {
        Some(webhook) => Ok(HttpResponse::Ok().json(webhook)),
        None => Err(not_found(&id)),
    }
}

pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let deleted = state.db({
        let id = id.clone();
        move |store| store.delete_webhook(&id)
    });
    if deleted.await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&id))
    }
}

pub async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let (webhook, secret) = state
        .write(&caller, move |store| store.rotate_webhook_secret(&id))
        .await?;
    let mut shown = json!(webhook);
    shown["secret"] = json!(secret.expose());
    Ok(HttpResponse::Ok().json(shown))
}

pub async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let actor = caller.actor();
    let delivery = state
        .write(&caller, move |store| store.test_webhook(&id, &actor))
        .await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let limit = query.limit.unwrap_or(DEFAULT_DELIVERIES);
    if !(1..=MAX_DELIVERIES).contains(&limit) {
        let message = format!("must be between 1 and {MAX_DELIVERIES}");
        return Err(InvalidInput::new("limit", message).into());
    }
    let list = state
        .db(move |store| store.list_deliveries(&id, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "deliveries": list })))
}

pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let (raw_webhook, raw_delivery) = path.into_inner();
    let webhook = webhook_path(&raw_webhook)?;
    let delivery = DeliveryId::parse(&raw_delivery).map_err(|_| {
        ApiError::NotFound(format!(
            "delivery `{}` of webhook `{webhook}` not found",
            clip(&raw_delivery)
        ))
    })?;
    let again = state
        .write(&caller, move |store| store.redeliver(&webhook, &delivery))
        .await?;
    Ok(HttpResponse::Accepted().json(again))
}
