//! Signing in and out of the console, and who a console request comes
//! from: the [`Viewer`] extractor finds the server-side session its cookie
//! names and acts as the session's token (its scope and apps). Forms carry
//! a CSRF value derived from the session's secret, checked on every POST.

use super::page::{render, PageError, CLEARED_COOKIE};
use super::view::Nav;
use crate::caller::Caller;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use slipway_core::domain::{AppName, Scope};
use slipway_core::secret::{constant_time_eq, hash_token};
use slipway_core::store::SESSION_LIFETIME;
use std::future::Future;
use std::pin::Pin;

/// The cookie that names a session.
pub const COOKIE: &str = "slipway_session";

/// Who a console request comes from: a live session and its token's grant.
pub struct Viewer {
    pub caller: Caller,
    /// The value every form of this session carries in its `csrf` field.
    pub csrf: String,
    /// The SHA-256 of the session id, as stored.
    session: String,
}

impl Viewer {
    /// The token's name, shown in the header and recorded as the actor.
    pub fn name(&self) -> &str {
        &self.caller.identity.name
    }

    /// The header of this session's pages.
    pub fn nav(&self) -> Nav {
        Nav {
            who: self.name().to_owned(),
            csrf: self.csrf.clone(),
            admin: self.caller.grant().allows(Scope::Admin, None).is_ok(),
        }
    }

    /// A 403 page unless the token's grant covers `needed` on `app`.
    pub fn require(&self, needed: Scope, app: Option<&AppName>) -> Result<(), PageError> {
        self.caller
            .require(needed, app)
            .map_err(|err| PageError::forbidden(err.to_string()))
    }

    /// Whether the token may promote and roll back on `app`.
    pub fn can_deploy(&self, app: &AppName) -> bool {
        self.caller.grant().allows(Scope::Deploy, Some(app)).is_ok()
    }

    /// A 403 page unless `submitted` is this session's CSRF value.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if constant_time_eq(submitted.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "This form did not come from this console session (its CSRF value is missing \
                 or wrong). Go back, reload the page and try again.",
            ))
        }
    }
}

/// The CSRF value of a session: an HMAC of its stored id under its secret.
fn csrf_value(secret: &str, session: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"slipway console csrf:");
    mac.update(session.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The session id the request's cookie carries, if any.
fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let id = session_cookie(&req).ok_or(PageError::SignIn {
                clear_cookie: false,
            })?;
            let state = state(&req)?;
            let hash = hash_token(&id);
            let lookup = hash.clone();
            let session = state
                .db(move |store| store.get_session(&lookup))
                .await?
                .ok_or(PageError::SignIn { clear_cookie: true })?;
            if *req.method() != Method::GET && *req.method() != Method::HEAD {
                state
                    .write_limit
                    .check(&session.identity.token)
                    .map_err(|seconds| {
                        PageError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            format!("Too many changes with this token; retry in {seconds} s."),
                        )
                    })?;
            }
            Ok(Viewer {
                csrf: csrf_value(session.csrf_secret.expose(), &hash),
                caller: Caller {
                    identity: session.identity,
                    guard: None,
                },
                session: hash,
            })
        })
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(PageError::internal)
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    nav: Option<Nav>,
    error: Option<&'a str>,
}

/// `GET /ui/signin`: the form where a token is pasted.
pub async fn form() -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &SignInPage {
            nav: None,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// `POST /ui/signin`: a known, unexpired token opens a session and sets its
/// cookie; anything else shows the form again with the reason.
pub async fn sign_in(
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, PageError> {
    // No session yet, so no CSRF secret: a cross-site form is refused by
    // its origin instead (browsers send `Origin` on every POST).
    if !same_origin(&req) {
        return Err(PageError::forbidden(
            "Sign in from this console's own page.",
        ));
    }
    let state = state(&req)?;
    let token = form.into_inner().token;
    let hash = hash_token(token.trim());
    let identity = state.db(move |store| store.authenticate(&hash)).await?;
    let Some(identity) = identity else {
        let page = SignInPage {
            nav: None,
            error: Some("That token is unknown or has expired."),
        };
        return render(StatusCode::UNAUTHORIZED, &page);
    };
    // Signing in again replaces the browser's session, if it had one.
    let previous = session_cookie(&req).map(|id| hash_token(&id));
    let session = state
        .db(move |store| {
            if let Some(previous) = &previous {
                store.delete_session(previous)?;
            }
            store.delete_expired_sessions()?;
            store.create_session(&identity.token, SESSION_LIFETIME)
        })
        .await?;
    let mut cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}",
        session.id.expose(),
        SESSION_LIFETIME.num_seconds()
    );
    if over_tls(&req) {
        cookie.push_str("; Secure");
    }
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| PageError::internal())?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui"))
        .insert_header((header::SET_COOKIE, cookie))
        .finish())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /ui/signout`: ends the session and forgets the cookie.
pub async fn sign_out(
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let state = state(&req)?;
    let session = viewer.session;
    state
        .db(move |store| store.delete_session(&session))
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui/signin"))
        .insert_header((header::SET_COOKIE, CLEARED_COOKIE))
        .finish())
}

/// Whether the request came over TLS: on the connection or, behind a
/// proxy, as `X-Forwarded-Proto: https` (or `Forwarded: proto=https`).
fn over_tls(req: &HttpRequest) -> bool {
    let forwarded = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded || req.connection_info().scheme() == "https"
}

/// True unless the request names another origin than the host it was sent to.
fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let origin = origin.to_str().unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}
