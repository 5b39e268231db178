//! `/webhooks`: subscriptions, secret rotation, test events and the
//! delivery log. Secrets are shown once, at creation and rotation.

use super::openapi::answers::*;
use super::openapi::params::{DeliveryPath, IdempotencyKey, WebhookPath};
use super::{clip, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::{
    CreateWebhook, DeliveriesQuery, Delivery, DeliveryList, Webhook, WebhookList, WebhookWithSecret,
};
use slipway_core::domain::{DeliveryId, Scope, WebhookId};

fn webhook_path(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw)
        .map_err(|_| ApiError::NotFound(format!("webhook `{}` not found", clip(raw))))
}

fn not_found(id: &WebhookId) -> ApiError {
    ApiError::NotFound(format!("webhook `{id}` not found"))
}

#[utoipa::path(post, path = "/webhooks", operation_id = "createWebhook", tag = "webhooks",
    description = "201 with the webhook and its signing secret (`whsec_...`), shown only \
        here. Each matching event becomes one delivery, written in the event's transaction: \
        signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, \
        `webhook-signature`), retried on failure (`SLIPWAY_WEBHOOK_RETRY_SCHEDULE`), never \
        following redirects; 410 Gone disables the webhook. URLs must be http or https; \
        loopback, private, link-local, unique-local, multicast and unspecified addresses are \
        refused unless `SLIPWAY_WEBHOOK_ALLOW_PRIVATE=true` (the default in `slipway dev`). \
        Wildcards (`*`, `deployment.*`) leave out `deployment.progress`; name it to get it.",
    params(IdempotencyKey), request_body = CreateWebhook,
    responses(
        (status = 201, description = "The webhook, with `secret` (shown once).",
            body = WebhookWithSecret),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
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
    let shown = WebhookWithSecret {
        webhook,
        secret: secret.expose().clone(),
    };
    sorted_json(StatusCode::CREATED, &shown)
}

#[utoipa::path(get, path = "/webhooks", operation_id = "listWebhooks", tag = "webhooks",
    description = "Every subscription, oldest first, without secrets.",
    responses((status = 200, description = "The webhooks.", body = WebhookList),
        Unauthorized, Forbidden, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let webhooks = state.db(|store| store.list_webhooks()).await?;
    sorted_json(StatusCode::OK, &WebhookList::from(webhooks))
}

#[utoipa::path(get, path = "/webhooks/{id}", operation_id = "getWebhook", tag = "webhooks",
    description = "The webhook, without its secret; `disabled_at` is set once a receiver \
        answered 410 Gone.",
    params(WebhookPath),
    responses((status = 200, description = "The webhook.", body = Webhook),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
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

#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "deleteWebhook",
    tag = "webhooks",
    description = "204; pending deliveries are dropped with it.",
    params(WebhookPath),
    responses((status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound, UriTooLong, RateLimited, HeaderTooLarge, Unavailable))]
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

#[utoipa::path(post, path = "/webhooks/{id}/rotate", operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    description = "200 with the new secret (shown once). The old secret keeps signing \
        alongside for 24 hours (`webhook-signature` then carries two space-separated \
        signatures), so receivers can switch without missing a delivery.",
    params(WebhookPath, IdempotencyKey),
    responses(
        (status = 200, description = "The webhook, with the new `secret`.",
            body = WebhookWithSecret),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, Invalid,
        RateLimited, HeaderTooLarge, Unavailable))]
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
    let shown = WebhookWithSecret {
        webhook,
        secret: secret.expose().clone(),
    };
    sorted_json(StatusCode::OK, &shown)
}

#[utoipa::path(post, path = "/webhooks/{id}/test", operation_id = "testWebhook",
    tag = "webhooks",
    description = "Queues a `webhook.test` event for this webhook only: 202 with its \
        delivery. A disabled webhook is 409.",
    params(WebhookPath, IdempotencyKey),
    responses((status = 202, description = "The queued delivery.", body = Delivery),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, Invalid,
        RateLimited, HeaderTooLarge, Unavailable))]
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

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", operation_id = "listDeliveries",
    tag = "webhooks",
    description = "Newest first: event, attempts, last status code and error, next attempt, \
        delivered at.",
    params(WebhookPath, DeliveriesQuery),
    responses((status = 200, description = "The deliveries.", body = DeliveryList),
        BadRequest, Unauthorized, Forbidden, NotFound, UriTooLong, Invalid, HeaderTooLarge,
        Unavailable))]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = webhook_path(&path)?;
    let limit = query.limit()?;
    let list = state
        .db(move |store| store.list_deliveries(&id, limit))
        .await?;
    sorted_json(StatusCode::OK, &DeliveryList::from(list))
}

#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/redeliver",
    operation_id = "redeliver", tag = "webhooks",
    description = "Queues a new delivery with the same event id and body: 202 with it. A \
        disabled webhook is 409.",
    params(DeliveryPath, IdempotencyKey),
    responses((status = 202, description = "The new delivery.", body = Delivery),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, Invalid,
        RateLimited, HeaderTooLarge, Unavailable))]
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
