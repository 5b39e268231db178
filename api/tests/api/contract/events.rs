//! Event frames of the deployment stream against the document's `Event`
//! schema: every event the fixture's requests recorded, and a payload of
//! every other kind (progress, crashes, later statuses...), so each of the
//! kinds there are is checked.
//! The schema must also refuse data that fits no payload.

use super::Document;
use serde_json::{json, Value};
use slipway_api::testing::TestApp;
use slipway_core::contract;
use slipway_core::domain::{DeploymentStatus, Env, EnvDiff, ReleaseId, ServiceName};
use slipway_core::events::{AppCrashed, AppDeleted, EnvChanged, EventKind, EventPayload, Progress};

pub fn run(app: &TestApp, doc: &Document) {
    let recorded = app.store.list_events(None).expect("list the events");
    assert!(
        recorded.len() >= 5,
        "the fixture records events: {recorded:?}"
    );
    let template = recorded[0].clone();
    let deployment = recorded
        .iter()
        .filter_map(|e| e.payload().ok()?.deployment_snapshot().cloned())
        .next()
        .expect("the fixture made a deployment");
    let (release, web) = (
        deployment.release.clone(),
        ServiceName::parse("web").unwrap(),
    );
    let mut payloads = vec![
        EventPayload::AppDeleted(AppDeleted {
            app: deployment.app.clone(),
        }),
        EventPayload::AppCrashed(AppCrashed {
            app: deployment.app.clone(),
            service: web.clone(),
            release: release.clone(),
            instance: "i-1".into(),
            reason: "exited with status 3".into(),
            restarts: 2,
            restart_in_ms: 400,
        }),
        EventPayload::DeploymentProgress(Progress::Cancel {
            by: "tester".into(),
        }),
        EventPayload::DeploymentProgress(Progress::Rollback {
            to: ReleaseId::parse("RABCDEFGHIJ").unwrap(),
        }),
        EventPayload::DeploymentProgress(Progress::Wave {
            service: web.clone(),
            release: release.clone(),
            instances: 1,
            count: 2,
        }),
        EventPayload::DeploymentProgress(Progress::Healthy {
            service: web,
            release,
            instances: vec!["i-1".into()],
            healthy: 1,
            count: 2,
        }),
    ];
    let app_now = recorded
        .iter()
        .find_map(|e| match e.payload().ok()? {
            EventPayload::AppCreated(created) => Some(created),
            _ => None,
        })
        .expect("the fixture created apps");
    payloads.push(EventPayload::AppUpdated(app_now));
    let env = |pairs: &[(&str, &str)]| {
        let pairs = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Env::parse(pairs.collect()).unwrap()
    };
    let (old, new) = (
        env(&[("A", "1"), ("B", "2")]),
        env(&[("A", "3"), ("C", "4")]),
    );
    payloads.push(EventPayload::EnvChanged(EnvChanged {
        release: deployment.release.clone(),
        changes: EnvDiff::between(&old, &new),
    }));
    for status in [
        DeploymentStatus::Running,
        DeploymentStatus::Succeeded,
        DeploymentStatus::RollingBack,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Failed,
    ] {
        let mut later = deployment.clone();
        later.status = status;
        later.reason = Some("cancelled".into());
        payloads.push(EventPayload::deployment(later));
    }
    let mut events: Vec<Value> = recorded
        .into_iter()
        .map(|e| serde_json::to_value(contract::Event::from(e)).unwrap())
        .collect();
    for payload in payloads {
        let mut event = template.clone();
        event.kind = payload.kind();
        event.data = serde_json::to_value(&payload).unwrap();
        events.push(serde_json::to_value(contract::Event::from(event)).unwrap());
    }
    for event in &events {
        let errors = doc.component_violations("Event", event);
        assert!(errors.is_empty(), "{errors:#?}\nevent: {event}");
    }
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds.len(),
        EventKind::ALL.len(),
        "kinds covered: {kinds:?}"
    );

    for wrong in [
        json!({ "app": 5 }),
        json!({ "step": "sideways" }),
        json!("text"),
    ] {
        let mut event = events[0].clone();
        event["data"] = wrong.clone();
        event["type"] = json!(EventKind::AppCreated.as_str());
        let errors = doc.component_violations("Event", &event);
        assert!(!errors.is_empty(), "data {wrong} was accepted");
    }
}
