//! A cluster the bench runs: one API and workers over one schema, a Redis
//! and a data dir, killed (with every instance they started) when dropped;
//! and the app it deploys.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, TestDatabase, Wait};
use slipway_worker::testing::instance_records;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::processes::{kill, Redis, Server};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");
const TOKEN: &str = "handover-bench-token-0123456789";
/// Any 32 bytes, base64: API and workers open each other's secrets.
const SECRET_KEY: &str = "c2xpcHdheS1iZW5jaC1oYW5kb3Zlci1rZXktMzJiISE=";

/// The deployment's lease as stored.
#[derive(QueryableByName)]
pub(crate) struct Lease {
    #[diesel(sql_type = BigInt)]
    pub(crate) lease_epoch: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) lease_owner: Option<String>,
}

#[derive(QueryableByName)]
pub(crate) struct Owner {
    #[diesel(sql_type = Text)]
    pub(crate) owner: String,
}

/// One API and workers over a fresh schema, a Redis and a data dir of their
/// own. Dropped, it kills the workers, then every instance process group
/// the data dir lists, then the API and Redis; the schema goes last.
pub(crate) struct Cluster {
    pub(crate) workers: Vec<Server>,
    pub(crate) lease_seconds: u64,
    pub(crate) http: reqwest::Client,
    pub(crate) api: Server,
    pub(crate) redis: Redis,
    pub(crate) conn: Mutex<PgConnection>,
    pub(crate) data: tempfile::TempDir,
    pub(crate) db: TestDatabase,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for mut worker in self.workers.drain(..) {
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
        for instance in instances(self.data.path()) {
            if let Some(pid) = instance["pid"].as_i64() {
                kill("KILL", &format!("-{pid}"));
            }
        }
    }
}

impl Cluster {
    pub(crate) fn start(lease_seconds: u64) -> Cluster {
        Cluster::start_with(lease_seconds, &[])
    }

    /// [`Cluster::start`] with these settings of the API.
    pub(crate) fn start_with(lease_seconds: u64, api_env: &[(&str, &str)]) -> Cluster {
        let db = TestDatabase::postgres();
        let redis = Redis::start();
        let data = tempfile::tempdir().unwrap();
        let mut command = slipway(&db, &redis, &["server", "api"]);
        command.env("SLIPWAY_ADMIN_TOKEN", TOKEN);
        command.envs(api_env.iter().copied());
        let api = Server::start(command, "address=", "address=");
        let conn = PgConnection::establish(db.url()).expect("connect to the bench's schema");
        Cluster {
            workers: Vec::new(),
            lease_seconds,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            api,
            redis,
            conn: Mutex::new(conn),
            data,
            db,
        }
    }

    pub(crate) fn add_worker(&mut self) {
        let mut command = slipway(&self.db, &self.redis, &["server", "worker"]);
        command.env("SLIPWAY_DATA_DIR", self.data.path()).env(
            "SLIPWAY_WORKER_LEASE_SECONDS",
            self.lease_seconds.to_string(),
        );
        let worker = Server::start(command, "worker started", "worker started");
        self.workers.push(worker.leaving_instances());
    }

    /// Panics with `message` and the last lines of every worker.
    pub(crate) fn fail(&self, message: String) -> ! {
        let mut logs = String::new();
        for worker in &self.workers {
            logs += &format!("\n--- worker {} ---\n{}", worker.pid(), worker.tail(40));
        }
        panic!("{message}{logs}");
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Creates `app` and starts a deployment of `manifest`; its id.
    pub(crate) async fn deploy(&self, app: &str, manifest: Value) -> String {
        let (status, body) = self
            .send(reqwest::Method::POST, "/apps", Some(json!({ "name": app })))
            .await;
        assert_eq!(status, 201, "POST /apps: {body}");
        let body = json!({ "manifest": manifest });
        let path = format!("/apps/{app}/deploy");
        let (status, body) = self.send(reqwest::Method::POST, &path, Some(body)).await;
        assert_eq!(status, 202, "POST {path}: {body}");
        body["deployment"]["id"].as_str().unwrap().to_owned()
    }

    /// Polls the deployment every 10 ms until its status is `wanted` or
    /// final; the status reached.
    pub(crate) async fn until_status(
        &self,
        app: &str,
        id: &str,
        wanted: &str,
        within: Duration,
    ) -> String {
        let path = format!("/apps/{app}/deployments/{id}");
        let status = |d: &Value| d["status"].as_str().unwrap_or_default().to_owned();
        let reached = Wait::new(format!("{app}: {wanted}"))
            .within(within)
            .every(Duration::from_millis(10))
            .try_until(
                || self.get(&path),
                |d| {
                    let status = status(d);
                    status == wanted || ["succeeded", "rolled_back", "failed"].contains(&&*status)
                },
            )
            .await;
        match reached {
            Ok(deployment) => status(&deployment),
            Err(timed_out) => self.fail(timed_out.to_string()),
        }
    }

    pub(crate) async fn until_succeeded(&self, app: &str, id: &str) {
        let status = self
            .until_status(app, id, "succeeded", Duration::from_secs(90))
            .await;
        if status != "succeeded" {
            let deployment = self.get(&format!("/apps/{app}/deployments/{id}")).await;
            self.fail(format!("{app}: ended {status}: {deployment}"));
        }
    }

    pub(crate) fn lease(&self, id: &str) -> Lease {
        diesel::sql_query("SELECT lease_epoch, lease_owner FROM deployments WHERE id = $1")
            .bind::<Text, _>(id)
            .get_result(&mut *self.conn.lock().unwrap())
            .expect("read the deployment's lease")
    }

    pub(crate) fn supervisor(&self, app: &str) -> Option<String> {
        diesel::sql_query("SELECT owner FROM supervisors WHERE app = $1")
            .bind::<Text, _>(app)
            .get_result::<Owner>(&mut *self.conn.lock().unwrap())
            .ok()
            .map(|row| row.owner)
    }

    /// The worker (an index in `workers`) whose name is `owner`:
    /// `worker-<pid>-<start>`.
    pub(crate) fn worker_named(&self, owner: &str) -> usize {
        let pid = owner.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        self.workers
            .iter()
            .position(|w| Some(w.pid()) == pid)
            .unwrap_or_else(|| self.fail(format!("`{owner}` is none of this bench's workers")))
    }

    /// Lets `app`'s `running` deployment get going, then ends the worker
    /// holding it with `signal`. Returns (when the signal went out, the
    /// worker's index, the claim count then).
    pub(crate) async fn signal_holder(
        &self,
        app: &str,
        id: &str,
        signal: &str,
    ) -> (Instant, usize, i64) {
        let status = self
            .until_status(app, id, "running", Duration::from_secs(30))
            .await;
        if status != "running" {
            self.fail(format!("{app}: ended {status} before it was seen running"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = self.lease(id);
        let Some(owner) = before.lease_owner else {
            self.fail(format!("{app}: running but nobody holds it"));
        };
        let holder = self.worker_named(&owner);
        let sent = Instant::now();
        kill(signal, &self.workers[holder].pid().to_string());
        (sent, holder, before.lease_epoch)
    }

    /// Replaces the worker at `index` (it has exited) with a new one.
    pub(crate) fn replace_worker(&mut self, index: usize) {
        drop(self.workers.remove(index));
        self.add_worker();
    }
}

/// `slipway ARGS` against the cluster's database and Redis, none of the
/// caller's SLIPWAY_* settings.
pub(crate) fn slipway(db: &TestDatabase, redis: &Redis, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("SLIPWAY_ADMIN_TOKEN")
        .env_remove("SLIPWAY_SECRET_KEY_PREVIOUS")
        .env_remove("SLIPWAY_QUEUE_NAMESPACE")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("SLIPWAY_DATABASE_URL", db.url())
        .env("SLIPWAY_REDIS_URL", &redis.url)
        .env("SLIPWAY_SECRET_KEY", SECRET_KEY)
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    command
}

/// The instance records of the local runtime under a data dir.
pub(crate) fn instances(data: &Path) -> Vec<Value> {
    instance_records(&data.join("runtime"))
}

/// The test app: beside `slipway` (the same profile), else the debug build.
pub(crate) fn testapp() -> PathBuf {
    let dir = Path::new(BIN).parent().expect("slipway's directory");
    let debug = dir.parent().map(|target| target.join("debug"));
    [Some(dir.to_owned()), debug]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("slipway-testapp"))
        .find(|path| path.exists())
        .expect("build the test app first: cargo build -p slipway-worker --bin slipway-testapp")
}

/// One `web` service of `count` test apps healthy `after_ms` after start,
/// checked from `grace` seconds on.
pub(crate) fn manifest(testapp: &Path, after_ms: u64, count: u32, grace: u32) -> Value {
    let flags = format!("--healthy-after-ms {after_ms}");
    let web = ServiceBuilder::testapp(testapp.display(), &flags);
    ManifestBuilder::web(web.count(count).grace(grace)).json()
}
