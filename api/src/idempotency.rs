//! `Idempotency-Key` on POST and PATCH (the IETF httpapi draft): the first
//! response is kept with the key for 24 hours and replayed to repeats with
//! `Idempotent-Replayed: true`; the same key with another request is 422,
//! and while the first is still running, 409.
//!
//! The key is written by the store in the transaction of the request's
//! first write (see `AppState::write`), so the work and the key commit
//! together; the response is recorded right after.

use crate::auth;
use crate::caller::Caller;
use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use sha2::{Digest, Sha256};
use slipway_core::domain::InvalidInput;
use slipway_core::store::{IdempotencyGuard, Prior};
use std::sync::Arc;

const KEY_HEADER: &str = "idempotency-key";
const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let guarded = matches!(*req.method(), Method::POST | Method::PATCH);
    let key = match req.headers().get(KEY_HEADER) {
        Some(value) if guarded => value.clone(),
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let hash = auth::presented_hash(req.request())?;
    let state = auth::state(req.request())?;
    let body = req
        .extract::<web::Bytes>()
        .await
        .map_err(|err| crate::body::read_error(&err, crate::MAX_BODY_BYTES));
    let (key, body) = match parse_key(&key).and_then(|key| body.map(|body| (key, body))) {
        Ok(parsed) => parsed,
        Err(error) => {
            // Who asks comes first: a stranger gets 401 whatever the key or the body.
            auth::authenticate(req.request()).await?;
            return Err(error.into());
        }
    };
    let fingerprint = fingerprint(req.method().as_str(), &req.uri().to_string(), &body);
    req.set_payload(body.into());

    let (lookup_key, lookup_print) = (key.clone(), fingerprint.clone());
    let found = state
        .db(move |store| store.authenticate_with_prior(&hash, &lookup_key, &lookup_print))
        .await?;
    let (identity, prior) = found.ok_or_else(auth::unknown_token)?;
    let caller = auth::admit(req.request(), &state, identity)?;
    match prior {
        Prior::New => {}
        Prior::Mismatch => {
            return Err(ApiError::Invalid(InvalidInput::new(
                "Idempotency-Key",
                "was already used with a different request (method, path or body); \
                 send a new key",
            ))
            .into())
        }
        Prior::InProgress { lost: false } => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly".into(),
            )
            .into())
        }
        Prior::InProgress { lost: true } => {
            return Err(ApiError::Conflict(
                "the request first sent with this Idempotency-Key did its work but its \
                 response was lost; look at the app's releases and deployments"
                    .into(),
            )
            .into())
        }
        Prior::Done { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let response = HttpResponse::build(status)
                .insert_header((CONTENT_TYPE, "application/json"))
                .insert_header((REPLAYED_HEADER, "true"))
                .body(body);
            return Ok(req.into_response(response));
        }
    }

    let guard = Arc::new(IdempotencyGuard::new(
        caller.identity.token.clone(),
        key,
        fingerprint,
    ));
    req.extensions_mut().insert(Caller {
        guard: Some(guard.clone()),
        ..caller
    });
    let response = next.call(req).await?;
    if !guard.is_claimed() {
        // Nothing was written: a repeat runs afresh.
        return Ok(response.map_into_boxed_body());
    }
    let status = response.status().as_u16();
    let (req, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| ApiError::internal(std::io::Error::other(e.into().to_string())))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let recorded = state
        .db(move |store| store.record_idempotent_response(&guard, status, &text))
        .await;
    if let Err(err) = recorded {
        // The work is done and answered; a repeat will be told its response was lost.
        tracing::warn!(error = %err, "could not record an idempotent response");
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let key = value.to_str().ok().map(str::trim).unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !printable {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_BYTES} printable ASCII characters"
        )));
    }
    Ok(key.to_owned())
}

/// SHA-256 of the method, path with query, and body (each after its
/// length), in hex.
pub fn fingerprint(method: &str, uri: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), uri.as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
