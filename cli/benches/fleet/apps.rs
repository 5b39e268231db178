//! The apps of the fleet: made and first deployed before anything is
//! timed, their next releases built, promoted, and their deployments as
//! stored (when each was created, started and finished).

use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::cluster::{instances, Cluster};

const FINAL: [&str; 3] = ["succeeded", "rolled_back", "failed"];

/// One deployment as stored; times in seconds since the epoch (UTC).
#[derive(Clone, Debug, QueryableByName)]
pub(crate) struct Timing {
    #[diesel(sql_type = Text)]
    pub(crate) id: String,
    #[diesel(sql_type = Text)]
    pub(crate) app: String,
    #[diesel(sql_type = Text)]
    pub(crate) status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) reason: Option<String>,
    /// Written by the API in the promote's transaction; the job is queued
    /// right after it commits.
    #[diesel(sql_type = Double)]
    pub(crate) created: f64,
    /// Written by the worker that claimed it, as its drive moves it to `running`.
    #[diesel(sql_type = Nullable<Double>)]
    pub(crate) started: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub(crate) finished: Option<f64>,
}

impl Timing {
    pub(crate) fn is_final(&self) -> bool {
        FINAL.contains(&self.status.as_str())
    }

    /// Enqueued → a worker started driving it.
    pub(crate) fn pickup(&self) -> f64 {
        self.started.unwrap_or(f64::NAN) - self.created
    }

    /// Started driving → finished.
    pub(crate) fn drive(&self) -> f64 {
        self.finished.unwrap_or(f64::NAN) - self.started.unwrap_or(f64::NAN)
    }

    /// Promoted (the API's transaction) → finished.
    pub(crate) fn total(&self) -> f64 {
        self.finished.unwrap_or(f64::NAN) - self.created
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Now, in seconds since the epoch, as the servers write their times.
pub(crate) fn now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// The deployments `ids`, as stored.
pub(crate) fn timings(cluster: &Cluster, ids: &[String]) -> Vec<Timing> {
    diesel::sql_query(
        "SELECT id, app, status, reason, \
           EXTRACT(EPOCH FROM created_at)::float8 AS created, \
           EXTRACT(EPOCH FROM started_at)::float8 AS started, \
           EXTRACT(EPOCH FROM finished_at)::float8 AS finished \
         FROM deployments WHERE id = ANY($1) ORDER BY created_at",
    )
    .bind::<Array<Text>, _>(ids)
    .load(&mut *cluster.conn.lock().unwrap())
    .unwrap_or_else(|e| cluster.fail(format!("read the deployments: {e}")))
}

/// Polls the deployments `ids` every `every` until each is final; fails
/// the bench after `within`.
pub(crate) async fn until_final(
    cluster: &Cluster,
    ids: &[String],
    every: Duration,
    within: Duration,
) -> Vec<Timing> {
    let deadline = Instant::now() + within;
    loop {
        let rows = timings(cluster, ids);
        if rows.len() == ids.len() && rows.iter().all(Timing::is_final) {
            return rows;
        }
        if Instant::now() >= deadline {
            let open: Vec<String> = rows
                .iter()
                .filter(|t| !t.is_final())
                .map(|t| format!("{} {}", t.app, t.status))
                .collect();
            cluster.fail(format!(
                "{} of {} deployments not final within {within:?}: {}",
                open.len(),
                ids.len(),
                open.join(", ")
            ));
        }
        tokio::time::sleep(every).await;
    }
}

/// Fails the bench unless every deployment succeeded.
pub(crate) fn all_succeeded(cluster: &Cluster, what: &str, rows: &[Timing]) {
    let failed: Vec<String> = rows
        .iter()
        .filter(|t| t.status != "succeeded")
        .map(|t| {
            format!(
                "{} {} {} ({})",
                t.app,
                t.id,
                t.status,
                t.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !failed.is_empty() {
        cluster.fail(format!(
            "{what}: {} of {} deployments did not succeed: {}",
            failed.len(),
            rows.len(),
            failed.join("; ")
        ));
    }
}

/// Creates every app and deploys `manifest` to it, all at once, and waits
/// until every first deployment succeeded.
pub(crate) async fn first_deploys(cluster: &Cluster, apps: &[String], manifest: &Value) {
    let ids = join_all(apps.iter().map(|app| cluster.deploy(app, manifest.clone()))).await;
    let rows = until_final(
        cluster,
        &ids,
        Duration::from_millis(100),
        Duration::from_secs(180),
    )
    .await;
    all_succeeded(cluster, "first deploys", &rows);
}

/// A new build (and release) of `manifest` for `app`, not promoted; its
/// release id.
pub(crate) async fn build(cluster: &Cluster, app: &str, manifest: &Value) -> String {
    let path = format!("/apps/{app}/builds");
    let body = json!({ "manifest": manifest });
    let (status, body) = cluster.send(reqwest::Method::POST, &path, Some(body)).await;
    if status != 201 {
        cluster.fail(format!("POST {path}: {status} {body}"));
    }
    body["release"]["id"].as_str().unwrap().to_owned()
}

/// Promotes `release` of `app`; the deployment's id.
pub(crate) async fn promote(cluster: &Cluster, app: &str, release: &str) -> String {
    let path = format!("/apps/{app}/releases/{release}/promote");
    let (status, body) = cluster
        .send(reqwest::Method::POST, &path, Some(json!({})))
        .await;
    if status != 202 {
        cluster.fail(format!("POST {path}: {status} {body}"));
    }
    body["deployment"]["id"].as_str().unwrap().to_owned()
}

/// Waits until a worker supervises each of `apps`, then a second more.
pub(crate) async fn until_supervised(cluster: &Cluster, apps: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let supervised =
            diesel::sql_query("SELECT count(*) AS count FROM supervisors WHERE app = ANY($1)")
                .bind::<Array<Text>, _>(apps)
                .get_result::<Count>(&mut *cluster.conn.lock().unwrap())
                .unwrap_or_else(|e| cluster.fail(format!("read the supervisors: {e}")))
                .count;
        if supervised == apps.len() as i64 {
            break;
        }
        if Instant::now() >= deadline {
            cluster.fail(format!(
                "{supervised} of {} apps supervised after 30 s",
                apps.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Each app's instances as the local runtime records them: (release, pid).
pub(crate) fn running(cluster: &Cluster) -> HashMap<String, Vec<(String, i64)>> {
    let mut by_app: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for record in instances(cluster.data.path()) {
        let app = record["app"].as_str().unwrap_or_default().to_owned();
        let release = record["release"].as_str().unwrap_or_default().to_owned();
        let pid = record["pid"].as_i64().unwrap_or_default();
        by_app.entry(app).or_default().push((release, pid));
    }
    by_app
}
