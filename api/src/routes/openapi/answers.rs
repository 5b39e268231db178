//! The error answers routes share, each a reusable response of the
//! document (`#/components/responses/NotFound`) with the `Error` body, and a
//! type that names it in a handler's `#[utoipa::path(responses(...))]`.

use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

macro_rules! answers {
    ($($name:ident = $status:literal, $code:literal, $description:literal;)*) => {
        $(
            #[doc = $description]
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    let answer = Ref::from_response_name(stringify!($name));
                    BTreeMap::from([($status.to_string(), answer.into())])
                }
            }
        )*

        /// Every shared answer by name, for the document's components.
        pub fn components() -> Vec<(&'static str, Response)> {
            vec![$((stringify!($name), error($status, $code, $description)),)*]
        }
    };
}

answers! {
    BadRequest = 400, "bad_request",
        "The request could not be read: malformed JSON, a wrong JSON type, a missing or \
         unknown field in the body, a bad query string (unknown parameter, non-integer \
         `limit`), or an `Idempotency-Key` that is not 1 to 255 printable ASCII characters.";
    Unauthorized = 401, "unauthorized",
        "No token, or an unknown or expired one. Send `Authorization: Bearer <token>`, or \
         HTTP Basic with the token as password (`curl -u :<token>`).";
    Forbidden = 403, "forbidden",
        "The token's scope or apps do not allow this.";
    NotFound = 404, "not_found",
        "No such app, or no such resource in it (a value that cannot be an id or a name \
         is not found either).";
    Conflict = 409, "conflict",
        "In conflict with the current state: a name already taken, a deployment already \
         under way, a release whose env no configured key opens (`release_unreadable`), or \
         a request with the same `Idempotency-Key` still in progress.";
    PayloadTooLarge = 413, "payload_too_large",
        "The body is over the route's limit: 1 MiB for builds, deploys, releases and env \
         changes, 16 KiB elsewhere.";
    UriTooLong = 414, "uri_too_long",
        "The path and query string are over 2048 bytes.";
    UnsupportedMediaType = 415, "unsupported_media_type",
        "A body was sent without `Content-Type: application/json`.";
    Invalid = 422, "invalid",
        "A value breaks a rule; the message names the field (`manifest.services.web.port: \
         ...`), or the `Idempotency-Key` was already used with a different request.";
    RateLimited = 429, "rate_limited",
        "Too many writes with this token; retry after `Retry-After` seconds.";
    HeaderTooLarge = 431, "header_too_large",
        "A header value is over 8192 bytes.";
    Unavailable = 503, "unavailable",
        "The database is unavailable; try again shortly.";
}

/// An error answer: the `Error` body, and the headers that come with it.
fn error(status: u16, code: &str, description: &str) -> Response {
    let example = serde_json::json!({ "error": { "code": code, "message": "..." } });
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .example(Some(example))
        .build();
    let header = |description: &str, kind: Type| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(kind)))
            .description(Some(description))
            .build()
    };
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    response = match status {
        401 => response.header(
            "WWW-Authenticate",
            header("`Bearer realm=\"slipway\"`.", Type::String),
        ),
        429 => response.header(
            "Retry-After",
            header("Seconds until a write is allowed again.", Type::Integer),
        ),
        _ => response,
    };
    response.build()
}
