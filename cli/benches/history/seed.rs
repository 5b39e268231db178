//! Years of history, written straight in SQL (`INSERT ... SELECT` over
//! `generate_series`): an app's builds, releases and deployments as the
//! store itself would have made them, only millions at a time.
//!
//! Release `i` (1..=n) has sequence `2i`. Every tenth release, from the
//! first, comes with a build (same sequence, as `POST /builds` makes them);
//! the nine after it are env changes on that build, alternating between two
//! envs sealed once with the store's key. Every tenth release (`i = 10j`) was
//! deployed: deployment `j`, sequence `20j + 1`, mostly `succeeded`, some
//! `failed` or `rolled_back`; the last one succeeded and its release is the
//! app's active release. Ids are `R`/`B`/`D` and 10 letters, a bijection of
//! a number (`ids::id`), so the bench knows any row's id without asking.

use diesel::connection::SimpleConnection;
use diesel::PgConnection;
use slipway_core::seal::{Keyring, Purpose};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};

/// One app's history.
pub(crate) struct Shape {
    pub(crate) app: &'static str,
    pub(crate) releases: i64,
    /// Added to every row number, so the apps' ids never meet.
    pub(crate) offset: i64,
}

impl Shape {
    pub(crate) fn deployments(&self) -> i64 {
        self.releases / EVERY
    }

    /// The id of release `i`.
    pub(crate) fn release(&self, i: i64) -> String {
        ids::id('R', self.offset + i)
    }

    /// The id of deployment `j` (of release `10j`).
    pub(crate) fn deployment(&self, j: i64) -> String {
        ids::id('D', self.offset + j)
    }
}

/// Every `EVERY`th release has a build; every `EVERY`th is deployed.
pub(crate) const EVERY: i64 = 10;

pub(crate) mod ids {
    /// Letters after the prefix.
    const LEN: u32 = 10;
    /// 26^10: the ids there are of one prefix.
    pub(crate) const SPACE: i64 = 141_167_095_653_376;
    /// Odd and no multiple of 13: multiplying by it permutes `0..SPACE`,
    /// so consecutive rows get unrelated ids, as random ones are.
    pub(crate) const SPREAD: i64 = 12_345_678_917;

    /// `prefix` and 10 letters for row number `n` (below 700,000,000).
    pub(crate) fn id(prefix: char, n: i64) -> String {
        let mut m = n * SPREAD % SPACE;
        let mut letters = [b'A'; LEN as usize];
        for letter in letters.iter_mut().rev() {
            *letter = b'A' + (m % 26) as u8;
            m /= 26;
        }
        format!("{prefix}{}", std::str::from_utf8(&letters).unwrap())
    }

    /// The same as a SQL function, `pg_temp.sid(prefix, n)`.
    pub(crate) fn sql_function() -> String {
        let letters: Vec<String> = (0..LEN)
            .rev()
            .map(|k| {
                let divisor = 26_i64.pow(k);
                format!("chr(65 + ((n * {SPREAD} % {SPACE}) / {divisor} % 26)::int)")
            })
            .collect();
        format!(
            "CREATE FUNCTION pg_temp.sid(p text, n bigint) RETURNS text \
             LANGUAGE sql IMMUTABLE AS $f$ SELECT p || {} $f$;",
            letters.join(" || ")
        )
    }
}

/// The two envs releases alternate between, sealed once under `keys`.
fn sealed_envs(keys: &Keyring) -> [String; 2] {
    ["info", "debug"].map(|level| {
        let env = format!(
            r#"{{"DATABASE_URL":"postgres://db.internal/shop","LOG_LEVEL":"{level}","WORKERS":"4"}}"#
        );
        keys.seal(Purpose::RELEASE_ENV, env.as_bytes())
            .expect("seal an env")
    })
}

fn manifest() -> String {
    let web = ServiceBuilder::new()
        .command("./server --port $PORT")
        .port(8080)
        .health("/health")
        .count(3);
    ManifestBuilder::web(web).build().to_json().to_string()
}

/// Writes `shape`'s app and its history; the connection must have
/// `pg_temp.sid` (see [`ids::sql_function`]).
fn seed_app(conn: &mut PgConnection, shape: &Shape, envs: &[String; 2], manifest: &str) {
    let Shape {
        app,
        releases: n,
        offset,
    } = *shape;
    let deployments = shape.deployments();
    let active = shape.release(deployments * EVERY);
    let t0 = "timestamp '2023-06-01 00:00:00'";
    let [env_a, env_b] = envs;
    let sql = format!(
        "INSERT INTO apps (name, active_release, deadline_seconds, seq, created_at)
         VALUES ('{app}', '{active}', 600, {last_seq}, {t0});

         INSERT INTO builds (id, app, seq, release, description, git_sha, git_message,
                             manifest, actor, created_at)
         SELECT pg_temp.sid('B', {offset} + i), '{app}', 2 * i, pg_temp.sid('R', {offset} + i),
                left(md5(i::text), 7) || ' change number ' || i,
                md5(i::text) || left(md5((i + 1)::text), 8), 'change number ' || i,
                $m${manifest}$m$, 'ci', {t0} + i * interval '90 seconds'
         FROM generate_series(1, {n}, {EVERY}) AS i;

         INSERT INTO releases (id, app, seq, build, env, description, actor, created_at)
         SELECT pg_temp.sid('R', {offset} + i), '{app}', 2 * i,
                pg_temp.sid('B', {offset} + i - (i - 1) % {EVERY}),
                CASE WHEN (i - (i - 1) / {EVERY} - 1) % 2 = 0 THEN '{env_a}' ELSE '{env_b}' END,
                CASE WHEN (i - 1) % {EVERY} = 0
                     THEN left(md5(i::text), 7) || ' change number ' || i
                     ELSE 'env change:LOG_LEVEL' END,
                CASE WHEN (i - 1) % {EVERY} = 0 THEN 'ci' ELSE 'token:ops' END,
                {t0} + i * interval '90 seconds'
         FROM generate_series(1, {n}) AS i;

         INSERT INTO deployments (id, app, seq, release, previous_release, status, reason,
                                  deadline_at, actor, lease_epoch, created_at, started_at,
                                  finished_at)
         SELECT pg_temp.sid('D', {offset} + j), '{app}', 20 * j + 1,
                pg_temp.sid('R', {offset} + {EVERY} * j),
                CASE WHEN j > 1 THEN pg_temp.sid('R', {offset} + {EVERY} * (j - 1)) END,
                s.status,
                CASE s.status WHEN 'failed' THEN 'web: health check failed'
                              WHEN 'rolled_back' THEN 'cancelled' END,
                t + interval '600 seconds', 'ci', 1, t, t + interval '1 second',
                t + interval '40 seconds'
         FROM generate_series(1, {deployments}) AS j,
              LATERAL (SELECT {t0} + ({EVERY} * j) * interval '90 seconds'
                              + interval '5 seconds' AS t) AS at,
              LATERAL (SELECT CASE WHEN j = {deployments} THEN 'succeeded'
                                   WHEN j % 50 = 0 THEN 'failed'
                                   WHEN j % 70 = 0 THEN 'rolled_back'
                                   ELSE 'succeeded' END AS status) AS s;",
        last_seq = 2 * n + 1,
    );
    conn.batch_execute(&sql)
        .unwrap_or_else(|e| panic!("seed app `{app}`: {e}"));
}

/// Seeds every shape, drops the indexes named in `drop` (to measure the
/// history without them), then `ANALYZE`s the tables.
pub(crate) fn seed(conn: &mut PgConnection, keys: &Keyring, shapes: &[&Shape], drop: &[String]) {
    conn.batch_execute(&ids::sql_function())
        .expect("create pg_temp.sid");
    let (envs, manifest) = (sealed_envs(keys), manifest());
    for shape in shapes {
        seed_app(conn, shape, &envs, &manifest);
    }
    for index in drop {
        conn.batch_execute(&format!("DROP INDEX {index}"))
            .unwrap_or_else(|e| panic!("drop index `{index}`: {e}"));
    }
    conn.batch_execute("ANALYZE apps, builds, releases, deployments")
        .expect("ANALYZE");
}
