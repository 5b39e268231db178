//! Apps run between deployments: `slipway dev` restarts a crashed instance
//! and `slipway ps` shows it; a `server worker` started on a machine whose
//! instances are gone brings the active release back up.

use crate::faults::{healthy_after, signal, start_deploy};
use crate::rollouts::{serving, Cluster};
use crate::support::{dev_client, instances};
use serde_json::{json, Value};
use slipway_core::testing::Wait;
use std::future::ready;
use std::path::Path;
use std::time::{Duration, Instant};

/// SIGKILLs the process group of an instance from its record.
fn kill_instance(instance: &Value) {
    let pid = instance["pid"].as_i64().expect("a pid");
    let killed = std::process::Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Waits until the instance records under `data` satisfy `done`.
async fn until_instances(data: &Path, what: &str, done: impl Fn(&[Value]) -> bool) {
    Wait::new(what)
        .within(Duration::from_secs(20))
        .until(|| ready(instances(data)), |found| done(found))
        .await;
}

#[tokio::test]
async fn dev_restarts_a_crashed_instance_and_ps_shows_it() {
    let data = tempfile::tempdir().unwrap();
    let (_dev, client) = dev_client(data.path());
    client.run(&["apps", "create", "shop"]).ok();
    client.manifest("shop", "--healthy-after-ms 300", 2);
    let ran = client.run(&["deploy", "--wait"]);
    assert_eq!(ran.code, Some(0), "{ran:#?}");

    let ps = || ready(client.run(&["ps", "--json"]).json()["processes"].clone());
    let running = |listed: &Value| {
        let rows = listed.as_array().unwrap();
        rows.iter().filter(|p| p["status"] == "running").count()
    };
    Wait::new("two running instances")
        .every(Duration::from_millis(50))
        .until(ps, |listed| running(listed) >= 2)
        .await;
    let victim = instances(data.path()).remove(0);
    kill_instance(&victim);
    let killed = Instant::now();
    let restarted = Wait::new("the killed instance restarted")
        .until(ps, |listed| {
            let rows = listed.as_array().unwrap();
            let fresh = rows
                .iter()
                .filter(|p| p["id"] != victim["id"] && p["status"] == "running")
                .count();
            fresh == 2 && rows.len() == 2
        })
        .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    let restarts: Vec<_> = restarted
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["restarts"].clone())
        .collect();
    assert!(restarts.contains(&json!(1)), "{restarted}");

    let table = client.run(&["ps"]).ok();
    let header = table.lines().next().unwrap_or_default().to_owned();
    for column in [
        "ID", "SERVICE", "RELEASE", "STATUS", "RESTARTS", "STARTED", "ADDRESS",
    ] {
        assert!(header.contains(column), "{table}");
    }
    assert!(table.contains("127.0.0.1:"), "{table}");
    eprintln!("dev: crashed instance running again after {took:?}");

    // What the instances wrote, the restarted one's too, prefixed with
    // when, the service and the instance.
    let listening = |logs: &str| {
        logs.lines()
            .filter(|l| l.contains(" web/web-") && l.contains(" testapp listening on 127.0.0.1:"))
            .count()
    };
    Wait::new("lines of two at first, one restarted")
        .every(Duration::from_millis(100))
        .until(
            || ready(client.run(&["logs", "-s", "web"]).ok()),
            |logs| listening(logs) >= 3,
        )
        .await;
    let bad = client.run(&["logs", "--since", "10x"]).error(1);
    assert!(bad.contains("since"), "{bad}");
}

/// The machine restarted: the worker is gone and so are the instances
/// (their records remain). A worker started afterwards restores the app.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_worker_brings_the_active_release_back_up() {
    let cluster = Cluster::start();
    let api = &cluster.api;
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let mut first = cluster.worker();
    let id = start_deploy(api, healthy_after(200, 2, 0)).await;
    let done = api.wait_final("shop", &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    signal(&first, "TERM");
    first.child.wait().unwrap();
    let gone: Vec<Value> = instances(cluster.data.path());
    for instance in &gone {
        kill_instance(instance);
    }
    let _second = cluster.worker();
    let data = cluster.data.path();
    until_instances(data, "restored", |found| {
        found.len() == 2
            && found.iter().all(|i| {
                i["release"] == done["release"] && !gone.iter().any(|g| g["id"] == i["id"])
            })
    })
    .await;
    Wait::new("two running processes")
        .every(Duration::from_millis(50))
        .until(
            || api.get("/apps/shop/processes"),
            |listed| {
                let processes = listed["processes"].as_array();
                let running = processes.map(|p| p.iter().filter(|p| p["status"] == "running"));
                running.map_or(0, Iterator::count) == 2
            },
        )
        .await;
    serving(data, &done["release"], 2).await;
}
