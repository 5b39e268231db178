//! `/apps/{app}/processes`: the app's instances as its supervising worker
//! last saw them (the API may run on another machine than the instances),
//! each with the address it listens on.

use super::app_path;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::store::Process;

/// A process as shown: as stored, and where it listens.
#[derive(Debug, Serialize)]
struct ProcessView {
    #[serde(flatten)]
    process: Process,
    /// `127.0.0.1:<port>`: the local runtime's instances listen on the
    /// loopback interface of their worker's machine.
    address: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Read, Some(&name))?;
    let processes: Vec<ProcessView> = state
        .db(move |store| store.list_processes(&name))
        .await?
        .into_iter()
        .map(|process| ProcessView {
            address: process.port.map(|port| format!("127.0.0.1:{port}")),
            process,
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "processes": processes })))
}
