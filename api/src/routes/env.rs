//! `/apps/{app}/env`: the env of the latest release, and changes to it.

use super::app_path;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::{Description, EnvChange};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEnv {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    unset: Vec<String>,
    description: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    let (env, release) = state.db(move |store| store.env(&app)).await?;
    Ok(HttpResponse::Ok().json(json!({ "env": env, "release": release })))
}

/// 201 with the new release, or 200 with `"release": null` when nothing changed.
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<PatchEnv>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    let body = body.into_inner();
    let change = EnvChange::parse(body.set, body.unset)?;
    let description = body
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()?;
    let actor = caller.actor();
    let release = state
        .db(move |store| store.change_env(&app, &change, description.as_ref(), &actor))
        .await?;
    let response = match release {
        Some(_) => HttpResponse::Created().json(json!({ "release": release })),
        None => HttpResponse::Ok().json(json!({ "release": null })),
    };
    Ok(response)
}
