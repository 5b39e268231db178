//! `/apps/{app}/builds`: a build creates a release; it does not promote.

use super::openapi::answers::*;
use super::openapi::params::{AppPath, BuildPath, IdempotencyKey};
use super::{app_path, build_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::{Build, BuildCreated, BuildList, CreateBuild, PageQuery};
use slipway_core::domain::{BuildId, Scope};

#[utoipa::path(post, path = "/apps/{app}/builds", operation_id = "createBuild", tag = "builds",
    description = "Stores a build (a manifest and, optionally, the commit it came from) and \
        creates a release pairing it with the env of the app's latest release (empty if \
        none). It does not promote the release. The release's description is the explicit \
        `description` if given (even empty), else `build <sha10> <subject>` from `git_sha` \
        (first 10 hex digits, lower-case) and the first line of `git_message` (`build \
        <sha10>` without a message), else empty. `git_message` without `git_sha` is 422. The \
        manifest's `domains` are claimed for the app in the same transaction: a domain \
        another app holds (a deleted app not yet purged too) is 422 on its field and nothing \
        is written.",
    params(AppPath, IdempotencyKey), request_body = CreateBuild,
    responses(
        (status = 201, description = "The build and the release it created.", body = BuildCreated),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
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
    let created = BuildCreated { build, release };
    sorted_json(StatusCode::CREATED, &created)
}

#[utoipa::path(get, path = "/apps/{app}/builds", operation_id = "listBuilds", tag = "builds",
    description = "Lists the app's builds, newest first, `limit` at a time; page back with \
        `before`.",
    params(AppPath, PageQuery),
    responses((status = 200, description = "A page of builds.", body = BuildList),
        BadRequest, Unauthorized, Forbidden, NotFound, UriTooLong, Invalid, HeaderTooLarge,
        Unavailable))]
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
    sorted_json(StatusCode::OK, &BuildList::from(builds))
}

#[utoipa::path(get, path = "/apps/{app}/builds/{id}", operation_id = "getBuild", tag = "builds",
    description = "Returns one build of the app, with its canonical manifest.",
    params(BuildPath),
    responses((status = 200, description = "The build.", body = Build),
        Unauthorized, Forbidden, NotFound, UriTooLong, HeaderTooLarge, Unavailable))]
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
