//! The API under load: `slipway server api` of the real binary (release
//! build) over a fresh PostgreSQL schema and a Redis of its own, killed when
//! dropped; and the data the loads start from.

use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, TestDatabase};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::processes::{free_port, Redis};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");
/// The admin token every request carries.
pub const TOKEN: &str = "api-load-bench-token-0123456789abcdef";
/// Any 32 bytes, base64.
const SECRET_KEY: &str = "c2xpcHdheS1iZW5jaC1hcGktbG9hZC1rZXktMzJiISE=";

/// Apps the builds, env and releases loads spread over, round-robin:
/// `w-0` … `w-{WRITE_APPS - 1}`.
pub const WRITE_APPS: usize = 8;
/// Apps with one release each that promotions use, one promotion per app
/// (an app has one open deployment at a time), for the API (`pa-N`,
/// releases `RA…`) and for the floor (`pf-N`, releases `RF…`).
pub const PROMOTE_APPS: usize = 40_000;

/// The API process; SIGKILLed when dropped (a panic included), then Redis,
/// then the schema.
pub struct Api {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _redis: Redis,
    pub db: TestDatabase,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Api {
    /// Starts the API with `SLIPWAY_RATE_LIMIT=0` and `RUST_LOG=warn` and
    /// waits until `/healthz` answers.
    pub fn start() -> Api {
        let db = TestDatabase::postgres();
        let redis = Redis::start();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("api.log");
        let port = free_port();
        let out = File::create(&log).expect("create the API's log");
        // Another build to measure (an older one, to compare), else this one.
        let bin = std::env::var_os("API_LOAD_BIN").unwrap_or_else(|| BIN.into());
        let child = Command::new(bin)
            .args(["server", "api"])
            .env_remove("SLIPWAY_SECRET_KEY_PREVIOUS")
            .env_remove("SLIPWAY_QUEUE_NAMESPACE")
            .env_remove("SLIPWAY_DATABASE_POOL_SIZE")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("SLIPWAY_DATABASE_URL", db.url())
            .env("SLIPWAY_REDIS_URL", &redis.url)
            .env("SLIPWAY_SECRET_KEY", SECRET_KEY)
            .env("SLIPWAY_ADMIN_TOKEN", TOKEN)
            .env("SLIPWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLIPWAY_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log twice"))
            .stderr(out)
            .spawn()
            .expect("run slipway server api");
        let mut api = Api {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
            _redis: redis,
            db,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = api.child.try_wait() {
                api.fail(&format!("the API exited ({status})"));
            }
            if healthy(port) {
                return api;
            }
            if Instant::now() >= deadline {
                api.fail("the API did not answer /healthz within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with `message` and what the API printed.
    pub fn fail(&self, message: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{message}; the API printed:\n{}", tail.join("\n"))
    }

    /// Whether the API printed anything (it logs warnings and errors only).
    pub fn printed(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(self.db.url()).expect("connect to the bench's schema")
    }

    /// Creates the write apps with a first build each (through the API),
    /// then the promotion apps with a release each (SQL, copying that
    /// release's sealed env).
    pub async fn seed(&self) {
        let http = reqwest::Client::new();
        for n in 0..WRITE_APPS {
            let app = format!("w-{n}");
            self.send(&http, "/apps", json!({ "name": app })).await;
            let build = json!({ "manifest": manifest() });
            self.send(&http, &format!("/apps/{app}/builds"), build)
                .await;
        }
        let mut conn = self.connect();
        #[derive(QueryableByName)]
        struct Env {
            #[diesel(sql_type = Text)]
            env: String,
        }
        let env: Env = diesel::sql_query("SELECT env FROM releases WHERE app = 'w-0' LIMIT 1")
            .get_result(&mut conn)
            .expect("the first release's env");
        let env = env.env.replace('\'', "''");
        for (apps, releases) in [("pa", 'A'), ("pf", 'F')] {
            for start in (0..PROMOTE_APPS).step_by(5_000) {
                let end = (start + 5_000).min(PROMOTE_APPS);
                let app_rows: Vec<String> = (start..end)
                    .map(|n| format!("('{apps}-{n}', 1, now())"))
                    .collect();
                let release_rows: Vec<String> = (start..end)
                    .map(|n| {
                        let id = promoted_release(releases, n);
                        format!("('{id}', '{apps}-{n}', 1, '{env}', 'seeded', 'bench', now())")
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO apps (name, seq, created_at) VALUES {};
                     INSERT INTO releases (id, app, seq, env, description, actor, created_at) VALUES {};",
                    app_rows.join(","),
                    release_rows.join(",")
                );
                diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql)
                    .expect("seed the promotion apps");
            }
        }
        diesel::connection::SimpleConnection::batch_execute(&mut conn, "ANALYZE").expect("analyze");
        // The seed's dirty pages are written now, not by a checkpoint that
        // stalls the first measured round (needs superuser or pg_checkpoint).
        if let Err(e) = diesel::connection::SimpleConnection::batch_execute(&mut conn, "CHECKPOINT")
        {
            println!("api_load: no CHECKPOINT after seeding ({e}); the first round may stall");
        }
    }

    async fn send(&self, http: &reqwest::Client, path: &str, body: Value) {
        let response = http
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| self.fail(&format!("POST {path}: {e}")));
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            self.fail(&format!("POST {path}: {status} {text}"));
        }
    }
}

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = [0u8; 16];
    let n = stream.read(&mut answer).unwrap_or(0);
    answer[..n].starts_with(b"HTTP/1.1 200")
}

/// What every build posts: one web service, as a CI pipeline would.
pub fn manifest() -> Value {
    let web = ServiceBuilder::new()
        .command("./bin/server --port $PORT")
        .port(8080)
        .health("/health")
        .count(2);
    ManifestBuilder::web(web).json()
}

/// The release of promotion app `n`: `R`, `kind`, then `n` in 9 letters
/// (base 26, A = 0); the Lua scripts compute the same.
pub fn promoted_release(kind: char, mut n: usize) -> String {
    let mut letters = [b'A'; 9];
    for letter in letters.iter_mut().rev() {
        *letter = b'A' + (n % 26) as u8;
        n /= 26;
    }
    format!("R{kind}{}", String::from_utf8_lossy(&letters))
}
