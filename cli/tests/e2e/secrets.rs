//! Secrets at rest from the real binary: the servers need SLIPWAY_SECRET_KEY
//! and refuse a wrong one at start-up; `dev` keeps a generated key; `slipway
//! rekey` moves everything to a new key.

use crate::support::{run, slipway, start, stderr, Api, Redis, Server, SECRET_KEY};
use serde_json::json;
use slipway_core::testing::TestDatabase;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "secrets-test-token-0123456789";
/// Another valid key: base64 of "another-e2e-key-of-32-bytes-long".
const OTHER_KEY: &str = "YW5vdGhlci1lMmUta2V5LW9mLTMyLWJ5dGVzLWxvbmc=";
const ENV_VALUE: &str = "e2e-sealed-value-5b1e";

fn api_command(db: &TestDatabase, redis: &Redis, key: &str, previous: Option<&str>) -> Command {
    let mut command = slipway(&["server", "api"]);
    command
        .env("SLIPWAY_DATABASE_URL", db.url())
        .env("SLIPWAY_REDIS_URL", &redis.url)
        .env("SLIPWAY_ADMIN_TOKEN", TOKEN)
        .env("SLIPWAY_SECRET_KEY", key);
    if let Some(previous) = previous {
        command.env("SLIPWAY_SECRET_KEY_PREVIOUS", previous);
    }
    command
}

fn serve(command: Command) -> (Server, Api) {
    let (server, _) = start(command, "address=", "address=");
    let api = Api::new(&server.url, TOKEN);
    (server, api)
}

/// Creates app `a` with `SECRET=ENV_VALUE`; returns the release id.
async fn app_with_env(api: &Api) -> String {
    assert_eq!(api.post("/apps", json!({ "name": "a" })).await.0, 201);
    let body = json!({ "set": { "SECRET": ENV_VALUE } });
    let (status, body) = api
        .send(reqwest::Method::PATCH, "/apps/a/env", Some(body))
        .await;
    assert_eq!(status, 201, "{body}");
    body["release"]["id"].as_str().unwrap().to_owned()
}

async fn env_value(api: &Api, release: &str) -> String {
    let release = api.get(&format!("/apps/a/releases/{release}")).await;
    release["env"]["SECRET"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Exit code 1 (within 30 s: a server that starts anyway is killed and
/// fails the test), one `ERROR:` line holding `expected`, and no key in sight.
fn assert_refused(mut command: Command, expected: &str, keys: &[&str]) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run slipway");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("started instead of refusing: expected `{expected}`");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    let last = message.lines().last().unwrap_or_default();
    assert!(last.starts_with("ERROR: "), "{message}");
    assert!(last.contains(expected), "{message}");
    for key in keys {
        assert!(!message.contains(key), "a key leaked: {message}");
    }
}

#[test]
fn servers_refuse_a_missing_or_unusable_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("k.db").display());
    let garbage = "hunter2 is not base64!";
    let short = "c2hvcnQta2V5LTE2LWJ5dGVz"; // 18 bytes
    type Case<'a> = (&'a [&'a str], Option<&'a str>, Option<&'a str>, &'a str);
    let cases: [Case; 6] = [
        (
            &["server", "api"],
            None,
            None,
            "SLIPWAY_SECRET_KEY must be set",
        ),
        (
            &["server", "worker"],
            None,
            None,
            "SLIPWAY_SECRET_KEY must be set",
        ),
        (&["rekey"], None, None, "SLIPWAY_SECRET_KEY must be set"),
        (
            &["server", "api"],
            Some(garbage),
            None,
            "SLIPWAY_SECRET_KEY is unusable",
        ),
        (
            &["server", "worker"],
            Some(short),
            None,
            "SLIPWAY_SECRET_KEY is unusable",
        ),
        (
            &["server", "api"],
            Some(SECRET_KEY),
            Some(garbage),
            "SLIPWAY_SECRET_KEY_PREVIOUS is unusable",
        ),
    ];
    for (args, key, previous, expected) in cases {
        let mut command = slipway(args);
        command
            .env_remove("SLIPWAY_SECRET_KEY")
            .env("SLIPWAY_DATABASE_URL", &sqlite)
            .env("SLIPWAY_REDIS_URL", "redis://127.0.0.1:1")
            .env("SLIPWAY_ADMIN_TOKEN", TOKEN);
        if let Some(key) = key {
            command.env("SLIPWAY_SECRET_KEY", key);
        }
        if let Some(previous) = previous {
            command.env("SLIPWAY_SECRET_KEY_PREVIOUS", previous);
        }
        assert_refused(command, expected, &[garbage, short, SECRET_KEY]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_at_start_up_is_a_clear_error() {
    let db = TestDatabase::postgres();
    let redis = Redis::start();
    let (server, api) = serve(api_command(&db, &redis, SECRET_KEY, None));
    let release = app_with_env(&api).await;
    drop(server);

    let wrong = "SLIPWAY_SECRET_KEY does not open this database's secrets";
    let command = api_command(&db, &redis, OTHER_KEY, None);
    assert_refused(command, wrong, &[SECRET_KEY, OTHER_KEY, ENV_VALUE]);
    let mut worker = slipway(&["server", "worker"]);
    worker
        .env("SLIPWAY_DATABASE_URL", db.url())
        .env("SLIPWAY_REDIS_URL", &redis.url)
        .env("SLIPWAY_SECRET_KEY", OTHER_KEY);
    assert_refused(worker, wrong, &[SECRET_KEY, OTHER_KEY]);

    // The right key as the previous one: it starts, and old values open.
    let (_server, api) = serve(api_command(&db, &redis, OTHER_KEY, Some(SECRET_KEY)));
    assert_eq!(env_value(&api, &release).await, ENV_VALUE);
}

#[tokio::test(flavor = "multi_thread")]
async fn rekey_moves_every_secret_to_the_new_key() {
    let db = TestDatabase::postgres();
    let redis = Redis::start();
    let (server, api) = serve(api_command(&db, &redis, SECRET_KEY, None));
    let release = app_with_env(&api).await;
    drop(server);

    let rekey = |key: &str, previous: Option<&str>| {
        let mut command = slipway(&["rekey"]);
        command
            .env("SLIPWAY_DATABASE_URL", db.url())
            .env("SLIPWAY_SECRET_KEY", key);
        if let Some(previous) = previous {
            command.env("SLIPWAY_SECRET_KEY_PREVIOUS", previous);
        }
        command
    };
    let wrong = "SLIPWAY_SECRET_KEY does not open this database's secrets";
    assert_refused(rekey(OTHER_KEY, None), wrong, &[SECRET_KEY, OTHER_KEY]);
    // The release's env and the key check; then nothing is left to do.
    for expected in [
        "Re-sealed 2 row(s) under the current key: 1 release env(s), 0 webhook(s), \
         0 idempotent response(s), 1 key check.",
        "Re-sealed 0 row(s) under the current key: 0 release env(s), 0 webhook(s), \
         0 idempotent response(s), 0 key check.",
    ] {
        let output = run(rekey(OTHER_KEY, Some(SECRET_KEY)));
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    }

    let (server, api) = serve(api_command(&db, &redis, OTHER_KEY, None));
    assert_eq!(env_value(&api, &release).await, ENV_VALUE);
    drop(server);
    let old_alone = api_command(&db, &redis, SECRET_KEY, None);
    assert_refused(old_alone, wrong, &[SECRET_KEY, OTHER_KEY]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_generates_its_secret_key_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let dev = || {
        let mut command = slipway(&["dev"]);
        command
            .env("SLIPWAY_DATA_DIR", dir.path())
            .env("SLIPWAY_ADMIN_TOKEN", TOKEN);
        command
    };
    let (server, _) = start(dev(), "Try:", "API:");
    let path = dir.path().join("secret-key");
    let key = std::fs::read_to_string(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(key.trim().len(), 44, "base64 of 32 bytes");
    let release = app_with_env(&Api::new(&server.url, TOKEN)).await;
    drop(server);

    let (server, _) = start(dev(), "Try:", "API:");
    let api = Api::new(&server.url, TOKEN);
    assert_eq!(env_value(&api, &release).await, ENV_VALUE);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key, "kept");
    drop(server);

    // A configured key wins over the kept one, so a different one is refused.
    let mut command = dev();
    command.env("SLIPWAY_SECRET_KEY", OTHER_KEY);
    let wrong = "SLIPWAY_SECRET_KEY does not open this database's secrets";
    assert_refused(command, wrong, &[OTHER_KEY, key.trim()]);
}
