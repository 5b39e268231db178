//! Tests leave nothing running: dropping a `Server` (as a failing test
//! does while unwinding) ends the server and every app instance its local
//! runtime started, which a SIGKILLed server cannot stop itself.

use crate::support::{dev_server, instances, testapp, Api};
use serde_json::json;
use std::time::Duration;

/// Running and not a zombie.
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_server_takes_its_instances_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = dev_server(dir.path());
    let api = Api::new(&server.url, &token);
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    let manifest = json!({ "services": { "web": {
        "command": format!("'{}'", testapp()),
        "port": 8000,
        "scale": { "count": 2 },
    }}});
    let (status, started) = api
        .post("/apps/shop/deploy", json!({ "manifest": manifest }))
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["deployment"]["id"].as_str().unwrap();
    let done = api.wait_final("shop", id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let pids: Vec<i64> = instances(dir.path())
        .iter()
        .map(|record| record["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|pid| alive(*pid)), "{pids:?}");

    drop(server);
    // SIGKILL is sent, not yet delivered, when `kill` returns: allow a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|pid| alive(*pid)) {
        assert!(
            std::time::Instant::now() < deadline,
            "left running: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(instances(dir.path()).is_empty(), "records forgotten");
}
