//! The `builds` table: a build as shown, its row, finding one in an app.

use super::parse;
use crate::domain::{AppName, Build, BuildId, Manifest, ReleaseId};
use crate::store::connection::{DbConnection, MultiBackend};
use crate::store::error::StoreError;
use crate::store::schema::builds;
use chrono::NaiveDateTime;
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::prelude::*;

/// A query of whole build rows.
pub(crate) type Rows<'a> =
    builds::BoxedQuery<'a, MultiBackend, SqlTypeOf<AsSelect<BuildRow, MultiBackend>>>;

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = builds)]
pub(crate) struct BuildRow {
    pub id: String,
    pub app: String,
    pub seq: i64,
    pub release: String,
    pub description: String,
    pub git_sha: Option<String>,
    pub git_message: Option<String>,
    pub manifest: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

/// A manifest as stored (its canonical JSON text).
pub(crate) fn parse_manifest(stored: &str) -> Result<Manifest, StoreError> {
    let manifest: serde_json::Value = parse(serde_json::from_str(stored))?;
    parse(Manifest::from_json(&manifest))
}

impl TryFrom<BuildRow> for Build {
    type Error = StoreError;
    fn try_from(row: BuildRow) -> Result<Self, StoreError> {
        Ok(Build {
            id: parse(BuildId::parse(&row.id))?,
            app: parse(AppName::parse(&row.app))?,
            release: parse(ReleaseId::parse(&row.release))?,
            description: row.description,
            git_sha: row.git_sha,
            git_message: row.git_message,
            manifest: parse_manifest(&row.manifest)?,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        })
    }
}

/// A page of the app's builds, newest first: `limit` of those created
/// before the build of sequence `before` (all of them when `None`).
pub(crate) fn page<'a>(app: &'a str, before: Option<i64>, limit: u32) -> Rows<'a> {
    let mut query = builds::table
        .filter(builds::app.eq(app))
        .order(builds::seq.desc())
        .limit(limit.into())
        .select(BuildRow::as_select())
        .into_boxed();
    if let Some(seq) = before {
        query = query.filter(builds::seq.lt(seq));
    }
    query
}

pub(crate) fn find_build(
    conn: &mut DbConnection,
    app: &AppName,
    id: &BuildId,
) -> Result<BuildRow, StoreError> {
    builds::table
        .filter(builds::id.eq(id.as_str()))
        .filter(builds::app.eq(app.as_str()))
        .select(BuildRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("build `{id}` not found in app `{app}`")))
}

pub(crate) fn parse_build(id: &str) -> Result<BuildId, StoreError> {
    parse(BuildId::parse(id))
}
