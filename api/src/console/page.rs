//! What every console page shares: rendering a template into an HTML
//! answer, errors as pages (never JSON), the security headers, and the
//! static files served from the binary.

use super::view::Nav;
use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

/// The console's pages load scripts, styles and forms from the server
/// itself only; nothing inline, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; \
    base-uri 'none'";

const HTML: &str = "text/html; charset=utf-8";

/// A `Set-Cookie` value that makes the browser forget its session.
pub const CLEARED_COOKIE: &str = "slipway_session=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0";

/// Renders `template` as a `status` page.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, PageError> {
    let body = template.render().map_err(|err| {
        tracing::error!(error = %err, "a console template failed to render");
        PageError::internal()
    })?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HTML))
        .body(body))
}

/// A console request that failed: shown as a page in words, or, for a
/// request without a live session, a redirect to sign in.
#[derive(Debug)]
pub enum PageError {
    /// No session, or one that ended: go and sign in.
    SignIn { clear_cookie: bool },
    /// A page saying what went wrong.
    Shown { status: StatusCode, message: String },
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError::Shown {
            status,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_form(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal() -> PageError {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server; try again shortly.",
        )
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SignIn { .. } => f.write_str("sign in first"),
            PageError::Shown { message, .. } => f.write_str(message),
        }
    }
}

/// The API's errors keep their status and words; a server error is logged
/// whole (as the API logs it) and shown without internals.
impl From<ApiError> for PageError {
    fn from(err: ApiError) -> PageError {
        let status = err.status_code();
        if status.is_server_error() {
            // Logs the full chain, as the API does.
            let _ = err.error_response();
            return PageError::new(
                status,
                "Something went wrong on the server; try again shortly.",
            );
        }
        PageError::new(status, err.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Shown { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn { clear_cookie } => {
                let mut response = HttpResponse::SeeOther();
                response.insert_header((header::LOCATION, "/ui/signin"));
                if *clear_cookie {
                    response.insert_header((header::SET_COOKIE, CLEARED_COOKIE));
                }
                response.finish()
            }
            PageError::Shown { status, message } => error_page(*status, message),
        }
    }
}

/// A page saying `message`, with the status's name as its title.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let page = ErrorPage {
        nav: None,
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, HTML))
            .body(body),
        Err(_) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(message.to_owned()),
    }
}

/// Puts the security headers on every console answer, makes pages
/// uncacheable, and turns any error answer that is not already a page
/// (actix's own 404 and 405, a body it could not read) into one.
pub async fn console_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Handlers' and extractors' errors arrive here as answers already.
    let response = next.call(req).await?.map_into_boxed_body();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let status = response.status();
    let mut response = if (status.is_client_error() || status.is_server_error()) && !is_html {
        let (req, _) = response.into_parts();
        ServiceResponse::new(req, error_page(status, words(status)))
    } else {
        response
    };
    add_headers(response.headers_mut());
    Ok(response)
}

/// What a page says for an error actix answered by itself.
fn words(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "There is no such page.",
        StatusCode::METHOD_NOT_ALLOWED => "This page cannot be used that way.",
        StatusCode::PAYLOAD_TOO_LARGE => "What was sent is too large.",
        s if s.is_server_error() => "Something went wrong on the server; try again shortly.",
        _ => "The request could not be understood.",
    }
}

fn add_headers(headers: &mut actix_web::http::header::HeaderMap) {
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send
    // `Origin: null` with every form POST, and sign-in refuses that as
    // cross-site. Other sites still get no referrer.
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// htmx, kept in the repository (see `static/htmx.min.js.LICENSE`).
const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../static/console.css");

/// Static files never change within a build: cached for a year.
fn asset(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}

pub async fn htmx() -> HttpResponse {
    asset("text/javascript; charset=utf-8", HTMX)
}

pub async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// htmx's server-sent events extension, kept in the repository (see
/// `static/htmx-ext-sse.min.js.LICENSE`): a running deployment's page follows
/// it with this.
const HTMX_SSE: &[u8] = include_bytes!("../../static/htmx-ext-sse.min.js");

pub async fn htmx_sse() -> HttpResponse {
    asset("text/javascript; charset=utf-8", HTMX_SSE)
}
