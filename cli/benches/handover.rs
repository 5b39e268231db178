//! Hand-over and restarts on real processes: `slipway server api` and
//! `slipway server worker`s of the real binary over one PostgreSQL schema,
//! one Redis started here and one shared `SLIPWAY_DATA_DIR`, running
//! `slipway-testapp` instances as the apps. Five runs of each, a fresh app
//! per run:
//!
//! 1. SIGTERM: 2 workers, lease 15 s (the default). A rollout of 2 instances
//!    healthy 3 s after start (health grace 2 s) is `running`; the worker
//!    holding it (the deployment's `lease_owner`) gets SIGTERM. Timed:
//!    SIGTERM → the worker exited, and exited → the deployment claimed again
//!    (its `lease_epoch` went up) by the other worker. Goals: ≤ 10 s and
//!    ≤ 2 s.
//! 2. SIGKILL: the same with SIGKILL and a lease of 2 s. Timed: SIGKILL →
//!    claimed again (the lease lapses, the other worker's reconciler, every
//!    2 s, queues it). Goal: ≤ lease + 2 s. Run n waits (n − 1) × 0.4 s
//!    before it deploys, so the kills fall at 5 points of that period.
//! 3. A crashed instance: 1 worker, 1 instance healthy 300 ms after start
//!    (grace 0, interval 1 s). Once the supervising worker reports it
//!    running, its process group gets SIGKILL. Timed: → an instance with
//!    another id answers 200 on `GET /health` (polled every 5 ms). Goal:
//!    ≤ 1.5 s (the supervisor waits 1 s before the first restart).
//!
//! Every run must end with the deployment `succeeded`. Prints a table per
//! measurement and exits non-zero when a goal is missed; a failure panics.
//! Servers and every instance process group listed in the data dir are
//! killed when a cluster is dropped, a panic included.
//!
//! Needs PostgreSQL (`SLIPWAY_TEST_DATABASE_URL`, else 127.0.0.1:5432),
//! `redis-server` on the PATH and `slipway-testapp` built beside `slipway`
//! or in `target/debug` (`cargo build -p slipway-worker --bin slipway-testapp`).
//! Run: `cargo bench -p slipway-cli --bench handover` (about a minute).

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use slipway_core::testing::TestDatabase;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const RUNS: usize = 5;
/// How often a worker's reconciler looks for deployments whose lease lapsed.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);
const BIN: &str = env!("CARGO_BIN_EXE_slipway");
const TOKEN: &str = "handover-bench-token-0123456789";
/// Any 32 bytes, base64: API and workers open each other's secrets.
const SECRET_KEY: &str = "c2xpcHdheS1iZW5jaC1oYW5kb3Zlci1rZXktMzJiISE=";
/// How many of a server's last output lines are kept, to show on failure.
const KEPT_LINES: usize = 200;

/// A running server process, killed when dropped.
struct Server {
    child: Child,
    /// The address after the marker of its ready line, as `http://...`.
    url: String,
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command` and waits (30 s at most) for a line holding
    /// `marker`; what follows it is the address.
    #[allow(clippy::zombie_processes)] // the Server kills and waits when dropped
    fn start(mut command: Command, marker: &str) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run slipway");
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let (tx, lines) = (tx.clone(), lines.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line.clone());
                    let mut kept = lines.lock().unwrap();
                    if kept.len() == KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            });
        }
        let mut server = Server {
            child,
            url: String::new(),
            lines,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let seen = server.tail(KEPT_LINES);
                drop(server);
                panic!("no `{marker}` line within 30 s; output:\n{seen}");
            };
            if let Some((_, rest)) = line.split_once(marker) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                server.url = format!("http://{}", addr.trim_start_matches("http://"));
                return server;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn tail(&self, count: usize) -> String {
        let lines = self.lines.lock().unwrap();
        let skip = lines.len().saturating_sub(count);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A Redis of the bench's own on a free port, killed when dropped.
struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be on the PATH");
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Redis::pong(port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn pong(port: u16) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = [0u8; 16];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut reply)
                .is_ok_and(|n| &reply[..n] == b"+PONG\r\n")
    }
}

/// The deployment's lease as stored.
#[derive(QueryableByName)]
struct Lease {
    #[diesel(sql_type = BigInt)]
    lease_epoch: i64,
    #[diesel(sql_type = Nullable<Text>)]
    lease_owner: Option<String>,
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = Text)]
    owner: String,
}

/// One API and workers over a fresh schema, a Redis and a data dir of their
/// own. Dropped, it kills the workers, then every instance process group
/// the data dir lists, then the API and Redis; the schema goes last.
struct Cluster {
    workers: Vec<Server>,
    lease_seconds: u64,
    http: reqwest::Client,
    api: Server,
    redis: Redis,
    conn: Mutex<PgConnection>,
    data: tempfile::TempDir,
    db: TestDatabase,
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
    fn start(lease_seconds: u64) -> Cluster {
        let db = TestDatabase::postgres();
        let redis = Redis::start();
        let data = tempfile::tempdir().unwrap();
        let mut command = slipway(&db, &redis, &["server", "api"]);
        command.env("SLIPWAY_ADMIN_TOKEN", TOKEN);
        let api = Server::start(command, "address=");
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

    fn add_worker(&mut self) {
        let mut command = slipway(&self.db, &self.redis, &["server", "worker"]);
        command.env("SLIPWAY_DATA_DIR", self.data.path()).env(
            "SLIPWAY_WORKER_LEASE_SECONDS",
            self.lease_seconds.to_string(),
        );
        self.workers.push(Server::start(command, "worker started"));
    }

    /// Panics with `message` and the last lines of every worker.
    fn fail(&self, message: String) -> ! {
        let mut logs = String::new();
        for worker in &self.workers {
            logs += &format!("\n--- worker {} ---\n{}", worker.pid(), worker.tail(40));
        }
        panic!("{message}{logs}");
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
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

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Creates `app` and starts a deployment of `manifest`; its id.
    async fn deploy(&self, app: &str, manifest: Value) -> String {
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
    async fn until_status(&self, app: &str, id: &str, wanted: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let deployment = self.get(&format!("/apps/{app}/deployments/{id}")).await;
            let status = deployment["status"].as_str().unwrap_or_default().to_owned();
            if status == wanted || ["succeeded", "rolled_back", "failed"].contains(&&*status) {
                return status;
            }
            if Instant::now() >= deadline {
                self.fail(format!(
                    "{app}: not {wanted} within {within:?}: {deployment}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn until_succeeded(&self, app: &str, id: &str) {
        let status = self
            .until_status(app, id, "succeeded", Duration::from_secs(90))
            .await;
        if status != "succeeded" {
            let deployment = self.get(&format!("/apps/{app}/deployments/{id}")).await;
            self.fail(format!("{app}: ended {status}: {deployment}"));
        }
    }

    fn lease(&self, id: &str) -> Lease {
        diesel::sql_query("SELECT lease_epoch, lease_owner FROM deployments WHERE id = $1")
            .bind::<Text, _>(id)
            .get_result(&mut *self.conn.lock().unwrap())
            .expect("read the deployment's lease")
    }

    fn supervisor(&self, app: &str) -> Option<String> {
        diesel::sql_query("SELECT owner FROM supervisors WHERE app = $1")
            .bind::<Text, _>(app)
            .get_result::<Owner>(&mut *self.conn.lock().unwrap())
            .ok()
            .map(|row| row.owner)
    }

    /// The worker (an index in `workers`) whose name is `owner`:
    /// `worker-<pid>-<start>`.
    fn worker_named(&self, owner: &str) -> usize {
        let pid = owner.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        self.workers
            .iter()
            .position(|w| Some(w.pid()) == pid)
            .unwrap_or_else(|| self.fail(format!("`{owner}` is none of this bench's workers")))
    }

    /// Lets `app`'s `running` deployment get going, then ends the worker
    /// holding it with `signal`. Returns (when the signal went out, the
    /// worker's index, the claim count then).
    async fn signal_holder(&self, app: &str, id: &str, signal: &str) -> (Instant, usize, i64) {
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
    fn replace_worker(&mut self, index: usize) {
        drop(self.workers.remove(index));
        self.add_worker();
    }
}

/// `slipway ARGS` against the cluster's database and Redis, none of the
/// caller's SLIPWAY_* settings.
fn slipway(db: &TestDatabase, redis: &Redis, args: &[&str]) -> Command {
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

/// `kill -SIGNAL -- TARGET` (a pid, or `-pgid` for a process group).
fn kill(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The instance records of the local runtime under a data dir.
fn instances(data: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(data.join("runtime").join("instances")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            (!name.starts_with('.') && name.ends_with(".json"))
                .then(|| std::fs::read(&path).ok())?
        })
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect()
}

/// The test app: beside `slipway` (the same profile), else the debug build.
fn testapp() -> PathBuf {
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
fn manifest(testapp: &Path, after_ms: u64, count: u32, grace: u32) -> Value {
    json!({ "services": { "web": {
        "command": format!("'{}' --healthy-after-ms {after_ms}", testapp.display()),
        "port": 8000,
        "health": { "path": "/health", "grace": grace, "interval": 1, "timeout": 1 },
        "scale": { "count": count },
    }}})
}

/// Scenario 1: per run (SIGTERM → exited, exited → claimed), in seconds.
async fn sigterm(testapp: &Path) -> Vec<[f64; 2]> {
    let mut cluster = Cluster::start(15);
    cluster.add_worker();
    cluster.add_worker();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let app = format!("term-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 3000, 2, 2)).await;
        let (sent, holder, epoch) = cluster.signal_holder(&app, &id, "TERM").await;
        let (mut exited, mut claimed) = (None, None);
        let deadline = sent + Duration::from_secs(30);
        while exited.is_none() || claimed.is_none() {
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: 30 s after SIGTERM, exited {exited:?}, claimed again {claimed:?}"
                ));
            }
            let worker = &mut cluster.workers[holder].child;
            if exited.is_none() && worker.try_wait().unwrap().is_some() {
                exited = Some(sent.elapsed());
            }
            if claimed.is_none() {
                let lease = cluster.lease(&id);
                if lease.lease_epoch > epoch {
                    claimed = Some(sent.elapsed());
                    if let Some(owner) = lease.lease_owner {
                        let by = cluster.worker_named(&owner);
                        assert_ne!(by, holder, "{app}: claimed again by the stopping worker");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (exited, claimed) = (exited.unwrap(), claimed.unwrap());
        let taken = claimed.as_secs_f64() - exited.as_secs_f64();
        runs.push([exited.as_secs_f64(), taken]);
        cluster.replace_worker(holder);
        cluster.until_succeeded(&app, &id).await;
        println!(
            "  sigterm run {run}: exited after {:.3} s, claimed again {:+.3} s after the exit",
            exited.as_secs_f64(),
            taken
        );
    }
    runs
}

/// Scenario 2: per run, SIGKILL → claimed again, in seconds.
async fn sigkill(testapp: &Path, lease_seconds: u64) -> Vec<[f64; 1]> {
    let mut cluster = Cluster::start(lease_seconds);
    cluster.add_worker();
    cluster.add_worker();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        // Each run's end follows a reconciler pass, so without a pause the
        // kills would all fall at one point of its period: spread them.
        let stagger = RECONCILE_EVERY * (run - 1) as u32 / RUNS as u32;
        tokio::time::sleep(stagger).await;
        let app = format!("kill-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 3000, 2, 2)).await;
        let (sent, holder, epoch) = cluster.signal_holder(&app, &id, "KILL").await;
        let _ = cluster.workers[holder].child.wait();
        let deadline = sent + Duration::from_secs(30);
        let claimed = loop {
            let lease = cluster.lease(&id);
            if lease.lease_epoch > epoch {
                break sent.elapsed();
            }
            if Instant::now() >= deadline {
                cluster.fail(format!("{app}: not claimed again 30 s after SIGKILL"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        runs.push([claimed.as_secs_f64()]);
        cluster.replace_worker(holder);
        cluster.until_succeeded(&app, &id).await;
        println!(
            "  sigkill run {run}: claimed again {:.3} s after SIGKILL",
            claimed.as_secs_f64()
        );
    }
    runs
}

/// Scenario 3: per run, instance SIGKILLed → a new one answers 200 on
/// `/health`, in seconds.
async fn restart(testapp: &Path) -> Vec<[f64; 1]> {
    let mut cluster = Cluster::start(15);
    cluster.add_worker();
    let worker = format!("worker-{}-", cluster.workers[0].pid());
    let health = reqwest::Client::builder()
        .timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let app = format!("crash-{run}");
        let id = cluster.deploy(&app, manifest(testapp, 300, 1, 0)).await;
        cluster.until_succeeded(&app, &id).await;
        // The supervisor takes new apps up every 5 s; then it checks the
        // instance's health once and reports it running.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut steady = None;
        let victim = loop {
            let ours: Vec<Value> = instances(cluster.data.path())
                .into_iter()
                .filter(|i| i["app"] == app.as_str())
                .collect();
            let supervised = cluster
                .supervisor(&app)
                .is_some_and(|owner| owner.starts_with(&worker));
            let processes = cluster.get(&format!("/apps/{app}/processes")).await;
            let running = processes["processes"].as_array().is_some_and(|p| {
                p.len() == 1
                    && ours.len() == 1
                    && p[0]["status"] == "running"
                    && p[0]["id"] == ours[0]["id"]
            });
            if !(supervised && running) {
                steady = None;
            } else if steady.get_or_insert_with(Instant::now).elapsed()
                >= Duration::from_millis(300)
            {
                break ours[0].clone();
            }
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: not supervised and running within 30 s: {processes}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let pid = victim["pid"].as_i64().expect("a pid");
        let killed = Instant::now();
        assert!(kill("KILL", &format!("-{pid}")), "kill the group of {pid}");
        let deadline = killed + Duration::from_secs(15);
        let answered = 'answered: loop {
            for instance in instances(cluster.data.path()) {
                if instance["app"] != app.as_str() || instance["id"] == victim["id"] {
                    continue;
                }
                let url = format!("http://127.0.0.1:{}/health", instance["port"]);
                if let Ok(response) = health.get(url).send().await {
                    if response.status() == 200 {
                        break 'answered killed.elapsed();
                    }
                }
            }
            if Instant::now() >= deadline {
                cluster.fail(format!(
                    "{app}: no new healthy instance 15 s after the kill"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        runs.push([answered.as_secs_f64()]);
        println!(
            "  restart run {run}: a new instance answered 200 {:.3} s after SIGKILL",
            answered.as_secs_f64()
        );
    }
    runs
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Prints the runs, their median and max against each column's goal (the
/// max must be within it); whether every goal was met.
fn table<const N: usize>(title: &str, columns: [(&str, f64); N], runs: &[[f64; N]]) -> bool {
    println!("\n{title}");
    let width = columns
        .iter()
        .map(|(name, _)| name.chars().count().max(10))
        .collect::<Vec<_>>();
    print!("  {:<8}", "run");
    for ((name, _), width) in columns.iter().zip(&width) {
        print!("  {name:>w$}", w = *width);
    }
    println!();
    let row = |label: &str, values: &[f64]| {
        print!("  {label:<8}");
        for (value, width) in values.iter().zip(&width) {
            print!("  {:>w$}", format!("{value:.3} s"), w = *width);
        }
        println!();
    };
    for (i, run) in runs.iter().enumerate() {
        row(&(i + 1).to_string(), run);
    }
    let column = |c: usize| runs.iter().map(|r| r[c]).collect::<Vec<f64>>();
    let medians: Vec<f64> = (0..N).map(|c| median(column(c))).collect();
    let maxes: Vec<f64> = (0..N)
        .map(|c| column(c).into_iter().fold(f64::MIN, f64::max))
        .collect();
    row("median", &medians);
    row("max", &maxes);
    print!("  {:<8}", "goal");
    let mut met = true;
    for (c, ((_, goal), width)) in columns.iter().zip(&width).enumerate() {
        let ok = maxes[c] <= *goal;
        met &= ok;
        let mark = if ok { "" } else { " MISSED" };
        print!("  {:>w$}", format!("≤ {goal:.1} s{mark}"), w = *width);
    }
    println!();
    met
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list
    }
    let testapp = testapp();
    println!("test app: {}", testapp.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    const KILL_LEASE: u64 = 2;
    let (term, killed, restarted) = runtime.block_on(async {
        let term = sigterm(&testapp).await;
        let killed = sigkill(&testapp, KILL_LEASE).await;
        let restarted = restart(&testapp).await;
        (term, killed, restarted)
    });
    let mut met = table(
        "Hand-over after SIGTERM (2 workers, lease 15 s)",
        [("SIGTERM → exited", 10.0), ("exited → claimed", 2.0)],
        &term,
    );
    met &= table(
        &format!("Hand-over after SIGKILL (2 workers, lease {KILL_LEASE} s)"),
        [("SIGKILL → claimed", KILL_LEASE as f64 + 2.0)],
        &killed,
    );
    met &= table(
        "Restart of a crashed instance (1 worker, healthy 300 ms after start)",
        [("SIGKILL → new instance healthy", 1.5)],
        &restarted,
    );
    if !met {
        eprintln!("\nhandover: a goal was missed");
        std::process::exit(1);
    }
}
