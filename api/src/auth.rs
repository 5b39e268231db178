//! Who is calling: the `Caller` extractor checks `Authorization: Bearer
//! <token>` (or HTTP Basic with the token as password, for `curl -u :TOKEN`)
//! against the stored token hashes.

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::Engine;
use slipway_core::secret::{hash_token, Secret};
use slipway_core::store::Identity;
use std::future::Future;
use std::pin::Pin;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Already authenticated by the idempotency middleware.
        let known = req.extensions().get::<Caller>().cloned();
        let req = req.clone();
        Box::pin(async move {
            match known {
                Some(caller) => Ok(caller),
                None => authenticate(&req).await,
            }
        })
    }
}

/// Checks the request's token (401 when missing, unknown or expired), then
/// the token's write rate (429) unless the method only reads.
pub async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let hash = presented_hash(req)?;
    let state = state(req)?;
    let identity = state.db(move |store| store.authenticate(&hash)).await?;
    admit(req, &state, identity.ok_or_else(unknown_token)?)
}

/// The hash of the request's token, to look up; 401 when it has none.
pub fn presented_hash(req: &HttpRequest) -> Result<String, ApiError> {
    Ok(hash_token(presented_token(req)?.expose()))
}

/// 401 for a token no identity stands behind.
pub fn unknown_token() -> ApiError {
    ApiError::Unauthorized("unknown or expired token".into())
}

/// The caller behind the token's identity; 429 when a write goes over the
/// token's rate.
pub fn admit(req: &HttpRequest, state: &AppState, identity: Identity) -> Result<Caller, ApiError> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        state
            .write_limit
            .check(&identity.token)
            .map_err(ApiError::RateLimited)?;
    }
    Ok(Caller {
        identity,
        guard: None,
    })
}

/// The application state the request's app was built with.
pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("no application state".into()))
}

fn presented_token(req: &HttpRequest) -> Result<Secret<String>, ApiError> {
    let missing = || {
        ApiError::Unauthorized(
            "missing token: send `Authorization: Bearer <token>` (or `curl -u :<token>`)".into(),
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let (scheme, rest) = value.split_once(' ').ok_or_else(missing)?;
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
        // `user:password`: the token is the password, or the user when the
        // password is empty (`curl -u TOKEN:`).
        match decoded.split_once(':') {
            Some((user, "")) => user.to_owned(),
            Some((_, password)) => password.to_owned(),
            None => decoded,
        }
    } else {
        return Err(missing());
    };
    if token.is_empty() {
        return Err(missing());
    }
    Ok(Secret::new(token))
}
