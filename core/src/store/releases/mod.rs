//! Builds, releases and env: creating them (here) and reading them back
//! with each release's status (`listing.rs`). The rows and the way every
//! new release is made are in `rows::new_releases`, shared with
//! deployments that make their release in the same transaction.

mod listing;

use super::event_log::record_release;
use super::rows::apps::lock;
use super::rows::new_releases::{build_in, change_env_in, release_in, NewBuild, NewRelease};
use super::{Store, StoreError};
use crate::domain::{AppName, Build, Description, EnvChange, Release};

impl Store {
    /// Creates the build and the release that pairs it with the latest env.
    pub fn create_build(
        &self,
        app: &AppName,
        new: &NewBuild,
        actor: &str,
    ) -> Result<(Build, Release), StoreError> {
        let keys = self.keyring()?;
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let (build, release) = build_in(conn, keys, &app_row, new, actor)?;
            record_release(conn, &release, Some(&build), None, actor)?;
            Ok((build, release))
        })
    }

    /// Applies an env change; `None` when it changes nothing (no release).
    pub fn change_env(
        &self,
        app: &AppName,
        change: &EnvChange,
        description: Option<&Description>,
        actor: &str,
    ) -> Result<Option<Release>, StoreError> {
        let keys = self.keyring()?;
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let Some((release, diff)) =
                change_env_in(conn, keys, &app_row, change, description, actor)?
            else {
                return Ok(None);
            };
            record_release(conn, &release, None, Some(&diff), actor)?;
            Ok(Some(release))
        })
    }

    /// Creates a release from an explicit build and/or env (Convox's
    /// `releases create`); what is left out comes from the latest release.
    pub fn create_release(
        &self,
        app: &AppName,
        new: &NewRelease,
        actor: &str,
    ) -> Result<Release, StoreError> {
        let keys = self.keyring()?;
        self.write(|conn| {
            let app_row = lock(conn, app)?;
            let release = release_in(conn, keys, &app_row, new, actor)?;
            record_release(conn, &release, None, None, actor)?;
            Ok(release)
        })
    }
}
