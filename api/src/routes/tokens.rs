//! `/tokens`: API tokens with a scope and apps (admin only). The token
//! itself is shown once, in the answer to its creation.

use super::clip;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ADMIN_TOKEN_NAME;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::token::parse_lifetime;
use slipway_core::domain::{AppName, InvalidInput, Scope, TokenId, TokenName};
use slipway_core::store::NewToken;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    scope: String,
    #[serde(default)]
    apps: Vec<String>,
    /// Seconds until the token stops working; none: never.
    expires_in: Option<i64>,
}

/// Most apps one token may name.
const MAX_APPS: usize = 100;

impl CreateToken {
    fn parse(&self) -> Result<NewToken, InvalidInput> {
        if self.apps.len() > MAX_APPS {
            return Err(InvalidInput::new(
                "apps",
                format!("at most {MAX_APPS} apps; leave it empty for all apps"),
            ));
        }
        let mut apps = self
            .apps
            .iter()
            .enumerate()
            .map(|(i, a)| {
                AppName::parse(a).map_err(|e| InvalidInput::new(format!("apps[{i}]"), e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        apps.sort();
        apps.dedup();
        Ok(NewToken {
            name: TokenName::parse(&self.name)?,
            scope: Scope::parse(&self.scope)?,
            apps,
            lifetime: self.expires_in.map(parse_lifetime).transpose()?,
        })
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let new = body.parse()?;
    let (token, secret) = state
        .write(&caller, move |store| store.create_token(&new))
        .await?;
    let mut shown = json!(token);
    shown["token"] = json!(secret.expose());
    Ok(HttpResponse::Created().json(shown))
}

pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let tokens = state.db(|store| store.list_tokens()).await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin, None)?;
    let id = TokenId::parse(&path)
        .map_err(|_| ApiError::NotFound(format!("token `{}` not found", clip(&path))))?;
    state
        .db(move |store| store.delete_token(&id, ADMIN_TOKEN_NAME))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
