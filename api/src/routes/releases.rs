//! `/apps/{app}/releases`: list, show, Convox's explicit create, and the
//! difference between two releases (build and env keys, never values).

use super::{app_path, release_path, PageQuery};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::domain::{BuildId, Description, Env, EnvDiff, InvalidInput, ReleaseId};
use slipway_core::store::NewRelease;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRelease {
    build: Option<String>,
    env: Option<BTreeMap<String, String>>,
    description: Option<String>,
}

impl CreateRelease {
    fn parse(self) -> Result<NewRelease, InvalidInput> {
        let build = self
            .build
            .map(|b| BuildId::parse(&b).map_err(|e| InvalidInput::new("build", e.message)))
            .transpose()?;
        Ok(NewRelease {
            build,
            env: self.env.map(Env::parse).transpose()?,
            description: self
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
        })
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<CreateRelease>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let new = body.into_inner().parse()?;
    let actor = caller.actor();
    let release = state
        .write(&caller, move |store| {
            store.create_release(&app, &new, &actor)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({ "release": release })))
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Read, Some(&app))?;
    let limit = query.limit()?;
    let before = query.before(ReleaseId::parse)?;
    let releases = state
        .db(move |store| store.list_releases(&app, limit, before.as_ref()))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "releases": releases })))
}

pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Read, Some(&app))?;
    let id = release_path(&app, &path.1)?;
    let release = state.db(move |store| store.get_release(&app, &id)).await?;
    Ok(HttpResponse::Ok().json(release))
}

/// `?against=R...` of a diff: the release compared with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    against: Option<String>,
}

/// `GET /apps/{app}/releases/{id}/diff?against=R...`: what changes going
/// from `against` to `id`: the build, and the env keys added, changed and
/// removed. Values are never shown.
pub async fn diff(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Read, Some(&app))?;
    let id = release_path(&app, &path.1)?;
    let against = query
        .against
        .as_deref()
        .ok_or_else(|| InvalidInput::new("against", "is required: the release to compare with"))?;
    let against = ReleaseId::parse(against).map_err(|e| InvalidInput::new("against", e.message))?;
    let (from, to) = state
        .db(move |store| {
            Ok((
                store.get_release(&app, &against)?,
                store.get_release(&app, &id)?,
            ))
        })
        .await?;
    let (old, new) = (
        from.env.unwrap_or_else(Env::empty),
        to.env.unwrap_or_else(Env::empty),
    );
    let env = EnvDiff::between(&old, &new);
    Ok(HttpResponse::Ok().json(json!({
        "release": to.id,
        "against": from.id,
        "build": { "from": from.build, "to": to.build, "changed": from.build != to.build },
        "env": { "added": env.added(), "changed": env.changed(), "removed": env.removed() },
    })))
}
