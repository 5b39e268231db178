//! The Tokens pages, for admin tokens only (`/ui/tokens`): every API
//! token's name, scope, apps and times, never the token itself; and
//! Revoke, after a confirmation page. Revoking the session's own token
//! ends the session (a session lives only as long as its token).

use super::page::{render, PageError, CLEARED_COOKIE};
use super::session::{CsrfForm, Viewer};
use super::view::{Nav, When};
use crate::state::AppState;
use crate::ADMIN_TOKEN_NAME;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::domain::{Scope, TokenId};
use slipway_core::store::Token;

/// One token as listed.
struct TokenLine {
    id: String,
    name: String,
    scope: &'static str,
    apps: String,
    created: When,
    expires: Option<When>,
    last_used: Option<When>,
    /// The configured admin token cannot be revoked here.
    configured: bool,
    /// The token this session signed in with.
    own: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Option<Nav>,
    tokens: Vec<TokenLine>,
}

#[derive(Template)]
#[template(path = "tokens_revoke.html")]
struct RevokePage {
    nav: Option<Nav>,
    token: TokenLine,
    csrf: String,
}

/// `GET /ui/tokens`.
pub async fn list(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    let tokens = state.db(|s| s.list_tokens()).await?;
    let own = viewer.caller.identity.token.clone();
    let page = TokensPage {
        nav: Some(viewer.nav()),
        tokens: tokens.into_iter().map(|t| line(t, &own)).collect(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /ui/tokens/{id}/revoke`: what Revoke will do, and its form.
pub async fn confirm(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    let id = token_path(&path)?;
    let tokens = state.db(|s| s.list_tokens()).await?;
    let own = viewer.caller.identity.token.clone();
    let token = tokens
        .into_iter()
        .find(|t| t.id == id)
        .map(|t| line(t, &own))
        .ok_or_else(no_such_token)?;
    if token.configured {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "This token comes from SLIPWAY_ADMIN_TOKEN: change that variable to replace it.",
        ));
    }
    let page = RevokePage {
        nav: Some(viewer.nav()),
        token,
        csrf: viewer.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /ui/tokens/{id}/revoke`: deletes the token, as the API's
/// `DELETE /tokens/{id}` does; back to the list, or to sign in when it was
/// this session's own.
pub async fn revoke(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    viewer.require(Scope::Admin, None)?;
    viewer.check_csrf(&form.csrf)?;
    let id = token_path(&path)?;
    let own = id == viewer.caller.identity.token;
    state
        .db(move |s| s.delete_token(&id, ADMIN_TOKEN_NAME))
        .await?;
    if own {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/ui/signin"))
            .insert_header((header::SET_COOKIE, CLEARED_COOKIE))
            .finish());
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui/tokens"))
        .finish())
}

fn token_path(raw: &str) -> Result<TokenId, PageError> {
    TokenId::parse(raw).map_err(|_| no_such_token())
}

fn no_such_token() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "There is no such token.")
}

fn line(token: Token, own: &TokenId) -> TokenLine {
    let apps: Vec<String> = token.apps.iter().map(|a| a.to_string()).collect();
    TokenLine {
        own: token.id == *own,
        configured: token.name == ADMIN_TOKEN_NAME,
        id: token.id.to_string(),
        name: token.name,
        scope: token.scope.as_str(),
        apps: if apps.is_empty() {
            "every app".into()
        } else {
            apps.join(", ")
        },
        created: When::of(token.created_at),
        expires: token.expires_at.map(When::of),
        last_used: token.last_used_at.map(When::of),
    }
}
