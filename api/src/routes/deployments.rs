//! Starting deployments (promote, deploy, rollback) and following them
//! (history, one deployment, cancel). A request that starts a deployment
//! answers 202 with it whole; a worker does the rest.

use super::openapi::answers::*;
use super::openapi::params::{AppPath, DeploymentPath, IdempotencyKey, ReleasePath, Traceparent};
use super::{app_path, release_path, sorted_json};
use crate::body::OptionalJson;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use slipway_core::contract::{
    self, Deploy, Deployed, DeploymentList, PageQuery, PromoteBody, Promoted,
};
use slipway_core::domain::RolloutJob;
use slipway_core::domain::{AppName, DeploymentId, ReleaseId, Scope};
use slipway_core::store::{Deployment, PromoteOptions, Release, Store, StoreError};
use tracing::Instrument;

/// The trace context a deployment started by `req` continues: the server
/// span's (continuing the incoming one) when spans are exported, else the
/// incoming header as it came when valid.
pub fn traceparent(req: &HttpRequest) -> Option<String> {
    crate::tracing_mw::current_traceparent().or_else(|| incoming_traceparent(req))
}

/// The incoming W3C `traceparent` when valid, as version `00`; an invalid
/// one is ignored (never stored or forwarded), as the spec says.
fn incoming_traceparent(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("traceparent")?.to_str().ok()?;
    let context = crate::tracing_mw::parse_traceparent(value)?;
    Some(crate::tracing_mw::format_traceparent(&context))
}

/// Wakes a worker. The deployment is committed already: if the queue is
/// down the reconciler finds it, so this never fails the request.
pub async fn enqueue(state: &AppState, deployment: &Deployment) {
    // A producer span (messaging conventions); its context travels in the job.
    let span = tracing::info_span!(
        "rollouts publish",
        otel.kind = "producer",
        messaging.system = "slipway",
        messaging.operation.type = "send",
        messaging.destination.name = "rollouts",
        slipway.deployment = %deployment.id,
    );
    let traceparent = span
        .in_scope(crate::tracing_mw::current_traceparent)
        .or_else(|| deployment.traceparent.clone());
    let job = RolloutJob::new(deployment.id.clone(), traceparent);
    if let Err(err) = state.queue.enqueue(job).instrument(span).await {
        tracing::warn!(deployment = %deployment.id, error = %err, "enqueue failed; the reconciler will pick it up");
    }
}

#[utoipa::path(post, path = "/apps/{app}/releases/{id}/promote", operation_id = "promoteRelease",
    tag = "deployments",
    description = "Starts a deployment that rolls the app out to this release: 202 with the \
        release (now `promoting`) and the pending deployment, which a worker carries out. \
        Follow it with `GET /apps/{app}/deployments/{id}` or its events. While another \
        deployment of the app is open the answer is 409, naming it. The body may be left out. \
        An incoming W3C `traceparent` header is continued by the rollout.",
    params(ReleasePath, IdempotencyKey, Traceparent), request_body = Option<PromoteBody>,
    responses(
        (status = 202, description = "The release and the deployment promoting it.",
            body = Promoted),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn promote(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: OptionalJson<PromoteBody>,
) -> Result<HttpResponse, ApiError> {
    start_from_release(state, caller, path, req, body, Store::promote).await
}

/// Convox's rollback: a new release with that release's build and env, promoted.
#[utoipa::path(post, path = "/apps/{app}/releases/{id}/rollback",
    operation_id = "rollbackToRelease", tag = "deployments",
    description = "Creates a new release with this release's build and env, described \
        `rollback to R...`, and promotes it as `POST .../promote` does: 202 with the new \
        release and its pending deployment; 409 while another deployment of the app is open. \
        The body may be left out. An incoming W3C `traceparent` header is continued by the \
        rollout.",
    params(ReleasePath, IdempotencyKey, Traceparent), request_body = Option<PromoteBody>,
    responses(
        (status = 202, description = "The new release and the deployment promoting it.",
            body = Promoted),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn rollback(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: OptionalJson<PromoteBody>,
) -> Result<HttpResponse, ApiError> {
    start_from_release(state, caller, path, req, body, Store::rollback).await
}

type StartFromRelease = fn(
    &Store,
    &AppName,
    &ReleaseId,
    &PromoteOptions,
    &str,
) -> Result<(Release, Deployment), StoreError>;

/// What promote and rollback share: a release in the path, promote options
/// in the body, 202 with the release and its deployment.
async fn start_from_release(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: OptionalJson<PromoteBody>,
    start: StartFromRelease,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let release = release_path(&app, &path.1)?;
    let options = body.into_inner().parse(traceparent(&req))?;
    let actor = caller.actor();
    let (release, deployment) = state
        .write(&caller, move |s| start(s, &app, &release, &options, &actor))
        .await?;
    enqueue(&state, &deployment).await;
    let promoted = Promoted {
        release,
        deployment,
    };
    sorted_json(StatusCode::ACCEPTED, &promoted)
}

#[utoipa::path(post, path = "/apps/{app}/deploy", operation_id = "deploy", tag = "deployments",
    description = "Does `POST /apps/{app}/builds` and promotes the resulting release in one \
        step: 202 with the build, its release and the pending deployment. The build fields \
        are validated as for a build (a bad manifest is 422 naming the field); 409 while \
        another deployment of the app is open. An incoming W3C `traceparent` header is \
        continued by the rollout. Its `domains` are claimed as for a build (422 when another \
        app holds one).",
    params(AppPath, IdempotencyKey, Traceparent), request_body = Deploy,
    responses(
        (status = 202, description = "The build, its release and the deployment promoting it.",
            body = Deployed),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn deploy(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Deploy>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let (build, promote) = body.into_inner().split();
    let options = promote.parse(traceparent(&req))?;
    let build = build.parse()?;
    let actor = caller.actor();
    let (build, release, deployment) = state
        .write(&caller, move |s| s.deploy(&app, &build, &options, &actor))
        .await?;
    enqueue(&state, &deployment).await;
    let deployed = Deployed {
        build,
        release,
        deployment,
    };
    sorted_json(StatusCode::ACCEPTED, &deployed)
}

#[utoipa::path(get, path = "/apps/{app}/deployments", operation_id = "listDeployments",
    tag = "deployments",
    description = "Lists the app's deployments, newest first, `limit` at a time; page back \
        with `before`.",
    params(AppPath, PageQuery),
    responses((status = 200, description = "A page of deployments.", body = DeploymentList),
        BadRequest, Unauthorized, Forbidden, NotFound, UriTooLong, Invalid, HeaderTooLarge,
        Unavailable))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Read, Some(&app))?;
    let limit = query.limit()?;
    let before = query.before(DeploymentId::parse)?;
    let deployments = state
        .db(move |s| s.list_deployments(&app, limit, before.as_ref()))
        .await?;
    sorted_json(StatusCode::OK, &DeploymentList::from(deployments))
}

#[utoipa::path(get, path = "/apps/{app}/deployments/{id}", operation_id = "getDeployment",
    tag = "deployments",
    description = "Returns one deployment of the app.",
    params(DeploymentPath),
    responses((status = 200, description = "The deployment.", body = contract::Deployment),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Read, Some(&app))?;
    let id = deployment_path(&app, &path.1)?;
    let deployment = state.db(move |s| s.get_deployment(&app, &id)).await?;
    Ok(HttpResponse::Ok().json(deployment))
}

/// Asks the worker to stop and roll back: 202, it happens shortly.
#[utoipa::path(post, path = "/apps/{app}/deployments/{id}/cancel",
    operation_id = "cancelDeployment", tag = "deployments",
    description = "Asks the worker to stop the rollout and roll back: 202 with the deployment \
        (`cancel_requested: true`); it happens shortly. A deployment already final \
        (`succeeded`, `rolled_back`, `failed`) is 409.",
    params(DeploymentPath, IdempotencyKey),
    responses(
        (status = 202, description = "The deployment, with `cancel_requested: true`.",
            body = contract::Deployment),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, Invalid,
        RateLimited, HeaderTooLarge, Unavailable))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let id = deployment_path(&app, &path.1)?;
    let actor = caller.actor();
    let deployment = state
        .write(&caller, move |s| {
            // A deleted app's deployments are not found, like the app.
            s.get_app(&app)?;
            s.cancel_deployment(&app, &id, &actor)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(deployment))
}

pub fn deployment_path(app: &AppName, raw: &str) -> Result<DeploymentId, ApiError> {
    DeploymentId::parse(raw).map_err(|_| {
        ApiError::NotFound(format!(
            "deployment `{}` not found in app `{app}`",
            super::clip(raw)
        ))
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    fn kept(header: &str) -> Option<String> {
        let req = TestRequest::default()
            .insert_header(("traceparent", header))
            .to_http_request();
        super::incoming_traceparent(&req)
    }

    #[test]
    fn an_invalid_incoming_traceparent_is_not_carried_on() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(kept(good).as_deref(), Some(good));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "not a traceparent",
        ] {
            assert_eq!(kept(bad), None, "{bad}");
        }
    }
}
