//! `/apps/{app}/env`: the env of the latest release, and changes to it.

use super::deployments::{enqueue, traceparent};
use super::openapi::answers::*;
use super::openapi::params::{AppPath, IdempotencyKey, Traceparent};
use super::{app_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use slipway_core::contract::{EnvChanged, EnvPromoted, EnvShow, PatchEnv};
use slipway_core::domain::Scope;

#[utoipa::path(get, path = "/apps/{app}/env", operation_id = "getEnv", tag = "env",
    description = "Returns the env of the app's latest created release (not necessarily the \
        active one) and that release's id; an empty env and `\"release\": null` when the app \
        has no release yet. 409 when no configured key opens it.",
    params(AppPath),
    responses((status = 200, description = "The env and the release it belongs to.",
            body = EnvShow),
        Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Read, Some(&app))?;
    let (env, release) = state.db(move |store| store.get_env(&app)).await?;
    sorted_json(StatusCode::OK, &EnvShow { env, release })
}

/// 201 with the new release, or 200 with `"release": null` when nothing
/// changed; with `"promote": true`, 202 with the release and its deployment.
#[utoipa::path(patch, path = "/apps/{app}/env", operation_id = "updateEnv", tag = "env",
    description = "Applies `set` and `unset` to the env of the app's latest release and, if \
        that changes anything, creates a release with the new env and the same build: 201 \
        with the release, which is not promoted. A change that changes nothing creates no \
        release and returns 200 with `\"release\": null`. The description is the explicit \
        `description` if given (even empty), else `env add:A change:B remove:C`. A resulting \
        env over 256 KiB is 422. With `\"promote\": true` the new release is also promoted \
        (as `POST .../promote`): 202 with the release and its pending deployment, 409 while \
        another deployment of the app is open, and 200 with `\"release\": null, \
        \"deployment\": null` when nothing changed. `deadline_seconds`, `minimum` and \
        `maximum` are allowed only with `\"promote\": true` (else 422).",
    params(AppPath, IdempotencyKey, Traceparent), request_body = PatchEnv,
    responses(
        (status = 200, description = "Nothing changed; no release was created (nor promoted).",
            body = EnvChanged),
        (status = 201, description = "The new release (without env).", body = EnvChanged),
        (status = 202, description = "With `\"promote\": true`: the new release and the \
            deployment promoting it.", body = EnvPromoted),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<PatchEnv>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let mut body = body.into_inner();
    let (change, description) = body.parse()?;
    let actor = caller.actor();
    let Some(promotion) = body.promotion()? else {
        let release = state
            .write(&caller, move |store| {
                store.change_env(&app, &change, description.as_ref(), &actor)
            })
            .await?;
        let status = match release {
            Some(_) => StatusCode::CREATED,
            None => StatusCode::OK,
        };
        let changed = EnvChanged { release };
        return sorted_json(status, &changed);
    };
    let options = promotion.parse(traceparent(&req))?;
    let started = state
        .write(&caller, move |store| {
            store.change_env_and_promote(&app, &change, description.as_ref(), &options, &actor)
        })
        .await?;
    let status = match &started {
        Some((_, deployment)) => {
            enqueue(&state, deployment).await;
            StatusCode::ACCEPTED
        }
        None => StatusCode::OK,
    };
    let (release, deployment) = started.unzip();
    let promoted = EnvPromoted {
        release,
        deployment,
    };
    sorted_json(status, &promoted)
}
