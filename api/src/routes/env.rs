//! `/apps/{app}/env`: the env of the latest release, and changes to it.

use super::app_path;
use super::deployments::{enqueue, promote_options};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::domain::{Description, EnvChange, InvalidInput};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEnv {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    unset: Vec<String>,
    description: Option<String>,
    /// Promote the new release at once (the console's "Apply Changes").
    #[serde(default)]
    promote: bool,
    deadline_seconds: Option<i64>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Read, Some(&app))?;
    let (env, release) = state.db(move |store| store.get_env(&app)).await?;
    Ok(HttpResponse::Ok().json(json!({ "env": env, "release": release })))
}

/// 201 with the new release, or 200 with `"release": null` when nothing
/// changed; with `"promote": true`, 202 with the release and its deployment.
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<PatchEnv>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let body = body.into_inner();
    let change = EnvChange::parse(body.set, body.unset)?;
    let description = body
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()?;
    let actor = caller.actor();
    if !body.promote {
        if body.deadline_seconds.is_some() || body.minimum.is_some() || body.maximum.is_some() {
            let message = "only applies with `\"promote\": true`";
            return Err(InvalidInput::new("deadline_seconds", message).into());
        }
        let release = state
            .write(&caller, move |store| {
                store.change_env(&app, &change, description.as_ref(), &actor)
            })
            .await?;
        return Ok(match release {
            Some(_) => HttpResponse::Created().json(json!({ "release": release })),
            None => HttpResponse::Ok().json(json!({ "release": null })),
        });
    }
    let options = promote_options(body.deadline_seconds, body.minimum, body.maximum, &req)?;
    let started = state
        .write(&caller, move |store| {
            store.change_env_and_promote(&app, &change, description.as_ref(), &options, &actor)
        })
        .await?;
    Ok(match started {
        Some((release, deployment)) => {
            enqueue(&state, &deployment).await;
            HttpResponse::Accepted().json(json!({ "release": release, "deployment": deployment }))
        }
        None => HttpResponse::Ok().json(json!({ "release": null, "deployment": null })),
    })
}
