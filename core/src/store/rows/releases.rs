//! The `releases` table: a release as shown, its row (with its sealed env),
//! and finding one: by id in an app, or the app's latest.

use super::builds::BuildRow;
use super::parse;
use crate::domain::{AppName, BuildId, Env, Release, ReleaseId, ReleaseStatus};
use crate::seal::Keyring;
use crate::store::connection::{DbConnection, MultiBackend};
use crate::store::error::StoreError;
use crate::store::schema::{builds, releases};
use crate::store::sealed::open_env;
use chrono::NaiveDateTime;
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::prelude::*;

/// A query of whole release rows.
pub(crate) type Rows<'a> =
    releases::BoxedQuery<'a, MultiBackend, SqlTypeOf<AsSelect<ReleaseRow, MultiBackend>>>;

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

/// A page of the app's releases, newest first: `limit` of those created
/// before the release of sequence `before` (all of them when `None`).
/// Keyset paging on `(app, seq)`: as fast 900,000 releases back as at the top.
pub(crate) fn page<'a>(app: &'a str, before: Option<i64>, limit: u32) -> Rows<'a> {
    let mut query = releases::table
        .filter(releases::app.eq(app))
        .order(releases::seq.desc())
        .limit(limit.into())
        .select(ReleaseRow::as_select())
        .into_boxed();
    if let Some(seq) = before {
        query = query.filter(releases::seq.lt(seq));
    }
    query
}

/// The latest created release of the app (highest sequence).
pub(crate) fn latest(
    conn: &mut DbConnection,
    app: &AppName,
) -> Result<Option<ReleaseRow>, StoreError> {
    Ok(page(app.as_str(), None, 1).first(conn).optional()?)
}

/// The release `id` if it is one of the app's.
pub(crate) fn by_id<'a>(app: &'a str, id: &'a str) -> Rows<'a> {
    releases::table
        .filter(releases::id.eq(id))
        .filter(releases::app.eq(app))
        .select(ReleaseRow::as_select())
        .into_boxed()
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
    by_id(app.as_str(), id.as_str())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("release `{id}` not found in app `{app}`")))
}

/// Release `id` of `app` and its build, if it has one, in one query.
pub(crate) fn with_build(
    conn: &mut DbConnection,
    app: &AppName,
    id: &ReleaseId,
) -> Result<(ReleaseRow, Option<BuildRow>), StoreError> {
    let of_the_release = builds::id
        .nullable()
        .eq(releases::build)
        .and(builds::app.eq(releases::app));
    releases::table
        .left_join(builds::table.on(of_the_release))
        .filter(releases::id.eq(id.as_str()))
        .filter(releases::app.eq(app.as_str()))
        .select((ReleaseRow::as_select(), Option::<BuildRow>::as_select()))
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("release `{id}` not found in app `{app}`")))
}

pub(crate) fn parse_release(id: &str) -> Result<ReleaseId, StoreError> {
    parse(ReleaseId::parse(id))
}
