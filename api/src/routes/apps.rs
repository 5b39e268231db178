//! `/apps` and `/apps/{app}`. An app is shown with where its services
//! answer through the router, from its active release's manifest.

use super::app_path;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use slipway_core::domain::{service_urls, AppName, Deadline, Scope, ServiceUrls};
use slipway_core::store::App;

const DEADLINE_FIELD: &str = "deadline_seconds";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    name: String,
    deadline_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    deadline_seconds: i64,
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateApp>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let name = AppName::parse(&body.name)?;
    let deadline = body
        .deadline_seconds
        .map(|s| Deadline::parse(s, DEADLINE_FIELD))
        .transpose()?;
    let actor = caller.actor();
    let app = state
        .write(&caller, move |store| {
            store.create_app(&name, deadline, &actor)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&state, app).await?))
}

/// Every app the token reaches.
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut apps = state.db(|store| store.list_apps()).await?;
    apps.retain(|app| caller.grant().covers(&app.name));
    Ok(HttpResponse::Ok().json(json!({ "apps": views(&state, apps).await? })))
}

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

pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<UpdateApp>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Admin, Some(&name))?;
    let deadline = Deadline::parse(body.deadline_seconds, DEADLINE_FIELD)?;
    let actor = caller.actor();
    let app = state
        .write(&caller, move |store| {
            store.update_app(&name, deadline, &actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, app).await?))
}

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

/// An app as the API shows it: the stored app and, for each service of its
/// active release that has a port, the URLs it answers at.
#[derive(Debug, Serialize)]
struct AppView {
    #[serde(flatten)]
    app: App,
    services: Vec<ServiceUrls>,
}

/// The apps with their services; the manifests are read in one query.
async fn views(state: &AppState, apps: Vec<App>) -> Result<Vec<AppView>, ApiError> {
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
            AppView { app, services }
        })
        .collect())
}

async fn view(state: &AppState, app: App) -> Result<AppView, ApiError> {
    let mut views = views(state, vec![app]).await?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal("an app without its view".into()))
}
