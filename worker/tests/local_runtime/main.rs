//! The local runtime against real processes: `slipway-testapp` instances
//! started, probed and stopped through the `Runtime` trait, each test over its
//! own state dir. A [`Harness`] stops whatever a test leaves running, also
//! when an assertion fails.

#[path = "../support/mod.rs"]
mod support;

mod records;
mod stops;

use slipway_core::testing::wait_until;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slipway_core::domain::{AppName, Env, Health, Manifest, ReleaseId, ServiceName};
use slipway_worker::runtime::local::{InstanceSpec, LocalRuntime};
use slipway_worker::runtime::{Instance, Probe, Runtime, RuntimeError};

/// A state dir with a runtime over it; dropping it stops every recorded instance.
struct Harness {
    rt: LocalRuntime,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = LocalRuntime::new(dir.path()).expect("runtime");
        Harness { rt, dir }
    }

    fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Another runtime over the same state dir, as a second worker process would have.
    fn another_runtime(&self) -> LocalRuntime {
        LocalRuntime::new(self.state_dir()).expect("runtime")
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.state_dir()
            .join("instances")
            .join(format!("{id}.json"))
    }

    fn record(&self, id: &str) -> Value {
        let bytes = std::fs::read(self.record_path(id)).expect("record exists");
        serde_json::from_slice(&bytes).expect("record is JSON")
    }

    fn pid(&self, id: &str) -> i32 {
        let pid = self.record(id)["pid"].as_i64().expect("pid in record");
        i32::try_from(pid).expect("pid fits")
    }

    fn log_path(&self, app: &str, id: &str) -> PathBuf {
        self.state_dir()
            .join("logs")
            .join(app)
            .join(format!("{id}.log"))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // A fresh runtime on its own thread: `drop` cannot await, and the test's
        // runtime may be gone or blocked here.
        let dir = self.state_dir().to_owned();
        let cleanup = std::thread::spawn(move || {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            tokio.block_on(async {
                let rt = LocalRuntime::new(&dir).expect("cleanup runtime");
                rt.stop_all(Duration::ZERO).await;
            });
        });
        let _ = cleanup.join();
    }
}

fn name(s: &str) -> AppName {
    AppName::parse(s).expect("app name")
}

/// The testapp binary with `args`, `exec`ed so the instance's pid is the app.
fn testapp(args: &str) -> String {
    format!("exec '{}' {args}", env!("CARGO_BIN_EXE_slipway-testapp"))
}

fn spec(app: &str, command: &str) -> InstanceSpec {
    InstanceSpec {
        app: name(app),
        service: ServiceName::parse("web").expect("service name"),
        release: ReleaseId::generate(),
        command: Some(command.to_owned()),
        port: Some(3000),
        env: Env::empty(),
    }
}

/// A health check as a manifest declares it.
fn health(path: &str) -> Health {
    let manifest = Manifest::from_json(&json!({
        "services": {"web": {"command": "x", "port": 3000, "health": {"path": path, "timeout": 2}}}
    }))
    .expect("manifest");
    let service = manifest.services().values().next().expect("a service");
    service.health().cloned().expect("health")
}

async fn wait_healthy(rt: &LocalRuntime, instance: &Instance) {
    let check = health("/health");
    wait_until(
        "waiting for healthy",
        || rt.probe(instance, Some(&check)),
        |p| *p == Probe::Healthy,
    )
    .await;
}

/// `GET http://127.0.0.1:<port><path>`: status and body.
async fn get(port: u16, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Running and not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

async fn wait_dead(pid: i32) {
    wait_until(
        &format!("waiting for pid {pid} to die"),
        || async move { alive(pid) },
        |alive| !alive,
    )
    .await;
}

#[tokio::test]
async fn started_instance_becomes_healthy_and_serves_its_release() {
    let h = Harness::new();
    let spec = spec("shop", &testapp("--healthy-after-ms 800"));
    let instance = h.rt.start(&spec).await.expect("start");

    let prefix = format!("web-{}-", spec.release.as_str().to_ascii_lowercase());
    let suffix = instance.id.strip_prefix(&prefix).expect("id shape");
    assert_eq!(suffix.len(), 6, "{}", instance.id);
    assert!(suffix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(instance.release, spec.release);
    let port = instance.port.expect("a port");
    assert_ne!(port, 3000, "the runtime assigns its own port");

    // Alive at once, but not healthy before --healthy-after-ms.
    assert_eq!(h.rt.probe(&instance, None).await, Probe::Healthy);
    let first = h.rt.probe(&instance, Some(&health("/health"))).await;
    assert!(matches!(first, Probe::Unhealthy(_)), "{first:?}");

    wait_healthy(&h.rt, &instance).await;
    assert_eq!(get(port, "/").await, (200, spec.release.to_string()));

    assert_eq!(
        h.rt.instances(&name("shop")).await.expect("list"),
        vec![instance.clone()]
    );
    assert!(h
        .rt
        .instances(&name("other"))
        .await
        .expect("list")
        .is_empty());

    h.rt.stop(&instance, Duration::from_secs(5))
        .await
        .expect("stop");
}

#[tokio::test]
async fn release_env_reaches_the_process_but_the_workers_env_does_not() {
    // Safe in edition 2021; other tests only read the env through std's lock.
    std::env::set_var("SLIPWAY_TEST_SECRET_CANARY", "do-not-leak");
    let h = Harness::new();
    let mut spec = spec("envy", &testapp(""));
    let vars = BTreeMap::from([
        ("GREETING".to_owned(), "hello-from-release".to_owned()),
        ("PORT".to_owned(), "1".to_owned()),
        ("SLIPWAY_APP".to_owned(), "spoofed".to_owned()),
    ]);
    spec.env = Env::parse(vars).expect("env");
    let instance = h.rt.start(&spec).await.expect("start");
    let port = instance.port.expect("port");
    wait_healthy(&h.rt, &instance).await;

    assert_eq!(
        get(port, "/env/GREETING").await,
        (200, "hello-from-release".into())
    );
    // What the runtime assigns wins over the release env.
    assert_eq!(get(port, "/env/PORT").await, (200, port.to_string()));
    assert_eq!(get(port, "/env/SLIPWAY_APP").await, (200, "envy".into()));
    assert_eq!(get(port, "/env/SLIPWAY_SERVICE").await, (200, "web".into()));
    assert_eq!(
        get(port, "/env/SLIPWAY_RELEASE").await,
        (200, spec.release.to_string())
    );
    assert_eq!(
        get(port, "/env/SLIPWAY_INSTANCE").await,
        (200, instance.id.clone())
    );
    if let Ok(path) = std::env::var("PATH") {
        assert_eq!(get(port, "/env/PATH").await, (200, path));
    }
    assert_eq!(get(port, "/env/SLIPWAY_TEST_SECRET_CANARY").await.0, 404);
    if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        assert_eq!(get(port, "/env/CARGO_MANIFEST_DIR").await.0, 404);
    }

    // Values are secrets: the record on disk holds none.
    let record = std::fs::read_to_string(h.record_path(&instance.id)).expect("record");
    assert!(!record.contains("hello-from-release"), "{record}");

    h.rt.stop(&instance, Duration::from_secs(5))
        .await
        .expect("stop");
}

#[tokio::test]
async fn failing_health_checks_are_unhealthy_and_say_why() {
    let h = Harness::new();
    let check = health("/health");

    let erroring =
        h.rt.start(&spec("sick", &testapp("--health-status 500")))
            .await
            .expect("start");
    let probe = wait_until(
        "waiting for an answer",
        || h.rt.probe(&erroring, Some(&check)),
        |p| matches!(p, Probe::Unhealthy(why) if why.contains("answered")),
    )
    .await;
    assert_eq!(probe, Probe::Unhealthy("GET /health answered 500".into()));

    let deaf =
        h.rt.start(&spec("sick", &testapp("--listen-after-ms 60000")))
            .await
            .expect("start");
    let port = deaf.port.expect("port");
    assert_eq!(
        h.rt.probe(&deaf, Some(&check)).await,
        Probe::Unhealthy(format!("not answering on port {port}: connection refused"))
    );
    // Alive all the same.
    assert_eq!(h.rt.probe(&deaf, None).await, Probe::Healthy);

    h.rt.stop_all(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn exited_instances_are_gone_with_their_status() {
    let h = Harness::new();
    let command = format!(
        "echo to-stderr >&2; {}",
        testapp("--exit-after-ms 0 --exit-code 3")
    );
    let exited = h.rt.start(&spec("crashy", &command)).await.expect("start");
    let probe = wait_until(
        "waiting for the exit",
        || h.rt.probe(&exited, None),
        |p| matches!(p, Probe::Gone(_)),
    )
    .await;
    assert_eq!(probe, Probe::Gone("exited with status 3".into()));
    let log = std::fs::read_to_string(h.log_path("crashy", &exited.id)).expect("log");
    assert!(log.contains("to-stderr"), "{log:?}");

    let killed =
        h.rt.start(&spec("crashy", "kill -9 $$"))
            .await
            .expect("start");
    let probe = wait_until(
        "waiting for the kill",
        || h.rt.probe(&killed, None),
        |p| matches!(p, Probe::Gone(_)),
    )
    .await;
    assert_eq!(probe, Probe::Gone("killed by signal 9".into()));

    // Another worker knows no status, only that it no longer runs.
    let other = h.another_runtime();
    assert_eq!(
        other.probe(&exited, None).await,
        Probe::Gone("is no longer running".into())
    );
    // Until stopped, a dead instance stays listed, so the engine can see it.
    assert_eq!(
        other.instances(&name("crashy")).await.expect("list").len(),
        2
    );
    other
        .stop(&exited, Duration::from_secs(1))
        .await
        .expect("stop a gone instance");
    h.rt.stop(&killed, Duration::from_secs(1))
        .await
        .expect("stop a gone instance");
    assert!(h
        .rt
        .instances(&name("crashy"))
        .await
        .expect("list")
        .is_empty());
}

/// The command name of process `pid`, once it is no longer `setpriv` (the
/// step that switches to the app's uid when the tests run as root).
async fn comm_after_setpriv(pid: i32) -> String {
    wait_until(
        "waiting for the instance's own program",
        || async move {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default()
        },
        |comm| comm != "setpriv" && !comm.is_empty(),
    )
    .await
}

/// A plain command line naming its program by path runs with no shell in
/// between: the instance's process is the app itself. A line only a shell
/// can read still runs under `sh`.
#[tokio::test]
async fn a_plain_command_runs_without_a_shell() {
    let h = Harness::new();
    let bin = env!("CARGO_BIN_EXE_slipway-testapp");
    let plain =
        h.rt.start(&spec("plain", &format!("{bin} --healthy-after-ms 0")))
            .await
            .expect("start");
    wait_healthy(&h.rt, &plain).await;
    assert_eq!(
        comm_after_setpriv(h.pid(&plain.id)).await,
        "slipway-testapp"
    );

    let shell =
        h.rt.start(&spec("plain", "sleep 30 && true"))
            .await
            .expect("start");
    assert_eq!(comm_after_setpriv(h.pid(&shell.id)).await, "sh");
    h.rt.stop_all(Duration::from_secs(5)).await;
}
