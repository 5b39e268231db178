//! `/apps/{app}/processes`: the app's instances as its supervising worker
//! last saw them (the API may run on another machine than the instances).

use super::app_path;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;
use slipway_core::domain::Scope;

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Read, Some(&name))?;
    let processes = state.db(move |store| store.processes(&name)).await?;
    Ok(HttpResponse::Ok().json(json!({ "processes": processes })))
}
