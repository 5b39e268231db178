//! The OpenAPI document against the live routes: for every route and every
//! status the document lists for it, a request that gets that status from
//! the running API, with a body valid against the documented schema; and on
//! every path a method it lacks is 405 with `Allow` listing those it has.
//!
//! 429 comes from an API with a write rate of one a minute, 503 from one
//! whose database is cut off; the others from one API on PostgreSQL.

mod document;
mod events;
mod failures;
mod fixture;
mod probe;
mod successes;

use document::Document;
use fixture::Fixture;
use probe::Probe;
use reqwest::Method;
use slipway_api::testing::{spawn_app, spawn_app_on, spawn_app_with_rate, TestApp};
use slipway_core::store::Backend;
use slipway_core::testing::TestDatabase;

#[tokio::test]
async fn every_documented_answer_is_given_as_documented() {
    let app = spawn_app(Backend::Postgres).await;
    let mut probe = Probe::new(Document::fetch(&app).await);
    let fx = Fixture::new(&app).await;
    events::run(&app, &probe.doc);
    successes::run(&app, &fx, &mut probe).await;
    failures::run(&app, &fx, &mut probe).await;
    too_many_writes(&fx, &mut probe).await;
    database_away(&fx, &mut probe).await;
    let unseen = probe.unseen();
    assert!(unseen.is_empty(), "documented, never answered: {unseen:#?}");
    methods_not_allowed(&app, &fx, &probe).await;
}

/// Every documented answer of the given status, by method and pattern.
fn documented(probe: &Probe, wanted: u16) -> Vec<(Method, String)> {
    let answers = probe.doc.answers().into_iter();
    answers
        .filter(|(_, _, status)| *status == wanted)
        .map(|(method, path, _)| (method.to_ascii_uppercase().parse().unwrap(), path))
        .collect()
}

async fn too_many_writes(fx: &Fixture, probe: &mut Probe) {
    let app = spawn_app_with_rate(Backend::Postgres, 1).await;
    app.create_app("first").await;
    for (method, pattern) in documented(probe, 429) {
        let request = app.request(method.clone(), &fx.missing(&pattern));
        let request = request.header("content-type", "application/json");
        let request = request.body(failures::body(&pattern));
        probe.expect((&method, &pattern, 429), request).await;
    }
}

async fn database_away(fx: &Fixture, probe: &mut Probe) {
    let app: TestApp = spawn_app_on(TestDatabase::postgres_database()).await;
    app.db.cut_off();
    let answers = documented(probe, 503);
    // Each waits out the pool's connection timeout: all at once.
    let requests = answers
        .iter()
        .map(|(method, pattern)| {
            let request = app.request(method.clone(), &fx.missing(pattern));
            let request = request.header("content-type", "application/json");
            let request = request.body(failures::body(pattern));
            ((method, pattern.as_str(), 503), request)
        })
        .collect();
    probe.expect_all(requests).await;
    app.db.restore();
}

async fn methods_not_allowed(app: &TestApp, fx: &Fixture, probe: &Probe) {
    for pattern in probe.doc.paths() {
        let response = app
            .request(Method::PUT, &fx.fill(&pattern))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "PUT {pattern}");
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        let documented = probe.doc.methods(&pattern);
        let mut listed: Vec<&str> = allow.split(", ").collect();
        listed.sort_unstable();
        let mut expected: Vec<&str> = documented.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(listed, expected, "Allow of {pattern}");
        let body = response.text().await.unwrap();
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "method_not_allowed", "{body}");
    }
}
