//! The route table, and what several routes share: path and paging parsing.

mod apps;
mod builds;
mod deployments;
mod env;
mod fallback;
mod health;
mod logs;
pub(crate) mod metrics;
pub(crate) mod openapi;
mod processes;
mod releases;
mod stream;
mod tokens;
mod webhooks;

pub(crate) use deployments::enqueue;
pub(crate) use fallback::json_error_body;
pub(crate) use stream::{next_events, Waited};

use crate::body::{json_config, BodyLimit};
use crate::error::ApiError;
use crate::SMALL_BODY_BYTES;
use actix_web::http::StatusCode;
use actix_web::web::{self, delete, get, patch, post, resource};
use actix_web::{HttpResponse, Resource};
use serde::Serialize;
use slipway_core::domain::{AppName, BuildId, ReleaseId};

/// Every route of the API. The OpenAPI document (`openapi::ApiDoc`)
/// describes each; a test checks.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(get().to(health::alive)))
        .service(resource("/readyz").route(get().to(health::ready)))
        .service(resource("/openapi.json").route(get().to(openapi::document)))
        .service(resource("/metrics").route(get().to(metrics::scrape)))
        .service(
            small("/apps")
                .route(get().to(apps::list))
                .route(post().to(apps::create)),
        )
        .service(
            small("/apps/{app}")
                .route(get().to(apps::show))
                .route(patch().to(apps::update))
                .route(delete().to(apps::remove)),
        )
        .service(
            resource("/apps/{app}/builds")
                .route(get().to(builds::list))
                .route(post().to(builds::create)),
        )
        .service(resource("/apps/{app}/builds/{id}").route(get().to(builds::show)))
        .service(
            resource("/apps/{app}/env")
                .route(get().to(env::show))
                .route(patch().to(env::update)),
        )
        .service(
            resource("/apps/{app}/releases")
                .route(get().to(releases::list))
                .route(post().to(releases::create)),
        )
        .service(resource("/apps/{app}/releases/{id}").route(get().to(releases::show)))
        .service(resource("/apps/{app}/releases/{id}/diff").route(get().to(releases::diff)))
        .service(small("/apps/{app}/releases/{id}/promote").route(post().to(deployments::promote)))
        .service(
            small("/apps/{app}/releases/{id}/rollback").route(post().to(deployments::rollback)),
        )
        .service(resource("/apps/{app}/deploy").route(post().to(deployments::deploy)))
        .service(resource("/apps/{app}/processes").route(get().to(processes::list)))
        .service(resource("/apps/{app}/logs").route(get().to(logs::list)))
        .service(resource("/apps/{app}/deployments").route(get().to(deployments::list)))
        .service(resource("/apps/{app}/deployments/{id}").route(get().to(deployments::show)))
        .service(small("/apps/{app}/deployments/{id}/cancel").route(post().to(deployments::cancel)))
        .service(resource("/apps/{app}/deployments/{id}/events").route(get().to(stream::events)))
        .service(
            small("/webhooks")
                .route(get().to(webhooks::list))
                .route(post().to(webhooks::create)),
        )
        .service(
            small("/webhooks/{id}")
                .route(get().to(webhooks::show))
                .route(delete().to(webhooks::remove)),
        )
        .service(small("/webhooks/{id}/rotate").route(post().to(webhooks::rotate)))
        .service(small("/webhooks/{id}/test").route(post().to(webhooks::test)))
        .service(small("/webhooks/{id}/deliveries").route(get().to(webhooks::deliveries)))
        .service(
            small("/webhooks/{id}/deliveries/{delivery}/redeliver")
                .route(post().to(webhooks::redeliver)),
        )
        .service(
            small("/tokens")
                .route(get().to(tokens::list))
                .route(post().to(tokens::create)),
        )
        .service(small("/tokens/{id}").route(delete().to(tokens::remove)));
}

/// A resource whose bodies are small JSON objects: [`SMALL_BODY_BYTES`] at most.
fn small(path: &str) -> Resource {
    resource(path)
        .app_data(BodyLimit(SMALL_BODY_BYTES))
        .app_data(json_config(SMALL_BODY_BYTES))
        .app_data(web::PayloadConfig::default().limit(SMALL_BODY_BYTES))
}

/// Path segments that cannot name anything are simply not found.
pub(crate) fn app_path(raw: &str) -> Result<AppName, ApiError> {
    AppName::parse(raw).map_err(|_| ApiError::NotFound(format!("app `{}` not found", clip(raw))))
}

pub(crate) fn release_path(app: &AppName, raw: &str) -> Result<ReleaseId, ApiError> {
    ReleaseId::parse(raw).map_err(|_| {
        ApiError::NotFound(format!("release `{}` not found in app `{app}`", clip(raw)))
    })
}

fn build_path(app: &AppName, raw: &str) -> Result<BuildId, ApiError> {
    BuildId::parse(raw)
        .map_err(|_| ApiError::NotFound(format!("build `{}` not found in app `{app}`", clip(raw))))
}

pub(crate) fn clip(raw: &str) -> &str {
    match raw.char_indices().nth(64) {
        Some((i, _)) => &raw[..i],
        None => raw,
    }
}

/// Answers `body` as JSON with the keys of every object in alphabetical
/// order: the order these envelope answers (`{"release": ...}`) have always
/// had, as they were built as `serde_json::Value`, whose objects sort keys.
fn sorted_json(status: StatusCode, body: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let value = serde_json::to_value(body).map_err(ApiError::internal)?;
    Ok(HttpResponse::build(status).json(value))
}
