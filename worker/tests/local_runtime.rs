//! The local runtime against real processes: `slipway-testapp` instances
//! started, probed and stopped through the `Runtime` trait, each test over its
//! own state dir. A [`Harness`] stops whatever a test leaves running, also
//! when an assertion fails.

mod support;

use support::eventually;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use slipway_core::domain::{AppName, Env, Health, Manifest, ReleaseId, ServiceName};
use slipway_worker::runtime::local::LocalRuntime;
use slipway_worker::runtime::{Instance, InstanceSpec, Probe, Runtime, RuntimeError};

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
        image: None,
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
    eventually(
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
    eventually(
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
    let probe = eventually(
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
    let probe = eventually(
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
    let probe = eventually(
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

#[tokio::test]
async fn stop_terminates_the_whole_group_and_forgets_the_instance() {
    let h = Harness::new();
    // Written in the app's working directory, the one place it may write.
    let bg_pid_file = h.state_dir().join("apps").join("shop").join("bg.pid");
    // A background process in the same group, as a shell script might leave.
    let command = format!("sleep 300 & echo $! > bg.pid; {}", testapp(""));
    let instance = h.rt.start(&spec("shop", &command)).await.expect("start");
    wait_healthy(&h.rt, &instance).await;
    let pid = h.pid(&instance.id);
    let bg_pid: i32 = std::fs::read_to_string(&bg_pid_file)
        .expect("bg pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(pid) && alive(bg_pid));

    let started = Instant::now();
    h.rt.stop(&instance, Duration::from_secs(10))
        .await
        .expect("stop");
    // Well under the grace: SIGTERM did it, not SIGKILL.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    wait_dead(pid).await;
    wait_dead(bg_pid).await;

    assert_eq!(
        h.rt.probe(&instance, None).await,
        Probe::Gone("is no longer running".into())
    );
    assert!(!h.record_path(&instance.id).exists());
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
    let log = std::fs::read_to_string(h.log_path("shop", &instance.id)).expect("log kept");
    let port = instance.port.expect("port");
    assert!(
        log.contains(&format!("testapp listening on 127.0.0.1:{port}")),
        "{log:?}"
    );

    // Stopping again is fine.
    h.rt.stop(&instance, Duration::from_secs(1))
        .await
        .expect("second stop");
}

#[tokio::test]
async fn an_instance_ignoring_sigterm_is_killed_after_the_grace() {
    let h = Harness::new();
    let command = format!("trap '' TERM; {}", testapp(""));
    let instance =
        h.rt.start(&spec("stubborn", &command))
            .await
            .expect("start");
    wait_healthy(&h.rt, &instance).await;
    let pid = h.pid(&instance.id);

    let grace = Duration::from_millis(500);
    let started = Instant::now();
    h.rt.stop(&instance, grace).await.expect("stop");
    let took = started.elapsed();
    assert!(took >= grace, "stopped after {took:?}, before the grace");
    assert!(took < grace + Duration::from_secs(4), "took {took:?}");
    wait_dead(pid).await;
    assert!(!h.record_path(&instance.id).exists());
}

#[tokio::test]
async fn another_runtime_adopts_what_the_first_started() {
    let h = Harness::new();
    let (polite, stubborn) = {
        let first = h.another_runtime();
        let polite = first
            .start(&spec("shop", &testapp("")))
            .await
            .expect("start");
        let command = format!("trap '' TERM; {}", testapp(""));
        let stubborn = first.start(&spec("shop", &command)).await.expect("start");
        wait_healthy(&first, &polite).await;
        wait_healthy(&first, &stubborn).await;
        (polite, stubborn)
        // `first` is dropped here, as if its worker process had died.
    };

    let second = h.another_runtime();
    let mut listed = second.instances(&name("shop")).await.expect("list");
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![polite.clone(), stubborn.clone()];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);
    let check = health("/health");
    assert_eq!(second.probe(&polite, Some(&check)).await, Probe::Healthy);
    assert_eq!(second.probe(&stubborn, Some(&check)).await, Probe::Healthy);

    let (polite_pid, stubborn_pid) = (h.pid(&polite.id), h.pid(&stubborn.id));
    let started = Instant::now();
    second
        .stop(&polite, Duration::from_secs(10))
        .await
        .expect("stop");
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_dead(polite_pid).await;

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    second.stop(&stubborn, grace).await.expect("stop");
    assert!(started.elapsed() >= grace);
    wait_dead(stubborn_pid).await;

    assert!(second
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        second.probe(&polite, None).await,
        Probe::Gone("is no longer running".into())
    );
}

#[tokio::test]
async fn records_whose_pid_is_reused_or_absent_are_gone() {
    let h = Harness::new();
    let real =
        h.rt.start(&spec("shop", &testapp("")))
            .await
            .expect("start");
    let template = h.record(&real.id);

    // A record naming this very test process, with another start time: the pid
    // was reused. Stopping it must not signal us.
    let own_pid = std::process::id();
    let own_stat = std::fs::read_to_string(format!("/proc/{own_pid}/stat")).expect("own stat");
    let own_start: u64 = own_stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|t| t.parse().ok())
        .expect("start time");
    let reused = write_record(&h, &template, "web-reused-aaaaaa", own_pid, own_start + 1);

    // A record naming a pid that exited and was reaped.
    let mut child = std::process::Command::new("true").spawn().expect("true");
    let absent_pid = child.id();
    child.wait().expect("reaped");
    let absent = write_record(&h, &template, "web-absent-bbbbbb", absent_pid, 0);

    // A corrupt record is skipped, not fatal.
    let corrupt = h
        .state_dir()
        .join("instances")
        .join("web-corrupt-cccccc.json");
    std::fs::write(&corrupt, "{ not json").expect("write");

    let other = h.another_runtime();
    let listed = other.instances(&name("shop")).await.expect("list");
    assert_eq!(listed.len(), 3, "{listed:?}");
    for instance in [&reused, &absent] {
        assert_eq!(
            other.probe(instance, None).await,
            Probe::Gone("is no longer running".into())
        );
        other
            .stop(instance, Duration::from_secs(1))
            .await
            .expect("stop");
        assert!(!h.record_path(&instance.id).exists());
    }
    let unknown = Instance {
        id: "web-never-dddddd".into(),
        ..real.clone()
    };
    assert_eq!(
        other.probe(&unknown, None).await,
        Probe::Gone("is no longer running".into())
    );
    other
        .stop(&unknown, Duration::from_secs(1))
        .await
        .expect("stop unknown");

    h.rt.stop(&real, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
}

/// Copies `template` as the record of `id` with another pid and start time.
fn write_record(h: &Harness, template: &Value, id: &str, pid: u32, start_time: u64) -> Instance {
    let mut record = template.clone();
    record["id"] = json!(id);
    record["pid"] = json!(pid);
    record["start_time"] = json!(start_time);
    let bytes = serde_json::to_vec(&record).expect("json");
    std::fs::write(h.record_path(id), bytes).expect("write record");
    Instance {
        id: id.to_owned(),
        app: name(template["app"].as_str().expect("app")),
        service: ServiceName::parse("web").expect("service"),
        release: ReleaseId::parse(template["release"].as_str().expect("release")).expect("release"),
        port: None,
        started_at: chrono::Utc::now(),
        stopping: false,
    }
}

#[tokio::test]
async fn stop_all_stops_every_instance_at_once() {
    let h = Harness::new();
    let stubborn = format!("trap '' TERM; {}", testapp(""));
    let mut instances = Vec::new();
    for app in ["shop", "shop", "blog"] {
        instances.push(h.rt.start(&spec(app, &stubborn)).await.expect("start"));
    }
    for instance in &instances {
        wait_healthy(&h.rt, instance).await;
    }
    let pids: Vec<i32> = instances.iter().map(|i| h.pid(&i.id)).collect();

    let grace = Duration::from_secs(1);
    let started = Instant::now();
    h.rt.stop_all(grace).await;
    let took = started.elapsed();
    // One grace, not three: the stops ran concurrently.
    assert!(took >= grace && took < grace * 5 / 2, "took {took:?}");
    for pid in pids {
        wait_dead(pid).await;
    }
    for app in ["shop", "blog"] {
        assert!(h.rt.instances(&name(app)).await.expect("list").is_empty());
    }
}

#[tokio::test]
async fn a_service_without_command_cannot_run_locally() {
    let h = Harness::new();
    let mut spec = spec("shop", "unused");
    spec.command = None;
    spec.image = Some("nginx:1.27".into());
    match h.rt.start(&spec).await {
        Err(RuntimeError::Failed(message)) => assert_eq!(
            message,
            "service web has no command; the local runtime runs `command`"
        ),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(h
        .rt
        .instances(&name("shop"))
        .await
        .expect("list")
        .is_empty());
}

/// An instance that takes its time over SIGTERM is listed as stopping until
/// it is gone, then not at all: never as a live instance that then vanishes.
#[tokio::test]
async fn an_instance_being_stopped_is_listed_as_stopping() {
    let h = Harness::new();
    let started =
        h.rt.start(&spec(
            "slow",
            "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done",
        ))
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!h.rt.instances(&name("slow")).await.expect("list")[0].stopping);
    let stopping = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        h.rt.instances(&name("slow")).await.expect("list")
    };
    let (stopped, listed) = tokio::join!(h.rt.stop(&started, Duration::from_secs(5)), stopping);
    stopped.expect("stop");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].stopping, "{listed:?}");
    assert!(h
        .rt
        .instances(&name("slow"))
        .await
        .expect("list")
        .is_empty());
}
