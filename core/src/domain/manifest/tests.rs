//! Tests for manifest parsing: the canonical form, defaults, and one test per
//! rejection checking its exact field path.

use serde_json::{json, Value};

use super::*;

fn parse(value: Value) -> Manifest {
    Manifest::from_json(&value).expect("valid manifest")
}

/// The error for a manifest whose only service `web` has the given body.
fn web_error(body: Value) -> InvalidInput {
    Manifest::from_json(&json!({ "services": { "web": body } })).expect_err("invalid manifest")
}

fn assert_rejected(body: Value, field: &str) {
    let err = web_error(body);
    assert_eq!(err.field, field, "{err}");
}

fn web(manifest: &Manifest) -> &Service {
    let name = ServiceName::parse("web").expect("valid");
    manifest.services().get(&name).expect("web service")
}

#[test]
fn full_example_round_trips_in_canonical_form() {
    let full = json!({ "services": { "web": {
        "command": "python3 -m http.server $PORT",
        "image": "ghcr.io/acme/web:1.2",
        "port": 8000,
        "health": { "path": "/health", "grace": 5, "interval": 5, "timeout": 4 },
        "scale": { "count": 2 },
        "deployment": { "minimum": 50, "maximum": 200 },
        "domains": ["www.example.com", "example.com"],
        "default": true,
        "drain": 45
    }}});
    let manifest = parse(full.clone());
    assert_eq!(manifest.to_json(), full);
    assert_eq!(
        Manifest::from_json(&manifest.to_json()),
        Ok(manifest.clone())
    );

    let service = web(&manifest);
    assert_eq!(service.image(), Some("ghcr.io/acme/web:1.2"));
    assert_eq!(service.command(), Some("python3 -m http.server $PORT"));
    assert_eq!(service.port(), Some(8000));
    assert_eq!(service.count(), 2);
    assert_eq!(service.strategy(), Strategy::default());
    assert_eq!(service.domains(), ["www.example.com", "example.com"]);
    assert!(service.is_default());
    assert_eq!(service.drain(), 45);

    let text = serde_json::to_string(&manifest).expect("serialize");
    assert_eq!(
        serde_json::from_str::<Manifest>(&text).expect("deserialize"),
        manifest
    );
}

#[test]
fn defaults_are_filled_in() {
    let manifest = parse(json!({ "services": {
        "web": { "image": "web", "port": 3000 },
        "worker": { "command": "work" }
    }}));
    assert_eq!(
        manifest.to_json(),
        json!({ "services": {
            "web": { "image": "web", "port": 3000,
                     "health": { "path": "/", "grace": 5, "interval": 5, "timeout": 4 },
                     "scale": { "count": 1 },
                     "deployment": { "minimum": 50, "maximum": 200 },
                     "drain": 30 },
            "worker": { "command": "work",
                        "scale": { "count": 1 },
                        "deployment": { "minimum": 50, "maximum": 200 },
                        "drain": 30 }
        }})
    );
    let service = web(&manifest);
    assert_eq!(
        (service.domains(), service.is_default(), service.drain()),
        (&[][..], false, 30)
    );
    assert_eq!(
        Manifest::from_json(&manifest.to_json()),
        Ok(manifest.clone())
    );
    let health = web(&manifest).health().expect("default health");
    assert_eq!(
        (
            health.path(),
            health.grace(),
            health.interval(),
            health.timeout()
        ),
        ("/", 5, 5, 4)
    );
}

#[test]
fn health_string_form_and_partial_objects() {
    let manifest = parse(json!({ "services": { "web": {
        "image": "web", "port": 80, "health": "/up",
        "scale": {}, "deployment": { "maximum": 150 }
    }}}));
    let service = web(&manifest);
    assert_eq!(service.health().map(Health::path), Some("/up"));
    assert_eq!(service.count(), 1);
    assert_eq!(
        (service.strategy().minimum(), service.strategy().maximum()),
        (50, 150)
    );

    let manifest = parse(json!({ "services": { "web": {
        "image": "web", "port": 80, "health": { "path": "/h", "timeout": 60 }
    }}}));
    let health = web(&manifest).health().expect("health");
    assert_eq!(
        (health.grace(), health.interval(), health.timeout()),
        (5, 5, 60)
    );
}

#[test]
fn top_level_rejections() {
    let cases = [
        (json!("services"), "manifest"),
        (json!({}), "manifest.services"),
        (json!({ "services": {}, "app": "x" }), "manifest.app"),
        (json!({ "services": {} }), "manifest.services"),
        (json!({ "services": [] }), "manifest.services"),
        (
            json!({ "services": { "Web": { "image": "x" } } }),
            "manifest.services.Web",
        ),
        (
            json!({ "services": { "web": "x" } }),
            "manifest.services.web",
        ),
    ];
    for (value, field) in cases {
        let err = Manifest::from_json(&value).expect_err(field);
        assert_eq!(err.field, field, "{err}");
    }
}

#[test]
fn too_many_services_are_rejected() {
    let services: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("s{i}"), json!({ "command": "x" })))
        .collect();
    let err = Manifest::from_json(&json!({ "services": services })).expect_err("51 services");
    assert_eq!(
        err,
        InvalidInput::new("manifest.services", "defines 51 services; the limit is 50")
    );
}

#[test]
fn unknown_service_key_names_the_field_and_the_choices() {
    let err = web_error(json!({ "image": "x", "helth": "/" }));
    assert_eq!(
        err.to_string(),
        "manifest.services.web.helth: unknown field; expected one of image, command, port, health, scale, deployment, domains, default, drain"
    );
    assert_rejected(
        json!({ "image": "x", "port": 1, "health": { "path": "/", "x": 1 } }),
        "manifest.services.web.health.x",
    );
    assert_rejected(
        json!({ "image": "x", "scale": { "replicas": 1 } }),
        "manifest.services.web.scale.replicas",
    );
}

#[test]
fn image_or_command_is_required_and_checked() {
    let err = web_error(json!({ "port": 80 }));
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web",
            "needs `image` (Kubernetes) or `command` (local runtime)"
        )
    );
    assert_rejected(json!({ "image": "" }), "manifest.services.web.image");
    assert_rejected(json!({ "image": "a b" }), "manifest.services.web.image");
    assert_rejected(
        json!({ "image": "a".repeat(513) }),
        "manifest.services.web.image",
    );
    assert_rejected(json!({ "image": 1 }), "manifest.services.web.image");
    assert_rejected(json!({ "command": "  " }), "manifest.services.web.command");
    assert_rejected(
        json!({ "command": "a\0b" }),
        "manifest.services.web.command",
    );
    assert_rejected(
        json!({ "command": "a".repeat(8193) }),
        "manifest.services.web.command",
    );
}

#[test]
fn port_must_be_an_integer_in_range() {
    for port in [
        json!(0),
        json!(70000),
        json!("80"),
        json!(-1),
        json!(80.5),
        json!(null),
    ] {
        assert_rejected(
            json!({ "image": "x", "port": port }),
            "manifest.services.web.port",
        );
    }
    let err = web_error(json!({ "image": "x", "port": "80" }));
    assert_eq!(
        err.message,
        "must be an integer from 1 to 65535, not a string"
    );
    assert!(Manifest::from_json(
        &json!({ "services": { "web": { "image": "x", "port": 65535 } } })
    )
    .is_ok());
}

#[test]
fn health_rejections() {
    let base = |health: Value| json!({ "image": "x", "port": 80, "health": health });
    assert_rejected(
        base(json!({ "path": "/", "grace": -1 })),
        "manifest.services.web.health.grace",
    );
    assert_rejected(
        base(json!({ "path": "/", "grace": 3601 })),
        "manifest.services.web.health.grace",
    );
    assert_rejected(
        base(json!({ "path": "/", "interval": 0 })),
        "manifest.services.web.health.interval",
    );
    assert_rejected(
        base(json!({ "path": "/", "timeout": 61 })),
        "manifest.services.web.health.timeout",
    );
    assert_rejected(
        base(json!({ "grace": 5 })),
        "manifest.services.web.health.path",
    );
    assert_rejected(
        base(json!({ "path": "health" })),
        "manifest.services.web.health.path",
    );
    assert_rejected(base(json!("health")), "manifest.services.web.health");
    assert_rejected(base(json!("/a b")), "manifest.services.web.health");
    assert_rejected(base(json!(5)), "manifest.services.web.health");

    let err = web_error(json!({ "image": "x", "health": "/" }));
    assert_eq!(err.field, "manifest.services.web.health");
    assert!(err.message.contains("needs `port`"), "{err}");
}

#[test]
fn scale_and_deployment_rejections() {
    assert_rejected(
        json!({ "image": "x", "scale": { "count": 101 } }),
        "manifest.services.web.scale.count",
    );
    assert_rejected(
        json!({ "image": "x", "scale": 2 }),
        "manifest.services.web.scale",
    );
    let deployment = |d: Value| json!({ "image": "x", "deployment": d });
    assert_rejected(
        deployment(json!({ "minimum": 101 })),
        "manifest.services.web.deployment.minimum",
    );
    assert_rejected(
        deployment(json!({ "maximum": 99 })),
        "manifest.services.web.deployment.maximum",
    );
    assert_rejected(
        deployment(json!({ "maximum": 201 })),
        "manifest.services.web.deployment.maximum",
    );
    assert_rejected(
        deployment(json!({ "minimum": 100, "maximum": 100 })),
        "manifest.services.web.deployment",
    );
    assert!(Manifest::from_json(
        &json!({ "services": { "web": deployment(json!({ "minimum": 100 })) } })
    )
    .is_ok());
}

#[test]
fn strategy_constructor_checks_bounds() {
    assert_eq!(Strategy::new(50, 200), Ok(Strategy::default()));
    assert_eq!(
        Strategy::new(101, 200).expect_err("min").field,
        "deployment.minimum"
    );
    assert_eq!(
        Strategy::new(100, 100).expect_err("no room").field,
        "deployment"
    );
}

#[test]
fn control_characters_in_keys_are_not_echoed() {
    let err = Manifest::from_json(&json!({ "services": { "we\u{1b}b": { "image": "x" } } }))
        .expect_err("bad name");
    assert_eq!(err.field, "manifest.services.we?b");
}

#[test]
fn from_deserializer_and_deserialize_validate() {
    let mut de = serde_json::Deserializer::from_str(r#"{"services":{"web":{"command":"run"}}}"#);
    let manifest = Manifest::from_deserializer(&mut de).expect("valid");
    assert_eq!(web(&manifest).command(), Some("run"));

    let mut de = serde_json::Deserializer::from_str("{not json");
    assert_eq!(
        Manifest::from_deserializer(&mut de)
            .expect_err("syntax")
            .field,
        "manifest"
    );

    let err = serde_json::from_str::<Manifest>(r#"{"services":{"web":{}}}"#).expect_err("invalid");
    assert!(
        err.to_string().starts_with("manifest.services.web: needs"),
        "{err}"
    );
}
