//! `OptionalJson<T>`: a JSON body that may be left out entirely (CI scripts
//! promote with a bare `POST`); an empty body means `T::default()`.

use crate::error::{describe_json_error, ApiError};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

pub struct OptionalJson<T>(T);

/// The body limit of a route, for the messages of bodies read as bytes.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// JSON bodies up to `limit` bytes, with our error shape.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| ApiError::from(err).into())
}

/// Why a body could not be read as bytes: over `limit`, or broken.
pub fn read_error(err: &actix_web::Error, limit: usize) -> ApiError {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => crate::error::too_large(limit),
        _ => ApiError::BadRequest("could not read the request body".into()),
    }
}

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(crate::MAX_BODY_BYTES, |l| l.0);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|err| read_error(&err, limit))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as JSON with `Content-Type: application/json`".into(),
                ));
            }
            serde_json::from_slice(&bytes)
                .map(OptionalJson)
                .map_err(|e| ApiError::BadRequest(describe_json_error(&e)))
        })
    }
}
