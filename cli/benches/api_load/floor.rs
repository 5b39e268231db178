//! The floor: the statements one request makes (see the list in `main.rs`),
//! run straight on the same schema from this process, one transaction per
//! request, on as many connections (a thread and a `PgConnection` each) as
//! wrk keeps open, for as long.

use super::server::{promoted_release, TOKEN, WRITE_APPS};
use super::wrk::Endpoint;
use super::Round;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
use diesel::{Connection, PgConnection, QueryResult, QueryableByName, RunQueryDsl};
use slipway_core::domain::{BuildId, DeploymentId, EventId, ReleaseId};
use slipway_core::secret::hash_token;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the floor's writes store, taken from what the API stored in the run
/// just before (same sizes: event bodies, a sealed response).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub manifest: String,
    pub build_event: String,
    pub release_event: String,
    pub env_event: String,
    pub deployment_event: String,
    pub response: String,
}

impl Samples {
    pub fn load(conn: &mut PgConnection) -> Samples {
        #[derive(QueryableByName)]
        struct One {
            #[diesel(sql_type = Text)]
            text: String,
        }
        let mut one = |sql: &str| -> String {
            diesel::sql_query(sql)
                .get_result::<One>(conn)
                .map(|one| one.text)
                .unwrap_or_default()
        };
        Samples {
            manifest: one("SELECT manifest AS text FROM builds ORDER BY created_at DESC LIMIT 1"),
            build_event: one(&event("build.created")),
            release_event: one(&event("release.created")),
            env_event: one(&event("env.changed")),
            deployment_event: one("SELECT data AS text FROM events WHERE deployment IS NOT NULL ORDER BY seq DESC LIMIT 1"),
            response: one("SELECT body AS text FROM idempotency_keys WHERE body IS NOT NULL ORDER BY created_at DESC LIMIT 1"),
        }
    }
}

fn event(kind: &str) -> String {
    format!("SELECT data AS text FROM events WHERE kind = '{kind}' ORDER BY seq DESC LIMIT 1")
}

/// One round: `endpoint`'s statements on `connections` threads for
/// `duration`, timed from when all are connected, requests numbered from
/// `*next`, which it leaves past the last number used.
pub fn run(
    url: &str,
    endpoint: Endpoint,
    connections: usize,
    duration: Duration,
    samples: &Samples,
    next: &mut usize,
) -> Round {
    // Connecting is no part of a round: for 8 fresh connections it would be
    // a visible share of 2 s.
    let conns: Vec<PgConnection> = (0..connections)
        .map(|_| PgConnection::establish(url).expect("connect for the floor"))
        .collect();
    let hash = hash_token(TOKEN);
    // One count over all connections, as wrk's requests go round-robin
    // over the apps whichever connection sends them.
    let count = Arc::new(AtomicUsize::new(*next));
    let started = Instant::now();
    let until = started + duration;
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let count = count.clone();
            let ctx = Ctx {
                hash: hash.clone(),
                samples: samples.clone(),
            };
            std::thread::spawn(move || {
                let mut times = Vec::new();
                while Instant::now() < until {
                    let n = count.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    conn.transaction(|conn| request(conn, endpoint, n, &ctx))
                        .unwrap_or_else(|e| panic!("floor {endpoint:?} request {n}: {e}"));
                    times.push(t.elapsed());
                }
                times
            })
        })
        .collect();
    let times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a floor thread"))
        .collect();
    let mut round = Round {
        duration: started.elapsed(),
        ..Round::default()
    };
    for time in times {
        round.record(time);
    }
    *next = count.load(Ordering::Relaxed);
    round
}

struct Ctx {
    hash: String,
    samples: Samples,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

// The statements, as the store sends them (diesel's text, columns spelled out).
pub const TOKEN_CHECK: &str =
    "SELECT id, name, hash, scope, apps, created_at, expires_at, last_used_at \
    FROM tokens WHERE hash = $1 LIMIT 1";
pub const KEY_PRIOR: &str = "SELECT fingerprint, status, body, created_at FROM idempotency_keys \
    WHERE token = $1 AND key = $2 AND expires_at > $3 LIMIT 1";
pub const KEY_CLEAR: &str =
    "DELETE FROM idempotency_keys WHERE token = $1 AND key = $2 AND expires_at <= $3";
pub const KEY_INSERT: &str =
    "INSERT INTO idempotency_keys (token, key, fingerprint, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5)";
pub const KEY_RESPONSE: &str =
    "UPDATE idempotency_keys SET status = $1, body = $2 WHERE token = $3 AND key = $4";
pub const APP_LOCK: &str = "UPDATE apps SET seq = seq + 1 WHERE name = $1 AND deleted_at IS NULL \
    RETURNING name, active_release, deadline_seconds, seq, created_at, deleted_at";
pub const APP_ROW: &str =
    "SELECT name, active_release, deadline_seconds, seq, created_at, deleted_at \
    FROM apps WHERE name = $1 LIMIT 1";
pub const LATEST_RELEASE: &str = "SELECT id, app, seq, build, env, description, actor, created_at \
    FROM releases WHERE app = $1 ORDER BY seq DESC LIMIT 1";
pub const INSERT_BUILD: &str = "INSERT INTO builds (id, app, seq, release, description, git_sha, \
    git_message, manifest, actor, created_at) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8)";
pub const INSERT_RELEASE: &str =
    "INSERT INTO releases (id, app, seq, build, env, description, actor, \
    created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const INSERT_EVENT: &str =
    "INSERT INTO events (id, app, deployment, kind, data, actor, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const WEBHOOKS: &str =
    "SELECT id, url, kind, events, apps, description, secret, previous_secret, \
    previous_secret_expires_at, disabled_at, disabled_reason, actor, created_at \
    FROM webhooks WHERE disabled_at IS NULL";
pub const FIND_RELEASE: &str = "SELECT id, app, seq, build, env, description, actor, created_at \
    FROM releases WHERE id = $1 AND app = $2 LIMIT 1";
pub const OPEN_DEPLOYMENT: &str = "SELECT * FROM deployments WHERE app = $1 \
    AND status = ANY($2) LIMIT 1";
pub const INSERT_DEPLOYMENT: &str =
    "INSERT INTO deployments (id, app, seq, release, previous_release, \
    status, deadline_at, actor, created_at, lease_epoch, queued_at) \
    VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, 0, $8)";
pub const LIST_RELEASES: &str = "SELECT id, app, seq, build, env, description, actor, created_at \
    FROM releases WHERE app = $1 ORDER BY seq DESC LIMIT $2";
pub const RELEASE_OUTCOMES: &str = "SELECT release, status FROM deployments \
    WHERE app = $1 AND release = ANY($2) ORDER BY seq";

#[derive(QueryableByName)]
struct AppRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Nullable<Text>)]
    active_release: Option<String>,
}

#[derive(QueryableByName)]
struct ReleaseRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<Text>)]
    build: Option<String>,
    #[diesel(sql_type = Text)]
    env: String,
}

#[derive(QueryableByName)]
struct Anything {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    id: String,
}

/// One request's statements, in the order the API sends them.
fn request(conn: &mut PgConnection, endpoint: Endpoint, n: usize, ctx: &Ctx) -> QueryResult<()> {
    let token = token_check(conn, ctx)?;
    let app = format!("w-{}", n % WRITE_APPS);
    let key = format!("floor-{endpoint:?}-{n}");
    let s = &ctx.samples;
    match endpoint {
        Endpoint::Healthz => {}
        Endpoint::Releases => {
            app_row(conn, &app)?;
            let rows: Vec<ReleaseRow> = diesel::sql_query(LIST_RELEASES)
                .bind::<Text, _>(&app)
                .bind::<BigInt, _>(20)
                .load(conn)?;
            app_row(conn, &app)?;
            let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
            diesel::sql_query(RELEASE_OUTCOMES)
                .bind::<Text, _>(&app)
                .bind::<Array<Text>, _>(&ids)
                .execute(conn)?;
        }
        Endpoint::Builds => {
            key_prior(conn, &token, &key)?;
            let seq = lock(conn, &app)?.seq;
            let latest = latest(conn, &app)?;
            let (build, release) = (BuildId::generate(), ReleaseId::generate());
            diesel::sql_query(INSERT_BUILD)
                .bind::<Text, _>(build.as_str())
                .bind::<Text, _>(&app)
                .bind::<BigInt, _>(seq)
                .bind::<Text, _>(release.as_str())
                .bind::<Text, _>("")
                .bind::<Text, _>(&s.manifest)
                .bind::<Text, _>("admin")
                .bind::<Timestamp, _>(now())
                .execute(conn)?;
            insert_release(conn, &release, &app, seq, Some(build.as_str()), &latest.env)?;
            insert_event(conn, &app, None, "build.created", &s.build_event)?;
            insert_event(conn, &app, None, "release.created", &s.release_event)?;
            claim_key(conn, &token, &key)?;
            record_response(conn, &token, &key, 201, &s.response)?;
        }
        Endpoint::Env => {
            key_prior(conn, &token, &key)?;
            let seq = lock(conn, &app)?.seq;
            let latest = latest(conn, &app)?;
            let release = ReleaseId::generate();
            insert_release(
                conn,
                &release,
                &app,
                seq,
                latest.build.as_deref(),
                &latest.env,
            )?;
            insert_event(conn, &app, None, "release.created", &s.release_event)?;
            insert_event(conn, &app, None, "env.changed", &s.env_event)?;
            claim_key(conn, &token, &key)?;
            record_response(conn, &token, &key, 201, &s.response)?;
        }
        Endpoint::Promote => {
            let app = format!("pf-{n}");
            let release = promoted_release('F', n);
            key_prior(conn, &token, &key)?;
            let row = lock(conn, &app)?;
            diesel::sql_query(FIND_RELEASE)
                .bind::<Text, _>(&release)
                .bind::<Text, _>(&app)
                .get_result::<ReleaseRow>(conn)?;
            let open = vec!["pending", "running", "rolling_back"];
            let found: Vec<Anything> = diesel::sql_query(OPEN_DEPLOYMENT)
                .bind::<Text, _>(&app)
                .bind::<Array<Text>, _>(&open)
                .load(conn)?;
            assert!(found.is_empty(), "floor: {app} has an open deployment");
            let id = DeploymentId::generate();
            let at = now();
            diesel::sql_query(INSERT_DEPLOYMENT)
                .bind::<Text, _>(id.as_str())
                .bind::<Text, _>(&app)
                .bind::<BigInt, _>(row.seq)
                .bind::<Text, _>(&release)
                .bind::<Nullable<Text>, _>(row.active_release)
                .bind::<Timestamp, _>(at + TimeDelta::seconds(600))
                .bind::<Text, _>("admin")
                .bind::<Timestamp, _>(at)
                .execute(conn)?;
            let kind = "deployment.created";
            insert_event(conn, &app, Some(id.as_str()), kind, &s.deployment_event)?;
            claim_key(conn, &token, &key)?;
            record_response(conn, &token, &key, 202, &s.response)?;
        }
    }
    Ok(())
}

fn token_check(conn: &mut PgConnection, ctx: &Ctx) -> QueryResult<String> {
    Ok(diesel::sql_query(TOKEN_CHECK)
        .bind::<Text, _>(&ctx.hash)
        .get_result::<Anything>(conn)?
        .id)
}

fn key_prior(conn: &mut PgConnection, token: &str, key: &str) -> QueryResult<()> {
    diesel::sql_query(KEY_PRIOR)
        .bind::<Text, _>(token)
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(now())
        .execute(conn)
        .map(drop)
}

fn claim_key(conn: &mut PgConnection, token: &str, key: &str) -> QueryResult<()> {
    let at = now();
    diesel::sql_query(KEY_CLEAR)
        .bind::<Text, _>(token)
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(at)
        .execute(conn)?;
    diesel::sql_query(KEY_INSERT)
        .bind::<Text, _>(token)
        .bind::<Text, _>(key)
        .bind::<Text, _>("0".repeat(64))
        .bind::<Timestamp, _>(at)
        .bind::<Timestamp, _>(at + TimeDelta::hours(24))
        .execute(conn)
        .map(drop)
}

fn record_response(
    conn: &mut PgConnection,
    token: &str,
    key: &str,
    status: i32,
    body: &str,
) -> QueryResult<()> {
    diesel::sql_query(KEY_RESPONSE)
        .bind::<Integer, _>(status)
        .bind::<Text, _>(body)
        .bind::<Text, _>(token)
        .bind::<Text, _>(key)
        .execute(conn)
        .map(drop)
}

fn app_row(conn: &mut PgConnection, app: &str) -> QueryResult<AppRow> {
    diesel::sql_query(APP_ROW)
        .bind::<Text, _>(app)
        .get_result(conn)
}

fn lock(conn: &mut PgConnection, app: &str) -> QueryResult<AppRow> {
    diesel::sql_query(APP_LOCK)
        .bind::<Text, _>(app)
        .get_result(conn)
}

fn latest(conn: &mut PgConnection, app: &str) -> QueryResult<ReleaseRow> {
    diesel::sql_query(LATEST_RELEASE)
        .bind::<Text, _>(app)
        .get_result(conn)
}

fn insert_release(
    conn: &mut PgConnection,
    id: &ReleaseId,
    app: &str,
    seq: i64,
    build: Option<&str>,
    env: &str,
) -> QueryResult<()> {
    diesel::sql_query(INSERT_RELEASE)
        .bind::<Text, _>(id.as_str())
        .bind::<Text, _>(app)
        .bind::<BigInt, _>(seq)
        .bind::<Nullable<Text>, _>(build)
        .bind::<Text, _>(env)
        .bind::<Text, _>("env change:BENCH_VALUE")
        .bind::<Text, _>("admin")
        .bind::<Timestamp, _>(now())
        .execute(conn)
        .map(drop)
}

/// An event and its fan-out: the enabled webhooks, read to match (none
/// here, so no delivery is written).
fn insert_event(
    conn: &mut PgConnection,
    app: &str,
    deployment: Option<&str>,
    kind: &str,
    data: &str,
) -> QueryResult<()> {
    diesel::sql_query(INSERT_EVENT)
        .bind::<Text, _>(EventId::generate().as_str())
        .bind::<Text, _>(app)
        .bind::<Nullable<Text>, _>(deployment)
        .bind::<Text, _>(kind)
        .bind::<Text, _>(data)
        .bind::<Text, _>("admin")
        .bind::<Timestamp, _>(now())
        .execute(conn)?;
    diesel::sql_query(WEBHOOKS).execute(conn).map(drop)
}
