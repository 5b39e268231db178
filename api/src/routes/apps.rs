//! `/apps` and `/apps/{app}`.

use super::app_path;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
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
    let name = AppName::parse(&body.name)?;
    let deadline = body
        .deadline_seconds
        .map(|s| Deadline::parse(s, DEADLINE_FIELD))
        .transpose()?;
    let actor = caller.actor();
    let app = state
        .db(move |store| store.create_app(&name, deadline, &actor))
        .await?;
    Ok(HttpResponse::Created().json(app))
}

pub async fn list(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let apps = state.db(|store| store.list_apps()).await?;
    Ok(HttpResponse::Ok().json(json!({ "apps": apps })))
}

pub async fn show(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
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
    let deadline = Deadline::parse(body.deadline_seconds, DEADLINE_FIELD)?;
    let actor = caller.actor();
    let app = state
        .db(move |store| store.update_app(&name, deadline, &actor))
        .await?;
    Ok(HttpResponse::Ok().json(app))
}

pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    let actor = caller.actor();
    state
        .db(move |store| store.delete_app(&name, &actor))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
