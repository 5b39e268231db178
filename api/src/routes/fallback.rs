//! actix's own error answers (no such route, a method the route lacks, ...)
//! in our JSON shape; a 405 lists the route's methods in `Allow`, as the
//! OpenAPI document describes them.

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::HttpResponse;
use slipway_core::contract::ErrorBody;

/// Gives actix's own error responses (no route, wrong method, ...) our JSON
/// shape; responses that already are JSON (or a console page) pass through.
pub(crate) fn json_error_body<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // The console's pages (HTML) are answers of their own too.
    let answered = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if answered {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{} is not allowed on this route", res.request().method()),
        ),
        s => ("error", s.canonical_reason().unwrap_or("error").to_owned()),
    };
    // A 405 says which methods the route has (RFC 9110, 15.5.6).
    let allow = (status == StatusCode::METHOD_NOT_ALLOWED)
        .then(|| res.request().match_pattern())
        .flatten()
        .and_then(|pattern| super::openapi::allowed(&pattern));
    let (req, _) = res.into_parts();
    let mut response = HttpResponse::build(status);
    if let Some(allow) = allow {
        response.insert_header((header::ALLOW, allow));
    }
    let response = response.json(ErrorBody::new(code, message));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
