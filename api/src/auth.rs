//! Who is calling: the `Caller` extractor checks `Authorization: Bearer
//! <token>` (or HTTP Basic with the token as password, for `curl -u :TOKEN`)
//! against the stored token hashes.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use slipway_core::secret::{hash_token, Secret};
use slipway_core::store::Identity;
use std::future::Future;
use std::pin::Pin;

/// The authenticated identity of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

impl Caller {
    /// The name recorded as `actor` on what this request changes.
    pub fn actor(&self) -> String {
        self.0.name.clone()
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = presented_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::BadRequest("no application state".into()))?;
            let hash = hash_token(token.expose());
            match state.db(move |store| store.authenticate(&hash)).await? {
                Some(identity) => Ok(Caller(identity)),
                None => Err(ApiError::Unauthorized("unknown or expired token".into())),
            }
        })
    }
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
