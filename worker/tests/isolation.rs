//! What an app can read, tried by real apps: each instance runs a script that
//! attempts to read the worker's env, Slipway's data and state, and another
//! app's env, and writes what it got into its working directory.
//!
//! The per-uid tests need root (as a worker giving apps their own uids runs);
//! they say so and pass vacuously elsewhere. Each starts a control app that
//! shares the worker's user, which does read those secrets: proof that the
//! attempts would see a leak.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_core::domain::{AppName, Env};
use slipway_core::testing::wait_until;
use slipway_worker::runtime::local::{protect_this_process, LocalRuntime, UidRange, Users};
use slipway_worker::runtime::{Instance, Probe, Runtime};
use support::{is_root, processes_of, spec, unique_app, Reaper};

/// Put in files the apps must not read.
const SECRET: &str = "s3cret-marker-7f3a";
/// The env var the dumpability test's worker carries from its start.
const HELPER_DIR_VAR: &str = "SLIPWAY_ISOLATION_HELPER_DIR";
/// A uid outside the default range, for the non-root worker of that test.
const PLAIN_USER: u32 = 299_999;

/// A shell script that tries `attempts` (`cat`, `ls` of paths) and reports
/// each as `READ: <what>` or `DENIED: <what>` in `report`, appending whatever it
/// read to `stolen`, both in its working directory.
fn prober(attempts: &[String]) -> String {
    let mut script = String::from(
        "try() { if \"$@\" >> stolen 2>/dev/null; then echo \"READ: $*\"; \
         else echo \"DENIED: $*\"; fi; }\n\
         { echo \"uid=$(id -u) pwd=$(pwd) home=$HOME\"\n",
    );
    for attempt in attempts {
        script.push_str(&format!("try {attempt}\n"));
    }
    script.push_str("echo finished; } > report 2>&1\n");
    script
}

/// Runs `script` as an instance of `app` until it exits; returns its report
/// and what it stole, read from its working directory.
async fn run_prober(
    rt: &LocalRuntime,
    state: &Path,
    app: &AppName,
    script: &str,
) -> (String, String) {
    let instance = rt
        .start(&spec(app, script, Env::empty()))
        .await
        .expect("start");
    wait_gone(rt, &instance).await;
    let dir = state.join("apps").join(app.as_str());
    let report = std::fs::read_to_string(dir.join("report")).expect("report");
    let stolen = std::fs::read_to_string(dir.join("stolen")).unwrap_or_default();
    rt.stop(&instance, Duration::ZERO).await.expect("forget");
    assert!(report.contains("finished"), "{report}");
    (report, stolen)
}

async fn wait_gone(rt: &LocalRuntime, instance: &Instance) {
    wait_until(
        "waiting for the script to finish",
        || rt.probe(instance, None),
        |p| matches!(p, Probe::Gone(_)),
    )
    .await;
}

/// A data dir as `slipway dev` keeps it (0700, secrets 0600, the database as
/// SQLite leaves it), with the runtime's state dir inside.
fn dev_like_data_dir(root: &Path) -> (PathBuf, PathBuf) {
    let data = root.join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for (file, mode) in [
        ("secret-key", 0o600),
        ("admin-token", 0o600),
        ("slipway.db", 0o644),
    ] {
        let path = data.join(file);
        std::fs::write(&path, SECRET).expect("secret file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let state = data.join("runtime");
    (data, state)
}

fn attempts_on_worker(data: &Path, state: &Path, app: &AppName) -> Vec<String> {
    let (d, s) = (data.display(), state.display());
    vec![
        "cat /proc/$PPID/environ".to_owned(),
        "cat /proc/$PPID/mem".to_owned(),
        format!("cat {d}/secret-key"),
        format!("cat {d}/admin-token"),
        format!("cat {d}/slipway.db"),
        format!("ls {d}"),
        format!("ls {s}/instances"),
        format!("ls {s}/logs/{app}"),
        format!("ls {s}/uids"),
        format!("ls {s}/apps"),
    ]
}

#[tokio::test]
async fn an_app_under_its_own_uid_reads_neither_the_workers_env_nor_its_data() {
    if !is_root() {
        eprintln!("skipped: only a root worker gives apps their own uids");
        return;
    }
    let root = tempfile::tempdir().expect("temp dir");
    let (data, state) = dev_like_data_dir(root.path());
    let app = unique_app("prober");
    let _reaper = Reaper::new(&[&app]);
    let rt = LocalRuntime::with_users(&state, Users::PerApp(UidRange::DEFAULT)).expect("runtime");

    let (report, stolen) = run_prober(
        &rt,
        &state,
        &app,
        &prober(&attempts_on_worker(&data, &state, &app)),
    )
    .await;

    assert!(!report.contains("READ:"), "{report}");
    // Not a byte of the env, the secrets or the listings.
    assert!(stolen.is_empty(), "{stolen}");
    // Its own uid from the range, its own directory as working dir and $HOME.
    let home = state.join("apps").join(app.as_str());
    let meta = std::fs::metadata(&home).expect("app dir");
    assert!((UidRange::DEFAULT.first()..=UidRange::DEFAULT.last()).contains(&meta.uid()));
    assert_eq!(meta.gid(), meta.uid());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let first = report.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "uid={} pwd={} home={}",
            meta.uid(),
            home.display(),
            home.display()
        )
    );
    for private in ["instances", "logs", "uids"] {
        let mode = std::fs::metadata(state.join(private))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{private}");
    }

    // The control: the same attempts by an app sharing the worker's (root) user succeed.
    let control = unique_app("control");
    let _reaper = Reaper::new(&[&control]);
    let shared_state = data.join("shared-runtime");
    let shared = LocalRuntime::with_users(&shared_state, Users::Shared).expect("runtime");
    let script = prober(&attempts_on_worker(&data, &shared_state, &control));
    let (report, stolen) = run_prober(&shared, &shared_state, &control, &script).await;
    assert!(
        report.contains(&format!("READ: cat {}/secret-key", data.display())),
        "{report}"
    );
    // The secret files, and the worker's env as it was started (PATH is in it).
    assert!(
        stolen.contains(SECRET) && stolen.contains("PATH="),
        "{stolen}"
    );
}

#[tokio::test]
async fn an_app_reads_neither_another_apps_env_nor_its_files_and_keeps_its_uid() {
    if !is_root() {
        eprintln!("skipped: only a root worker gives apps their own uids");
        return;
    }
    let state = tempfile::tempdir().expect("temp dir");
    let (victim, thief) = (unique_app("victim"), unique_app("thief"));
    let _reaper = Reaper::new(&[&victim, &thief]);
    let rt =
        LocalRuntime::with_users(state.path(), Users::PerApp(UidRange::DEFAULT)).expect("runtime");

    let env = Env::parse(BTreeMap::from([("API_KEY".to_owned(), SECRET.to_owned())])).expect("env");
    let secret_file = format!("echo {SECRET} > notes; exec sleep 99999");
    let target = rt
        .start(&spec(&victim, &secret_file, env))
        .await
        .expect("start");
    let victim_dir = state.path().join("apps").join(victim.as_str());
    let pid = wait_until(
        "the victim runs and wrote its notes",
        || async {
            (
                processes_of(victim.as_str()),
                victim_dir.join("notes").exists(),
            )
        },
        |(procs, notes)| procs.len() == 1 && *notes,
    )
    .await
    .0[0]
        .pid;

    let attempts = [
        format!("cat /proc/{pid}/environ"),
        format!("cat {}/notes", victim_dir.display()),
        format!("ls {}", victim_dir.display()),
        // Controls: its own env and its own home by path are fine.
        "cat /proc/self/environ".to_owned(),
        "ls $HOME".to_owned(),
    ];
    let (report, stolen) = run_prober(&rt, state.path(), &thief, &prober(&attempts)).await;
    let read: Vec<&str> = report.lines().filter(|l| l.starts_with("READ:")).collect();
    let thief_home = state.path().join("apps").join(thief.as_str());
    let expected = [
        "READ: cat /proc/self/environ".to_owned(),
        format!("READ: ls {}", thief_home.display()),
    ];
    assert_eq!(read, expected, "{report}");
    assert!(stolen.contains(&format!("SLIPWAY_APP={thief}")), "{stolen}");
    assert!(!stolen.contains(SECRET), "{stolen}");

    let uid = |app: &AppName| {
        let dir = state.path().join("apps").join(app.as_str());
        std::fs::metadata(dir).expect("app dir").uid()
    };
    let thief_uid = uid(&thief);
    assert_ne!(uid(&victim), thief_uid);
    assert_eq!(processes_of(victim.as_str())[0].uid, uid(&victim));

    // A worker started later gives the app the same uid.
    let later =
        LocalRuntime::with_users(state.path(), Users::PerApp(UidRange::DEFAULT)).expect("runtime");
    let (report, _) = run_prober(&later, state.path(), &thief, &prober(&[])).await;
    assert!(report.starts_with(&format!("uid={thief_uid} ")), "{report}");

    // Root stops an app of another uid.
    later
        .stop(&target, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(processes_of(victim.as_str()).is_empty());
}

/// The worker side of the next test, run as a plain user by it; does nothing
/// when run on its own.
#[tokio::test]
#[ignore = "run by a_non_dumpable_worker_hides_its_env_from_apps_of_its_own_user"]
async fn non_dumpable_worker() {
    let Some(dir) = std::env::var_os(HELPER_DIR_VAR).map(PathBuf::from) else {
        return;
    };
    let users = Users::for_this_process(UidRange::DEFAULT);
    assert_eq!(users, Users::Shared, "this half runs as a plain user");
    let rt = LocalRuntime::with_users(&dir, users).expect("runtime");
    let script = prober(&["cat /proc/$PPID/environ".to_owned()]);
    // Before: an app of the same user reads the worker's env.
    let before = AppName::parse("before").expect("name");
    let (report, stolen) = run_prober(&rt, &dir, &before, &script).await;
    println!("before: {report}\n{stolen}");
    protect_this_process().expect("non-dumpable");
    let after = AppName::parse("after").expect("name");
    let (report, stolen) = run_prober(&rt, &dir, &after, &script).await;
    println!("after: {report}\n{stolen}");
}

/// As root, another uid's env is out of reach anyway; a worker that is not
/// root shares its user with its apps, and only being non-dumpable keeps them
/// out of its `/proc/<pid>/environ`. So this runs the test binary itself as a
/// plain user (the worker), with a secret in its env from the start.
#[test]
fn a_non_dumpable_worker_hides_its_env_from_apps_of_its_own_user() {
    if !is_root() {
        eprintln!("skipped: switching to a plain user for the worker needs root");
        return;
    }
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::chown(dir.path(), Some(PLAIN_USER), Some(PLAIN_USER)).expect("chown");
    let test_binary = std::env::current_exe().expect("test binary");
    let apps = ["before", "after"].map(|a| AppName::parse(a).expect("name"));
    let _reaper = Reaper::new(&[&apps[0], &apps[1]]);
    let output = std::process::Command::new(test_binary)
        .args([
            "--exact",
            "non_dumpable_worker",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(HELPER_DIR_VAR, dir.path())
        .env(
            "SLIPWAY_DATABASE_URL",
            format!("postgres://slipway:{SECRET}@db/slipway"),
        )
        .current_dir(dir.path())
        .uid(PLAIN_USER)
        .gid(PLAIN_USER)
        .output()
        .expect("run the worker half");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{out}\n{err}");
    let (before, after) = out.split_once("after: ").expect("both halves ran");
    assert!(
        before.contains("READ: cat /proc/") && before.contains(SECRET),
        "{out}"
    );
    assert!(after.contains("DENIED: cat /proc/"), "{out}");
    assert!(!after.contains(SECRET), "{out}");
}
