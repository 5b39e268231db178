//! `/apps/{app}/processes`: the app's instances as its supervising worker
//! last saw them (the API may run on another machine than the instances),
//! each with the address it listens on.

use super::openapi::answers::*;
use super::openapi::params::AppPath;
use super::{app_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::ProcessList;
use slipway_core::domain::Scope;

#[utoipa::path(get, path = "/apps/{app}/processes", operation_id = "listProcesses",
    tag = "apps",
    description = "Every instance of the app as the worker supervising it last saw it (within \
        about a second): id, service, release, status (`starting` until it first passes its \
        health check, `running`, `crashed` while it waits out its restart backoff, `stopping` \
        while a rollout stops it), how often its service was restarted, the port it listens \
        on and its `address` (`127.0.0.1:<port>`), and when it started. Between deployments \
        the worker keeps the active release running: it restarts crashed instances after a \
        backoff doubling from 1 s to 60 s and records each crash as an `app.crashed` event.",
    params(AppPath),
    responses(
        (status = 200, description = "The app's processes, by service and age.",
            body = ProcessList),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = app_path(&path)?;
    caller.require(Scope::Read, Some(&name))?;
    let processes = state.db(move |store| store.list_processes(&name)).await?;
    sorted_json(StatusCode::OK, &ProcessList::from(processes))
}
