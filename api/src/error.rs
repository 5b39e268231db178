//! The API's one error type and the JSON shape every error takes:
//! `{"error": {"code", "message"}}`.
//!
//! Policy: the caller's mistakes (4xx) say exactly what to fix, naming the
//! field, never echoing an env value. Our failures (5xx) log the whole chain
//! and answer with no internals.

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use slipway_core::contract::ErrorBody;
use slipway_core::domain::InvalidInput;
use slipway_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A release's env does not open with the configured keys; what can be
    /// done about it, never a value.
    #[error("{0}")]
    ReleaseUnreadable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    HeaderTooLarge(String),
    /// Too many writes from one token; retry after this many seconds.
    #[error("too many writes with this token; retry in {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The stable, machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::ReleaseUnreadable(_) => "release_unreadable",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::HeaderTooLarge(_) => "header_too_large",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Invalid(_) => "invalid",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(err))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(e) => ApiError::Invalid(e),
            StoreError::UnreadableRelease {
                app,
                release,
                source,
            } => ApiError::ReleaseUnreadable(unreadable_release(&app, &release, &source)),
            e @ (StoreError::Pool(_) | StoreError::Connect(_)) => ApiError::Unavailable(e),
            e if e.is_connection_lost() => ApiError::Unavailable(e),
            e => ApiError::internal(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::ReleaseUnreadable(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeaderTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.status_code().is_server_error() {
            tracing::error!(error = %error_chain(self), code = self.code(), "request failed");
        }
        let mut response = HttpResponse::build(self.status_code())
            .json(ErrorBody::new(self.code(), self.to_string()));
        match self {
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"slipway\""),
                );
            }
            ApiError::RateLimited(seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        response
    }
}

/// Every new release starts from the latest one's env, so one that no key
/// opens blocks builds and env changes until it is dealt with: say how.
/// The seal error names key ids at most.
fn unreadable_release(app: &str, release: &str, cause: &impl std::fmt::Display) -> String {
    format!(
        "release {release}'s env cannot be opened with the configured SLIPWAY_SECRET_KEY / \
         SLIPWAY_SECRET_KEY_PREVIOUS ({cause}). Restore the key that sealed it (as \
         SLIPWAY_SECRET_KEY_PREVIOUS), or replace the env whole: `POST /apps/{app}/releases` \
         with `env`, or `slipway releases rollback` to a release whose env opens"
    )
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl From<JsonPayloadError> for ApiError {
    fn from(err: JsonPayloadError) -> Self {
        match err {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => too_large(limit),
            JsonPayloadError::Payload(PayloadError::Overflow) => too_large(crate::MAX_BODY_BYTES),
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            JsonPayloadError::Deserialize(e) => ApiError::BadRequest(describe_json_error(&e)),
            _ => ApiError::BadRequest("could not read the request body".into()),
        }
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("the request body is over the {limit}-byte limit"))
}

/// serde's own messages can quote the offending value (`invalid type: string
/// "hunter2"`), and that value may be a secret: keep field names, drop values.
pub(crate) fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("at line {} column {}", err.line(), err.column());
    match err.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON {at}"),
        Category::Io => "could not read the request body".into(),
        Category::Data => {
            let message = err.to_string();
            let message = message.strip_suffix(&format!(" {at}")).unwrap_or(&message);
            let names_a_field = ["unknown field", "missing field", "duplicate field"]
                .iter()
                .any(|p| message.starts_with(p));
            if names_a_field {
                format!("{message} ({at})")
            } else {
                match message.rfind(", expected ") {
                    Some(i) => format!("wrong type or value {at}: {}", &message[i + 2..]),
                    None => format!("wrong type or value {at}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_echo_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            set: std::collections::BTreeMap<String, String>,
        }
        let err = serde_json::from_str::<Body>(r#"{"set": "SECRET=hunter2"}"#).unwrap_err();
        let message = describe_json_error(&err);
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("expected a map"), "{message}");

        let err = serde_json::from_str::<Body>(r#"{"set": {}, "sett": 1}"#).unwrap_err();
        assert!(describe_json_error(&err).starts_with("unknown field `sett`"));

        let err = serde_json::from_str::<Body>(r#"{"set": {"#).unwrap_err();
        assert!(describe_json_error(&err).starts_with("malformed JSON"));
    }
}
