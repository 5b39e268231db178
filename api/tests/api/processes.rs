//! `GET /apps/{app}/processes`: what the supervising worker reported, as
//! stored (no worker runs here: the test reports as one would), scoped like
//! every app route, each with its address, and 404 for an app that does not
//! exist.

use chrono::Utc;
use reqwest::Method;
use slipway_api::testing::{expect_error, expect_status, spawn_app};
use slipway_core::domain::{AppName, ReleaseId, ServiceName};
use slipway_core::store::{Backend, Process, ProcessStatus};

crate::on_both_backends!(processes_are_listed_as_the_worker_reported_them);

async fn processes_are_listed_as_the_worker_reported_them(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    let listed = expect_status(app.get("/apps/myapp/processes").await, 200).await;
    assert_eq!(
        listed["processes"],
        serde_json::json!([]),
        "nothing runs yet"
    );

    let release = ReleaseId::generate();
    let process = |id: &str, status, restarts| Process {
        id: id.to_owned(),
        service: ServiceName::parse("web").unwrap(),
        release: release.clone(),
        status,
        restarts,
        port: Some(40123),
        started_at: Utc::now(),
    };
    let seen = [
        process("web-a", ProcessStatus::Running, 1),
        Process {
            port: None,
            ..process("web-b", ProcessStatus::Crashed, 1)
        },
    ];
    let name = AppName::parse("myapp").unwrap();
    app.store.report_processes(&name, &seen).unwrap();
    let listed = expect_status(app.get("/apps/myapp/processes").await, 200).await;
    let rows = listed["processes"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["id"], "web-a");
    assert_eq!(rows[0]["status"], "running");
    assert_eq!(rows[1]["status"], "crashed");
    assert_eq!(rows[1]["restarts"], 1);
    assert_eq!(rows[0]["port"], 40123);
    assert_eq!(rows[0]["address"], "127.0.0.1:40123");
    assert_eq!(rows[1]["port"], serde_json::Value::Null);
    assert_eq!(rows[1]["address"], serde_json::Value::Null);
    app.assert_documented("Process", &rows[0]).await;
    assert_eq!(rows[0]["release"], release.as_str());

    // A newer report replaces the older one.
    app.store.report_processes(&name, &seen[..1]).unwrap();
    let listed = expect_status(app.get("/apps/myapp/processes").await, 200).await;
    assert_eq!(listed["processes"].as_array().unwrap().len(), 1);

    expect_error(app.get("/apps/nope/processes").await, 404, "not_found").await;
    expect_error(app.get("/apps/Bad_Name/processes").await, 404, "not_found").await;
    let other = app.create_token("other-reader", "read", &["other"]).await;
    let refused = app
        .request_as(&other, Method::GET, "/apps/myapp/processes")
        .send()
        .await
        .unwrap();
    expect_error(refused, 403, "forbidden").await;
}
