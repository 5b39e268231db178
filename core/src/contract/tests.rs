//! The contract's promises to clients: answers read back into their types,
//! and fields a newer server adds are ignored; requests refuse unknown fields.

use super::*;
use serde_json::json;

fn deployment() -> serde_json::Value {
    json!({
        "id": "DABCDEFGHIJ", "app": "shop", "release": "RABCDEFGHIJ",
        "previous_release": null, "status": "rolled_back", "reason": "unhealthy",
        "deadline_at": "2026-11-29T10:00:00Z", "minimum": 50, "maximum": null,
        "actor": "ci", "trace_id": null, "cancel_requested": false,
        "created_at": "2026-11-29T09:50:00Z", "started_at": "2026-11-29T09:50:01Z",
        "finished_at": null, "duration_ms": null
    })
}

#[test]
fn answers_read_back_and_ignore_fields_they_do_not_know() {
    let mut body = deployment();
    let read: Deployment = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(read.status, crate::domain::DeploymentStatus::RolledBack);
    assert_eq!(serde_json::to_value(&read).unwrap(), body);

    body["added_by_a_newer_server"] = json!({ "any": "thing" });
    let promoted = json!({ "deployment": body, "release": {
        "id": "RABCDEFGHIJ", "app": "shop", "build": null, "description": "",
        "status": "", "actor": "ci", "created_at": "2026-11-29T09:50:00Z", "later": 1
    }});
    let read: Promoted = serde_json::from_value(promoted).unwrap();
    assert_eq!(read.release.status, ReleaseStatus::Inactive);
    assert_eq!(read.release.env, None);
}

#[test]
fn requests_refuse_unknown_fields() {
    let err = serde_json::from_value::<CreateApp>(json!({ "name": "a", "nmae": "b" }));
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("unknown field `nmae`"));
    let err = serde_json::from_value::<PromoteBody>(json!({ "minimum": 1, "later": 1 }));
    assert!(err.is_err());
}

#[test]
fn requests_are_sent_as_the_server_reads_them() {
    let sent = PatchEnv {
        set: [("A".to_owned(), "1".to_owned())].into(),
        promote: true,
        ..PatchEnv::default()
    };
    let text = serde_json::to_string(&sent).unwrap();
    assert_eq!(text, r#"{"set":{"A":"1"},"promote":true}"#);
    let mut read: PatchEnv = serde_json::from_str(&text).unwrap();
    let (change, description) = read.parse().unwrap();
    assert!(description.is_none());
    assert_eq!(change.set_keys().collect::<Vec<_>>(), ["A"]);
    assert!(read.promotion().unwrap().is_some());
}
