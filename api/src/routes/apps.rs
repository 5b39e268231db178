//! `/apps` and `/apps/{app}`. An app is shown with where its services
//! answer through the router, from its active release's manifest.

use super::openapi::answers::*;
use super::openapi::params::{AppPath, IdempotencyKey};
use super::{app_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::{App, AppList, CreateApp, UpdateApp};
use slipway_core::domain::{service_urls, Scope};
use slipway_core::store;

#[utoipa::path(post, path = "/apps", operation_id = "createApp", tag = "apps",
    description = "Creates an app with no builds and no releases. `deadline_seconds` defaults \
        to 600. 409 if an app of that name exists, or was deleted and its instances are still \
        being stopped (try again in a minute).",
    params(IdempotencyKey), request_body = CreateApp,
    responses((status = 201, description = "The new app.", body = App),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateApp>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let (name, deadline) = body.parse()?;
    let actor = caller.actor();
    let app = state
        .write(&caller, move |store| {
            store.create_app(&name, deadline, &actor)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&state, app).await?))
}

/// Every app the token reaches.
#[utoipa::path(get, path = "/apps", operation_id = "listApps", tag = "apps",
    description = "Lists every app the token reaches, sorted by name, each with its \
        `services` as `GET /apps/{app}` shows them. This listing is not paged.",
    responses((status = 200, description = "The apps.", body = AppList),
        Unauthorized, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut apps = state.db(|store| store.list_apps()).await?;
    apps.retain(|app| caller.grant().covers(&app.name));
    let apps = AppList {
        apps: views(&state, apps).await?,
    };
    sorted_json(StatusCode::OK, &apps)
}

#[utoipa::path(get, path = "/apps/{app}", operation_id = "getApp", tag = "apps",
    description = "Returns the app, with `services`: where each service of its active \
        release answers through the router.",
    params(AppPath),
    responses((status = 200, description = "The app.", body = App),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Read, Some(&name))?;
    let app = state.db(move |store| store.get_app(&name)).await?;
    Ok(HttpResponse::Ok().json(view(&state, app).await?))
}

#[utoipa::path(patch, path = "/apps/{app}", operation_id = "updateApp", tag = "apps",
    description = "Sets the app's rollout deadline (`deadline_seconds`, required).",
    params(AppPath, IdempotencyKey), request_body = UpdateApp,
    responses((status = 200, description = "The app.", body = App),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<UpdateApp>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Admin, Some(&name))?;
    let deadline = body.parse()?;
    let actor = caller.actor();
    let app = state
        .write(&caller, move |store| {
            store.update_app(&name, deadline, &actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, app).await?))
}

#[utoipa::path(delete, path = "/apps/{app}", operation_id = "deleteApp", tag = "apps",
    description = "Deletes the app. From this response on the app is not found (404) for \
        every route, and its open deployment, if any, ends `failed` with reason `app deleted` \
        (a `deployment.failed` event, then `app.deleted`). A worker then stops every instance \
        of the app and, once none is left, removes its builds, releases and deployments; its \
        events are kept. Until then the name cannot be used for a new app (409).",
    params(AppPath),
    responses((status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound, UriTooLong, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Admin, Some(&name))?;
    let actor = caller.actor();
    state
        .write(&caller, move |store| store.delete_app(&name, &actor))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The apps with their services; the manifests are read in one query.
async fn views(state: &AppState, apps: Vec<store::App>) -> Result<Vec<App>, ApiError> {
    let active: Vec<_> = apps
        .iter()
        .filter_map(|app| app.active_release.clone())
        .collect();
    let manifests = state.db(move |store| store.list_manifests(&active)).await?;
    let router = state.router_url.as_ref();
    Ok(apps
        .into_iter()
        .map(|app| {
            let services = app
                .active_release
                .as_ref()
                .and_then(|release| manifests.get(release))
                .map(|manifest| service_urls(router, &app.name, manifest))
                .unwrap_or_default();
            App::new(app, services)
        })
        .collect())
}

async fn view(state: &AppState, app: store::App) -> Result<App, ApiError> {
    let mut views = views(state, vec![app]).await?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal("an app without its view".into()))
}
