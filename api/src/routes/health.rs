//! `/healthz` (the process answers) and `/readyz` (and can reach its database).

use super::openapi::answers::{HeaderTooLarge, Unavailable, UriTooLong};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use slipway_core::contract::Status;

#[utoipa::path(get, path = "/healthz", operation_id = "checkHealth", tag = "health",
    description = "Answers 200 `{\"status\": \"ok\"}` whenever the process serves requests. \
        Needs no token.",
    responses((status = 200, description = "The process is alive.", body = Status),
        UriTooLong, HeaderTooLarge))]
pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(Status::ok())
}

/// 503 whenever the database does not answer, whatever the reason.
#[utoipa::path(get, path = "/readyz", operation_id = "checkReady", tag = "health",
    description = "Answers 200 `{\"status\": \"ready\"}` when the database answers, 503 \
        whenever it does not, whatever the reason. Needs no token.",
    responses((status = 200, description = "The database answers.", body = Status),
        UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    web::block(move || store.ping())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(Status::ready()))
}
