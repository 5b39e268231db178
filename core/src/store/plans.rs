//! The query plans of the history reads (feature `testing`): the very
//! queries the store issues to list, show and diff releases and builds and
//! to list deployments, run under `EXPLAIN (ANALYZE, FORMAT JSON)` on
//! PostgreSQL, so a benchmark can check that none of them reads an app's
//! whole history however long it grows.

use super::connection::{DbConnection, MultiBackend};
use super::rows::deployments::{self, find, not_found, outcomes};
use super::rows::{apps, builds, releases};
use super::{Backend, Store, StoreError};
use crate::domain::{AppName, DeploymentId, ReleaseId};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::{QueryResult, RunQueryDsl};

/// One query and its plan as PostgreSQL ran it.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// What the query is for, e.g. `releases: page before`.
    pub name: &'static str,
    /// The `EXPLAIN (ANALYZE, FORMAT JSON)` output: an array of one object
    /// whose `Plan` is the root node.
    pub plan: serde_json::Value,
}

/// `EXPLAIN (ANALYZE, FORMAT JSON)` of a query, answering its plan as text.
struct Explain<Q>(Q);

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Text;
}

impl<Q> RunQueryDsl<DbConnection> for Explain<Q> {}

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("EXPLAIN (ANALYZE, FORMAT JSON) ");
        self.0.walk_ast(out.reborrow())
    }
}

fn explain<Q: QueryFragment<MultiBackend>>(
    conn: &mut DbConnection,
    name: &'static str,
    query: Q,
) -> Result<QueryPlan, StoreError> {
    let text: String = Explain(query).get_result(conn)?;
    let plan = serde_json::from_str(&text).map_err(StoreError::corrupt)?;
    Ok(QueryPlan { name, plan })
}

impl Store {
    /// The plans of the queries behind the history reads of `app` on
    /// PostgreSQL: first pages and pages before `release` / `deployment`
    /// (releases, builds, deployments), a release by id (as showing it and
    /// a diff find each side), the statuses of a page of releases and of one
    /// release, the latest release, the app's open deployment.
    pub fn explain_history(
        &self,
        app: &AppName,
        release: &ReleaseId,
        deployment: &DeploymentId,
    ) -> Result<Vec<QueryPlan>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Err(StoreError::Config(
                "query plans are read on PostgreSQL only".into(),
            ));
        }
        self.read(|conn| {
            apps::exists(conn, app)?;
            let name = app.as_str();
            let deep = releases::find_release(conn, app, release)?;
            let deep_deployment = find(conn, deployment)?
                .filter(|row| row.app == name)
                .ok_or_else(|| not_found(deployment, app))?;
            let first_page: Vec<String> = releases::page(name, None, 20)
                .load(conn)?
                .into_iter()
                .map(|row| row.id)
                .collect();
            let one = vec![deep.id.clone()];
            let build_seq = match &deep.build {
                Some(id) => Some(builds::find_build(conn, app, &builds::parse_build(id)?)?.seq),
                None => None,
            };
            Ok(vec![
                explain(conn, "releases: first page", releases::page(name, None, 20))?,
                explain(
                    conn,
                    "releases: page before",
                    releases::page(name, Some(deep.seq), 20),
                )?,
                explain(conn, "releases: latest", releases::page(name, None, 1))?,
                explain(conn, "release by id", releases::by_id(name, &deep.id))?,
                explain(
                    conn,
                    "release statuses: a page",
                    outcomes(name, &first_page),
                )?,
                explain(conn, "release statuses: one", outcomes(name, &one))?,
                explain(conn, "builds: first page", builds::page(name, None, 20))?,
                explain(
                    conn,
                    "builds: page before",
                    builds::page(name, build_seq, 20),
                )?,
                explain(
                    conn,
                    "deployments: first page",
                    deployments::page(name, None, 20),
                )?,
                explain(
                    conn,
                    "deployments: page before",
                    deployments::page(name, Some(deep_deployment.seq), 20),
                )?,
                explain(
                    conn,
                    "deployments: the open one",
                    deployments::open_query(name),
                )?,
            ])
        })
    }
}
