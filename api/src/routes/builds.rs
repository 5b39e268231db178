//! `/apps/{app}/builds`: a build creates a release; it does not promote.

use super::{app_path, build_path, PageQuery};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use slipway_core::domain::Scope;
use slipway_core::domain::{BuildId, Description, GitInfo, InvalidInput, Manifest};
use slipway_core::store::NewBuild;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBuild {
    manifest: serde_json::Value,
    git_sha: Option<String>,
    git_message: Option<String>,
    description: Option<String>,
}

impl CreateBuild {
    pub fn new(
        manifest: serde_json::Value,
        git_sha: Option<String>,
        git_message: Option<String>,
        description: Option<String>,
    ) -> CreateBuild {
        CreateBuild {
            manifest,
            git_sha,
            git_message,
            description,
        }
    }

    pub fn parse(&self) -> Result<NewBuild, InvalidInput> {
        let git = match (&self.git_sha, &self.git_message) {
            (Some(sha), message) => Some(GitInfo::parse(sha, message.as_deref())?),
            (None, Some(_)) => {
                return Err(InvalidInput::new(
                    "git_message",
                    "is given without `git_sha`",
                ))
            }
            (None, None) => None,
        };
        Ok(NewBuild {
            manifest: Manifest::from_json(&self.manifest)?,
            git,
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
    body: web::Json<CreateBuild>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Deploy, Some(&app))?;
    let new = body.parse()?;
    let actor = caller.actor();
    let (build, release) = state
        .write(&caller, move |store| store.create_build(&app, &new, &actor))
        .await?;
    Ok(HttpResponse::Created().json(json!({ "build": build, "release": release })))
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
    let before = query.before(BuildId::parse)?;
    let builds = state
        .db(move |store| store.list_builds(&app, limit, before.as_ref()))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "builds": builds })))
}

pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path.0)?;
    caller.require(Scope::Read, Some(&app))?;
    let id = build_path(&app, &path.1)?;
    let build = state.db(move |store| store.get_build(&app, &id)).await?;
    Ok(HttpResponse::Ok().json(build))
}
