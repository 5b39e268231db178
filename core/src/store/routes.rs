//! What the router reads, every few hundred milliseconds: each live app with
//! the releases whose instances may answer its requests (the active one and
//! the one a deployment is bringing up). Two queries for all apps at once,
//! whatever their number, reading ids only: releases never change, so their
//! manifests are read once, by release (`manifests`), also by the API to
//! show where each app's services answer.

use super::rows::builds::parse_manifest;
use super::rows::deployments::open_statuses;
use super::schema::{apps, builds, deployments, releases};
use super::{Store, StoreError};
use crate::domain::{AppName, Manifest, ReleaseId};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// An app the router serves, and the releases it may send requests to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRoutes {
    pub app: AppName,
    /// The active release first (when there is one), then the release of
    /// the deployment under way (when there is one and it is another).
    pub releases: Vec<ReleaseId>,
}

impl Store {
    /// Every app that is not deleted and has an active release or a
    /// deployment under way, by name; apps with neither are left out.
    pub fn list_routes(&self) -> Result<Vec<AppRoutes>, StoreError> {
        self.read(|conn| {
            // Deployments first: a release becomes active only as its
            // deployment ends, so reading in this order never misses the
            // release that is taking over between the two reads.
            let rolling: Vec<(String, String)> = deployments::table
                .inner_join(apps::table.on(apps::name.eq(deployments::app)))
                .filter(apps::deleted_at.is_null())
                .filter(deployments::status.eq_any(open_statuses()))
                .select((apps::name, deployments::release))
                .load(conn)?;
            let active: Vec<(String, Option<String>)> = apps::table
                .filter(apps::deleted_at.is_null())
                .filter(apps::active_release.is_not_null())
                .select((apps::name, apps::active_release))
                .load(conn)?;
            let active = active
                .into_iter()
                .filter_map(|(app, release)| Some((app, release?)));
            let mut by_app: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (app, release) in active.chain(rolling) {
                let releases = by_app.entry(app).or_default();
                if !releases.contains(&release) {
                    releases.push(release);
                }
            }
            by_app
                .into_iter()
                .map(|(app, releases)| {
                    Ok(AppRoutes {
                        app: AppName::parse(&app).map_err(StoreError::corrupt)?,
                        releases: releases
                            .into_iter()
                            .map(|id| ReleaseId::parse(&id).map_err(StoreError::corrupt))
                            .collect::<Result<_, StoreError>>()?,
                    })
                })
                .collect()
        })
    }

    /// The manifests of `releases` (one query), by release; a release
    /// without a build, or that does not exist, is left out.
    pub fn list_manifests(
        &self,
        releases: &[ReleaseId],
    ) -> Result<HashMap<ReleaseId, Manifest>, StoreError> {
        if releases.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(|conn| {
            let rows: Vec<(String, String)> = releases::table
                .inner_join(builds::table.on(releases::build.eq(builds::id.nullable())))
                .filter(releases::id.eq_any(releases.iter().map(ReleaseId::as_str)))
                .select((releases::id, builds::manifest))
                .load(conn)?;
            rows.into_iter()
                .map(|(id, manifest)| {
                    let id = ReleaseId::parse(&id).map_err(StoreError::corrupt)?;
                    Ok((id, parse_manifest(&manifest)?))
                })
                .collect()
        })
    }
}
