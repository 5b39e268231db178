//! The Releases tab (`/ui/apps/{app}/releases`): the CLI's table, newest
//! first, paged with `before=` as the API is; and one release's page
//! (build, git sha, description, env keys, diff against the active release).

use super::page::{render, PageError};
use super::session::Viewer;
use super::view::{release_class, Nav, When};
use crate::routes::{app_path, release_path};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use slipway_core::contract::{PageQuery, ReleaseDiff};
use slipway_core::domain::{AppName, Build, ReleaseId, ReleaseStatus, Scope};
use slipway_core::store::{Release, Store, StoreError};

/// One line of the table.
struct ReleaseLine {
    id: String,
    status: &'static str,
    class: &'static str,
    active: bool,
    build: String,
    when: When,
    description: String,
}

#[derive(Template)]
#[template(path = "releases.html")]
struct ReleasesPage {
    nav: Option<Nav>,
    app: String,
    releases: Vec<ReleaseLine>,
    can_deploy: bool,
    /// Whether this is a page back in time (`before=`).
    paged: bool,
    /// The `before=` of the next page back, when there may be one.
    older: Option<String>,
}

/// `GET /ui/apps/{app}/releases`.
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path)?;
    viewer.require(Scope::Read, Some(&app))?;
    let limit = query
        .limit()
        .map_err(|e| PageError::bad_form(e.to_string()))?;
    let before = query
        .before(ReleaseId::parse)
        .map_err(|e| PageError::bad_form(e.to_string()))?;
    let paged = before.is_some();
    let listed = app.clone();
    let releases = state
        .db(move |s| s.list_releases(&listed, limit, before.as_ref()))
        .await?;
    let older = (releases.len() == limit as usize)
        .then(|| releases.last().map(|r| r.id.to_string()))
        .flatten();
    let page = ReleasesPage {
        nav: Some(viewer.nav()),
        can_deploy: viewer.can_deploy(&app),
        app: app.to_string(),
        releases: releases.into_iter().map(line).collect(),
        paged,
        older,
    };
    render(StatusCode::OK, &page)
}

fn line(release: Release) -> ReleaseLine {
    ReleaseLine {
        id: release.id.to_string(),
        status: release.status.as_str(),
        class: release_class(release.status),
        active: release.status == ReleaseStatus::Active,
        build: release.build.map(|b| b.to_string()).unwrap_or_default(),
        when: When::of(release.created_at),
        description: release.description,
    }
}

/// What changes going from the active release to another: keys only.
pub struct DiffView {
    pub against: String,
    pub build_from: String,
    pub build_to: String,
    pub build_changed: bool,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl DiffView {
    fn of(diff: ReleaseDiff) -> DiffView {
        let name = |b: Option<slipway_core::domain::BuildId>| {
            b.map(|b| b.to_string()).unwrap_or_else(|| "none".into())
        };
        DiffView {
            against: diff.against.to_string(),
            build_changed: diff.build.changed,
            build_from: name(diff.build.from),
            build_to: name(diff.build.to),
            added: diff.env.added().to_vec(),
            changed: diff.env.changed().to_vec(),
            removed: diff.env.removed().to_vec(),
        }
    }
}

/// A release with its env (values stay on the server), its build, and
/// its diff against the active release (None when it is the active one,
/// or none is active).
pub struct Loaded {
    pub release: Release,
    pub build: Option<Build>,
    pub env_keys: Vec<String>,
    pub diff: Option<DiffView>,
}

/// Loads what a release's page and its confirmation pages show.
pub fn load(store: &Store, app: &AppName, id: &ReleaseId) -> Result<Loaded, StoreError> {
    let release = store.get_release(app, id)?;
    let active = store.get_app(app)?.active_release;
    let build = match &release.build {
        Some(build) => Some(store.get_build(app, build)?),
        None => None,
    };
    let env_keys = release
        .env
        .as_ref()
        .map(|env| env.keys().map(str::to_owned).collect())
        .unwrap_or_default();
    let diff = match active {
        Some(active) if active != release.id => {
            let active = store.get_release(app, &active)?;
            Some(DiffView::of(ReleaseDiff::between(active, release.clone())))
        }
        _ => None,
    };
    Ok(Loaded {
        release,
        build,
        env_keys,
        diff,
    })
}

#[derive(Template)]
#[template(path = "release.html")]
struct ReleasePage {
    nav: Option<Nav>,
    app: String,
    id: String,
    status: &'static str,
    class: &'static str,
    active: bool,
    build: Option<String>,
    git_sha: Option<String>,
    git_message: Option<String>,
    description: String,
    actor: String,
    when: When,
    env_keys: Vec<String>,
    diff: Option<DiffView>,
    can_deploy: bool,
}

/// `GET /ui/apps/{app}/releases/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let app = app_path(&path.0)?;
    viewer.require(Scope::Read, Some(&app))?;
    let id = release_path(&app, &path.1)?;
    let loaded_app = app.clone();
    let loaded = state.db(move |s| load(s, &loaded_app, &id)).await?;
    let Loaded {
        release,
        build,
        env_keys,
        diff,
    } = loaded;
    let page = ReleasePage {
        nav: Some(viewer.nav()),
        can_deploy: viewer.can_deploy(&app),
        app: app.to_string(),
        id: release.id.to_string(),
        status: release.status.as_str(),
        class: release_class(release.status),
        active: release.status == ReleaseStatus::Active,
        build: release.build.map(|b| b.to_string()),
        git_sha: build.as_ref().and_then(|b| b.git_sha.clone()),
        git_message: build.and_then(|b| b.git_message).filter(|m| !m.is_empty()),
        description: release.description,
        actor: release.actor,
        when: When::of(release.created_at),
        env_keys,
        diff,
    };
    render(StatusCode::OK, &page)
}
