//! `/healthz` (the process answers) and `/readyz` (and can reach its database).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 503 whenever the database does not answer, whatever the reason.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    web::block(move || store.ping())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
