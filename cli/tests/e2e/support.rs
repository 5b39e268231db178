//! Running the real `slipway` binary: its commands, the API and client as
//! CI and users drive them, and small HTTP helpers. The processes a test
//! starts (servers, Redis) live in `processes.rs`.

use serde_json::Value;
use slipway_core::testing::{ManifestBuilder, ServiceBuilder, Wait};
use slipway_worker::testing::instance_records;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_slipway");

pub use crate::processes::{free_port, start, Redis, Server};

/// The secret key `server api` and `server worker` get in these tests (one
/// key, so an API and a worker open each other's secrets).
pub const SECRET_KEY: &str = "c2xpcHdheS1lMmUtdGVzdC1rZXktMzItYnl0ZXMhISE=";

/// `slipway ARGS` with none of the caller's SLIPWAY_* settings; servers get
/// [`SECRET_KEY`].
pub fn slipway(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("SLIPWAY_ADMIN_TOKEN")
        .env_remove("SLIPWAY_DATABASE_URL")
        .env_remove("SLIPWAY_REDIS_URL")
        .env_remove("SLIPWAY_SECRET_KEY")
        .env_remove("SLIPWAY_SECRET_KEY_PREVIOUS")
        .env_remove("SLIPWAY_ROUTER_URL")
        .env_remove("SLIPWAY_ROUTER_LISTEN")
        .env_remove("SLIPWAY_RUNTIME")
        .env_remove("SLIPWAY_K8S_NAMESPACE_PREFIX")
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    if args.first() == Some(&"server") {
        command.env("SLIPWAY_SECRET_KEY", SECRET_KEY);
    }
    if args.first() == Some(&"dev") {
        // Tests run side by side: each dev's router on a port of its own.
        command.env("SLIPWAY_ROUTER_LISTEN", "127.0.0.1:0");
    }
    command
}

pub fn run(mut command: Command) -> Output {
    command.output().expect("run slipway")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

/// `GET url` with `Host: host` (a router routes by it) and `headers`.
pub fn get_at(url: &str, host: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url).header("host", host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

pub fn post_app(url: &str, token: &str, name: &str) -> u16 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/apps"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("request");
        response.status().as_u16()
    })
}

/// The API of a running server, as CI talks to it.
pub struct Api {
    pub url: String,
    pub token: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            url: url.to_owned(),
            token: token.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Polls the deployment until it is final; returns it.
    pub async fn wait_final(&self, app: &str, deployment: &str, within: Duration) -> Value {
        let path = format!("/apps/{app}/deployments/{deployment}");
        Wait::new(format!("{deployment} to end"))
            .within(within)
            .every(Duration::from_millis(100))
            .until(
                || self.get(&path),
                |d| ["succeeded", "rolled_back", "failed"].contains(&d["status"].as_str().unwrap()),
            )
            .await
    }
}

/// The instance records of the local runtime under a data dir.
pub fn instances(data_dir: &Path) -> Vec<Value> {
    instance_records(&data_dir.join("runtime"))
}

/// What an instance answers on `/`: the release it runs.
pub async fn answer(instance: &Value) -> String {
    let url = format!("http://127.0.0.1:{}/", instance["port"]);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The test app, built beside `slipway` in the same target directory.
pub fn testapp() -> String {
    let path = Path::new(BIN).parent().unwrap().join("slipway-testapp");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path.display().to_string()
}

/// The test app run with `flags`, on port 8000, one instance,
/// health-checked every second from its start.
pub fn testapp_service(flags: &str) -> ServiceBuilder {
    ServiceBuilder::testapp(testapp(), flags)
}

/// A manifest (JSON) of `count` `web` instances of [`testapp_service`].
pub fn testapp_manifest(flags: &str, count: u32) -> Value {
    ManifestBuilder::web(testapp_service(flags).count(count)).json()
}

/// `slipway dev` in `data`, on port 0; returns it and its admin token.
pub fn dev_server(data: &Path) -> (Server, String) {
    let mut command = slipway(&["dev"]);
    command.env("SLIPWAY_DATA_DIR", data);
    let (server, lines) = start(command, "Try:", "API:");
    let token = lines
        .iter()
        .find_map(|l| l.split_once("Token:"))
        .expect("a Token: line")
        .1
        .trim()
        .to_owned();
    (server, token)
}

/// The `slipway` client as a user runs it: against `url` with `token`, in a
/// working directory and config dir of its own (no saved login, no app).
pub struct Client {
    pub url: String,
    pub token: String,
    pub dir: tempfile::TempDir,
}

/// What one client command did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Asserts exit 0 and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self.stdout
    }

    /// Asserts the exit code and exactly one `ERROR: ...` line on stderr;
    /// returns that line.
    pub fn error(self, code: i32) -> String {
        assert_eq!(self.code, Some(code), "{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:#?}");
        assert!(lines[0].starts_with("ERROR: "), "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        lines[0].to_owned()
    }

    pub fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("--json gave no JSON ({e}): {out}"))
    }
}

impl Client {
    pub fn new(url: &str, token: &str) -> Client {
        Client {
            url: url.to_owned(),
            token: token.to_owned(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The working directory (where `slipway.yml` is looked for).
    pub fn cwd(&self) -> std::path::PathBuf {
        self.dir.path().join("work")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let cwd = self.cwd();
        std::fs::create_dir_all(&cwd).unwrap();
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(cwd)
            .env("SLIPWAY_HOST", &self.url)
            .env("SLIPWAY_TOKEN", &self.token)
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env_remove("SLIPWAY_APP")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_command(self.command(args))
    }

    pub fn run_command(&self, mut command: Command) -> Ran {
        let output = command.output().expect("run slipway");
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Ran {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run slipway");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Writes `slipway.yml` in the working directory: `app:` and `count`
    /// `web` instances of the test app run with `flags`.
    pub fn manifest(&self, app: &str, flags: &str, count: u32) {
        let manifest = ManifestBuilder::web(testapp_service(flags).count(count)).app(app);
        std::fs::create_dir_all(self.cwd()).unwrap();
        std::fs::write(self.cwd().join("slipway.yml"), manifest.yaml()).unwrap();
    }
}

/// A `slipway dev` stopped with SIGTERM when dropped, so it stops the
/// instances it started (SIGKILL would leave them running).
pub struct Dev {
    pub server: Server,
    data: std::path::PathBuf,
}

impl Dev {
    /// Kills it at once (a crash), and then the instances it left behind.
    pub fn crash(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
        for instance in instances(&self.data) {
            if let Some(pid) = instance["pid"].as_i64() {
                // Each instance leads its own process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.server.child.try_wait() {
            let pid = self.server.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A `slipway dev` and a client of it.
pub fn dev_client(data: &Path) -> (Dev, Client) {
    let (server, token) = dev_server(data);
    let client = Client::new(&server.url, &token);
    let dev = Dev {
        server,
        data: data.to_owned(),
    };
    (dev, client)
}
