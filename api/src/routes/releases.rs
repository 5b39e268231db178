//! `/apps/{app}/releases`: list, show, Convox's explicit create, and the
//! difference between two releases (build and env keys, never values).

use super::openapi::answers::*;
use super::openapi::params::{AppPath, IdempotencyKey, ReleasePath};
use super::{app_path, release_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use slipway_core::contract::{
    CreateRelease, DiffQuery, PageQuery, Release, ReleaseCreated, ReleaseDiff, ReleaseList,
};
use slipway_core::domain::{InvalidInput, ReleaseId, Scope};

#[utoipa::path(post, path = "/apps/{app}/releases", operation_id = "createRelease",
    tag = "releases",
    description = "Creates a release from an explicit build and/or a whole env (Convox's \
        `releases create`); what is left out comes from the app's latest release. It always \
        creates a release, even when nothing differs, and does not promote it. The \
        description is the explicit `description` if given (even empty), else `env add:A \
        change:B remove:C` comparing the env with the latest release's (empty when equal). A \
        `build` that is not a build of this app is 404.",
    params(AppPath, IdempotencyKey), request_body = CreateRelease,
    responses(
        (status = 201, description = "The new release (without env).", body = ReleaseCreated),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UriTooLong,
        UnsupportedMediaType, Invalid, RateLimited, HeaderTooLarge, Unavailable))]
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
    let created = ReleaseCreated { release };
    sorted_json(StatusCode::CREATED, &created)
}

#[utoipa::path(get, path = "/apps/{app}/releases", operation_id = "listReleases",
    tag = "releases",
    description = "Lists the app's releases, newest first, `limit` at a time, without their \
        env; page back with `before`. `status` is `active` for the app's active release.",
    params(AppPath, PageQuery),
    responses((status = 200, description = "A page of releases.", body = ReleaseList),
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
    let before = query.before(ReleaseId::parse)?;
    let releases = state
        .db(move |store| store.list_releases(&app, limit, before.as_ref()))
        .await?;
    sorted_json(StatusCode::OK, &ReleaseList::from(releases))
}

#[utoipa::path(get, path = "/apps/{app}/releases/{id}", operation_id = "getRelease",
    tag = "releases",
    description = "Returns one release of the app with its env; 409 when no configured key \
        opens its env.",
    params(ReleasePath),
    responses((status = 200, description = "The release with its env.", body = Release),
        Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, HeaderTooLarge, Unavailable))]
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

/// `GET /apps/{app}/releases/{id}/diff?against=R...`: what changes going
/// from `against` to `id`: the build, and the env keys added, changed and
/// removed. Values are never shown.
#[utoipa::path(get, path = "/apps/{app}/releases/{id}/diff", operation_id = "diffReleases",
    tag = "releases",
    description = "What changes going from the release `against` to this one: the build \
        (from, to) and the env keys added, changed and removed. Values are never shown. 404 \
        when either release is unknown; 422 when `against` is missing or not a release id; \
        409 when no configured key opens either env.",
    params(ReleasePath, DiffQuery),
    responses((status = 200, description = "The difference.", body = ReleaseDiff),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UriTooLong, Invalid,
        HeaderTooLarge, Unavailable))]
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
    sorted_json(StatusCode::OK, &ReleaseDiff::between(from, to))
}
