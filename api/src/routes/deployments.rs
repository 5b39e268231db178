//! Starting deployments (promote, deploy, rollback) and following them
//! (history, one deployment, cancel). A request that starts a deployment
//! answers 202 with it whole; a worker does the rest.

use super::builds::CreateBuild;
use super::{app_path, release_path, PageQuery};
use crate::body::OptionalJson;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::RolloutJob;
use slipway_core::domain::{
    AppName, Deadline, DeploymentId, InvalidInput, ReleaseId, Scope, Strategy,
};
use slipway_core::store::{Deployment, PromoteOptions, Release, Store, StoreError};
use tracing::Instrument;

/// The promote options every deployment-starting request accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    deadline_seconds: Option<i64>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

/// `POST /apps/{app}/deploy`: a build's fields and the promote options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    manifest: serde_json::Value,
    git_sha: Option<String>,
    git_message: Option<String>,
    description: Option<String>,
    deadline_seconds: Option<i64>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

/// Validates promote options; `traceparent` is the request's W3C trace
/// context, continued by the deployment.
pub fn promote_options(
    deadline_seconds: Option<i64>,
    minimum: Option<i64>,
    maximum: Option<i64>,
    req: &HttpRequest,
) -> Result<PromoteOptions, InvalidInput> {
    let deadline = deadline_seconds
        .map(|s| Deadline::parse(s, "deadline_seconds"))
        .transpose()?;
    let percent = |value: Option<i64>, field: &str, range: std::ops::RangeInclusive<i64>| {
        value
            .map(|v| {
                range.contains(&v).then_some(v).ok_or_else(|| {
                    let (lo, hi) = (range.start(), range.end());
                    InvalidInput::new(field, format!("must be a percent from {lo} to {hi}"))
                })
            })
            .transpose()
    };
    let minimum = percent(minimum, "minimum", 0..=100)?.map(|v| v as u8);
    let maximum = percent(maximum, "maximum", 100..=200)?.map(|v| v as u16);
    if let (Some(min), Some(max)) = (minimum, maximum) {
        Strategy::new(min, max)?;
    }
    Ok(PromoteOptions {
        deadline,
        minimum,
        maximum,
        // The server span's context (continuing the incoming one) when spans
        // are exported, else the incoming header as it came.
        traceparent: crate::tracing_mw::current_traceparent().or_else(|| traceparent(req)),
    })
}

/// The incoming W3C `traceparent` when valid, as version `00`; an invalid
/// one is ignored (never stored or forwarded), as the spec says.
fn traceparent(req: &HttpRequest) -> Option<String> {
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
    let b = body.into_inner();
    let options = promote_options(b.deadline_seconds, b.minimum, b.maximum, &req)?;
    let actor = caller.actor();
    let (release, deployment) = state
        .write(&caller, move |s| start(s, &app, &release, &options, &actor))
        .await?;
    enqueue(&state, &deployment).await;
    Ok(HttpResponse::Accepted().json(json!({ "release": release, "deployment": deployment })))
}

pub async fn deploy(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<DeployBody>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let b = body.into_inner();
    let options = promote_options(b.deadline_seconds, b.minimum, b.maximum, &req)?;
    let build = CreateBuild::new(b.manifest, b.git_sha, b.git_message, b.description).parse()?;
    let actor = caller.actor();
    let (build, release, deployment) = state
        .write(&caller, move |s| s.deploy(&app, &build, &options, &actor))
        .await?;
    enqueue(&state, &deployment).await;
    Ok(HttpResponse::Accepted()
        .json(json!({ "build": build, "release": release, "deployment": deployment })))
}

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
    Ok(HttpResponse::Ok().json(json!({ "deployments": deployments })))
}

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

pub fn deployment_path(
    app: &slipway_core::domain::AppName,
    raw: &str,
) -> Result<DeploymentId, ApiError> {
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
        super::traceparent(&req)
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
