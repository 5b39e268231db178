//! `/apps` and `/apps/{app}`.

use super::app_path;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::domain::{AppName, Deadline};

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
    Ok(HttpResponse::Created().json(app))
}

/// Every app the token reaches.
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut apps = state.db(|store| store.list_apps()).await?;
    apps.retain(|app| caller.grant().covers(&app.name));
    Ok(HttpResponse::Ok().json(json!({ "apps": apps })))
}

pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Read, Some(&name))?;
    let app = state.db(move |store| store.get_app(&name)).await?;
    Ok(HttpResponse::Ok().json(app))
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
    Ok(HttpResponse::Ok().json(app))
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
