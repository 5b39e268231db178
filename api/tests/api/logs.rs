//! `GET /apps/{app}/logs`: lines as shipped (no worker runs here: the test
//! ships as one would), filtered by service and time, followed as
//! server-sent events, and bad parameters refused by name.

use slipway_api::testing::{expect_error, expect_status, spawn_app, TestApp};
use slipway_core::domain::{AppName, ServiceName};
use slipway_core::store::{Backend, NewLogLine};
use std::time::Duration;

crate::on_both_backends!(
    logs_are_read_filtered_and_followed,
    bad_log_queries_are_refused
);

fn ship(app: &TestApp, service: &str, lines: &[&str]) {
    let lines: Vec<NewLogLine> = lines
        .iter()
        .map(|line| NewLogLine {
            service: ServiceName::parse(service).unwrap(),
            instance: format!("{service}-rtest-abc123"),
            line: (*line).to_owned(),
        })
        .collect();
    let name = AppName::parse("myapp").unwrap();
    app.store.append_logs(&name, &lines, &[]).unwrap();
}

fn texts(body: &serde_json::Value) -> Vec<String> {
    body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap().to_owned())
        .collect()
}

async fn logs_are_read_filtered_and_followed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    let empty = expect_status(app.get("/apps/myapp/logs").await, 200).await;
    assert_eq!(texts(&empty), Vec::<String>::new());
    ship(&app, "web", &["one", "two"]);
    ship(&app, "worker", &["three"]);

    let all = expect_status(app.get("/apps/myapp/logs").await, 200).await;
    assert_eq!(texts(&all), ["one", "two", "three"], "oldest first");
    assert_eq!(all["lines"][0]["service"], "web");
    assert_eq!(all["lines"][0]["instance"], "web-rtest-abc123");
    let web = expect_status(app.get("/apps/myapp/logs?service=web").await, 200).await;
    assert_eq!(texts(&web), ["one", "two"]);
    let newest = expect_status(app.get("/apps/myapp/logs?limit=1").await, 200).await;
    assert_eq!(texts(&newest), ["three"]);
    let recent = expect_status(app.get("/apps/myapp/logs?since=1m").await, 200).await;
    assert_eq!(texts(&recent).len(), 3);
    let future = expect_status(
        app.get("/apps/myapp/logs?since=2999-01-01T00:00:00Z").await,
        200,
    )
    .await;
    assert!(texts(&future).is_empty());

    // Following: what is there, then what comes.
    let mut response = app.get("/apps/myapp/logs?follow=true&service=worker").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut seen = String::new();
    let mut shipped = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("\"line\":\"four\"") {
        if seen.contains("\"line\":\"three\"") && !shipped {
            ship(&app, "web", &["not this one"]);
            ship(&app, "worker", &["four"]);
            shipped = true;
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the new line within 10 s")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: log\n"), "{seen}");
    assert!(!seen.contains("not this one"), "{seen}");
}

async fn bad_log_queries_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("myapp").await;
    ship(&app, "web", &["kept"]);
    for (query, field) in [
        ("since=10x", "since"),
        ("since=31d", "since"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("service=Not_A_Service", "service"),
    ] {
        let message = expect_error(
            app.get(&format!("/apps/myapp/logs?{query}")).await,
            422,
            "invalid",
        )
        .await;
        assert!(message.contains(field), "{query}: {message}");
    }
    for query in ["follow=maybe", "tail=5", "limit=ten"] {
        expect_error(
            app.get(&format!("/apps/myapp/logs?{query}")).await,
            400,
            "bad_request",
        )
        .await;
    }
    expect_error(app.get("/apps/nope/logs").await, 404, "not_found").await;
    let all = expect_status(app.get("/apps/myapp/logs").await, 200).await;
    assert_eq!(texts(&all), ["kept"], "nothing changed");
}
