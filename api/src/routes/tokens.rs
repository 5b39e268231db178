//! `/tokens`: API tokens with a scope and apps (admin only). The token
//! itself is shown once, in the answer to its creation.

use super::openapi::answers::*;
use super::openapi::params::{IdempotencyKey, TokenPath};
use super::{clip, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ADMIN_TOKEN_NAME;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::{CreateToken, TokenList, TokenWithSecret};
use slipway_core::domain::{Scope, TokenId};

#[utoipa::path(post, path = "/tokens", operation_id = "createToken", tag = "tokens",
    description = "201 with the token (`slp_` and 43 base62 digits: 32 random bytes), shown \
        only here. Admin only.",
    params(IdempotencyKey), request_body = CreateToken,
    responses(
        (status = 201, description = "The token, with `token` (shown once).",
            body = TokenWithSecret),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let new = body.parse()?;
    let (token, secret) = state
        .write(&caller, move |store| store.create_token(&new))
        .await?;
    let shown = TokenWithSecret {
        token,
        secret: secret.expose().clone(),
    };
    sorted_json(StatusCode::CREATED, &shown)
}

#[utoipa::path(get, path = "/tokens", operation_id = "listTokens", tag = "tokens",
    description = "Every token, oldest first, never the token itself. Admin only.",
    responses((status = 200, description = "The tokens.", body = TokenList),
        Unauthorized, Forbidden, UriTooLong, HeaderTooLarge, Unavailable))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let tokens = state.db(|store| store.list_tokens()).await?;
    sorted_json(StatusCode::OK, &TokenList::from(tokens))
}

#[utoipa::path(delete, path = "/tokens/{id}", operation_id = "deleteToken", tag = "tokens",
    description = "The token stops working at once. The `admin` token from \
        `SLIPWAY_ADMIN_TOKEN` cannot be deleted (409): change the variable instead. Admin \
        only.",
    params(TokenPath),
    responses((status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, RateLimited, HeaderTooLarge,
        Unavailable))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = TokenId::parse(&path)
        .map_err(|_| ApiError::NotFound(format!("token `{}` not found", clip(&path))))?;
    state
        .db(move |store| store.delete_token(&id, ADMIN_TOKEN_NAME))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
