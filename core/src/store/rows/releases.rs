//! The `releases` table: a release as shown, its row (with its sealed env),
//! and finding one: by id in an app, or the app's latest.

use super::parse;
use crate::domain::{AppName, BuildId, Env, Release, ReleaseId, ReleaseStatus};
use crate::seal::Keyring;
use crate::store::connection::DbConnection;
use crate::store::error::StoreError;
use crate::store::schema::releases;
use crate::store::sealed::open_env;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = releases)]
pub(crate) struct ReleaseRow {
    pub id: String,
    pub app: String,
    pub seq: i64,
    pub build: Option<String>,
    /// Sealed (see `sealed.rs`); plaintext JSON in rows older than sealing.
    pub env: String,
    pub description: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

impl ReleaseRow {
    /// The env, opened with `keys` (it is stored sealed).
    /// A key that does not open it is [`StoreError::UnreadableRelease`],
    /// naming this release.
    pub fn env(&self, keys: &Keyring) -> Result<Env, StoreError> {
        open_env(keys, &self.env).map_err(|err| match err {
            StoreError::Seal(source) => StoreError::UnreadableRelease {
                app: self.app.clone(),
                release: self.id.clone(),
                source,
            },
            other => other,
        })
    }

    /// The release as shown, with its status in the app; with its env when
    /// `keys` are given to open it.
    pub fn into_release(
        self,
        status: ReleaseStatus,
        keys: Option<&Keyring>,
    ) -> Result<Release, StoreError> {
        let env = keys.map(|keys| self.env(keys)).transpose()?;
        Ok(Release {
            id: parse(ReleaseId::parse(&self.id))?,
            app: parse(AppName::parse(&self.app))?,
            build: self.build.map(|b| parse(BuildId::parse(&b))).transpose()?,
            description: self.description,
            status,
            actor: self.actor,
            created_at: self.created_at.and_utc(),
            env,
        })
    }
}

/// The latest created release of the app (highest sequence).
pub(crate) fn latest(
    conn: &mut DbConnection,
    app: &AppName,
) -> Result<Option<ReleaseRow>, StoreError> {
    Ok(releases::table
        .filter(releases::app.eq(app.as_str()))
        .order(releases::seq.desc())
        .select(ReleaseRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest created release and its env (empty before the first release):
/// where every new release starts (rule 1).
pub(crate) fn latest_with_env(
    conn: &mut DbConnection,
    keys: &Keyring,
    app: &AppName,
) -> Result<(Option<ReleaseRow>, Env), StoreError> {
    let base = latest(conn, app)?;
    let env = match &base {
        Some(row) => row.env(keys)?,
        None => Env::empty(),
    };
    Ok((base, env))
}

pub(crate) fn find_release(
    conn: &mut DbConnection,
    app: &AppName,
    id: &ReleaseId,
) -> Result<ReleaseRow, StoreError> {
    releases::table
        .filter(releases::id.eq(id.as_str()))
        .filter(releases::app.eq(app.as_str()))
        .select(ReleaseRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("release `{id}` not found in app `{app}`")))
}

pub(crate) fn parse_release(id: &str) -> Result<ReleaseId, StoreError> {
    parse(ReleaseId::parse(id))
}
