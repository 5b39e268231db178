//! Tests for what the router reads from a manifest: `domains`, `default` and
//! `drain`, their canonical form, and one test per rejection with its field path.

use serde_json::{json, Value};

use super::*;

fn parse(value: Value) -> Result<Manifest, InvalidInput> {
    Manifest::from_json(&value)
}

fn name(s: &str) -> ServiceName {
    ServiceName::parse(s).expect("valid")
}

/// The error for a manifest whose only service `web` (with a port) also has `extra`.
fn web_error(extra: Value) -> InvalidInput {
    let mut web = json!({ "command": "run", "port": 80 });
    for (key, value) in extra.as_object().expect("an object") {
        web[key] = value.clone();
    }
    parse(json!({ "services": { "web": web } })).expect_err("invalid manifest")
}

#[test]
fn domains_are_lower_cased_and_round_trip() {
    let manifest = parse(json!({ "services": {
        "web": { "command": "run", "port": 80, "domains": ["Example.COM", "www.example.com"] },
        "api": { "command": "run", "port": 81, "domains": [] }
    }}))
    .expect("valid");
    let web = &manifest.services()[&name("web")];
    assert_eq!(web.domains(), ["example.com", "www.example.com"]);
    assert_eq!(
        manifest.services()[&name("api")].domains(),
        [] as [String; 0]
    );
    let canonical = manifest.to_json();
    assert_eq!(
        canonical["services"]["web"]["domains"],
        json!(["example.com", "www.example.com"])
    );
    // An empty list and `default: false` are left out of the canonical form.
    assert!(canonical["services"]["api"].get("domains").is_none());
    assert!(canonical["services"]["api"].get("default").is_none());
    assert_eq!(Manifest::from_json(&canonical), Ok(manifest));
}

#[test]
fn twenty_domains_are_allowed_and_twenty_one_are_not() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("d{i}.example.com"))
            .collect::<Vec<_>>()
    };
    let ok = parse(
        json!({ "services": { "web": { "command": "x", "port": 80, "domains": list(20) } } }),
    );
    assert_eq!(
        ok.expect("20 domains").services()[&name("web")]
            .domains()
            .len(),
        20
    );
    let err = web_error(json!({ "domains": list(21) }));
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web.domains",
            "lists 21 domains; the limit is 20"
        )
    );
}

#[test]
fn domain_rejections_name_the_entry() {
    for bad in [
        json!("https://example.com"),
        json!("example.com:8080"),
        json!("10.0.0.1"),
        json!("*.example.com"),
        json!("example.com."),
        json!("example"),
        json!("shop.localhost"),
        json!("localhost"),
        json!("bad_label.example.com"),
        json!(""),
        json!(7),
    ] {
        let err = web_error(json!({ "domains": ["ok.example.com", bad] }));
        assert_eq!(
            err.field, "manifest.services.web.domains[1]",
            "{bad}: {err}"
        );
    }
    let err = web_error(json!({ "domains": "example.com" }));
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web.domains",
            "must be a list of host names, not a string"
        )
    );
}

#[test]
fn a_domain_listed_twice_is_rejected_where_it_repeats() {
    let err = web_error(json!({ "domains": ["example.com", "EXAMPLE.com"] }));
    assert_eq!(err.field, "manifest.services.web.domains[1]");
    assert!(
        err.message.contains("manifest.services.web.domains[0]"),
        "{err}"
    );

    let err = parse(json!({ "services": {
        "api": { "command": "x", "port": 80, "domains": ["api.example.com", "example.com"] },
        "web": { "command": "x", "port": 81, "domains": ["example.com"] }
    }}))
    .expect_err("twice across services");
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web.domains[0]",
            "`example.com` is listed twice; it is already at manifest.services.api.domains[1]"
        )
    );
}

#[test]
fn domains_and_default_need_a_port() {
    let worker = |extra: Value| {
        let mut body = json!({ "command": "work" });
        for (key, value) in extra.as_object().expect("an object") {
            body[key] = value.clone();
        }
        parse(json!({ "services": { "worker": body } })).expect_err("no port")
    };
    let err = worker(json!({ "domains": ["example.com"] }));
    assert_eq!(err.field, "manifest.services.worker.domains");
    assert!(err.message.starts_with("needs `port`"), "{err}");
    let err = worker(json!({ "default": true }));
    assert_eq!(err.field, "manifest.services.worker.default");
    assert!(err.message.starts_with("needs `port`"), "{err}");
    // Saying "none" without a port is harmless.
    let ok = parse(json!({ "services": { "worker": {
        "command": "work", "domains": [], "default": false
    }}}));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn default_must_be_a_boolean_set_on_one_service_at_most() {
    let err = web_error(json!({ "default": "yes" }));
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web.default",
            "must be true or false, not a string"
        )
    );
    let err = parse(json!({ "services": {
        "api": { "command": "x", "port": 80, "default": true },
        "web": { "command": "x", "port": 81, "default": true }
    }}))
    .expect_err("two defaults");
    assert_eq!(
        err,
        InvalidInput::new(
            "manifest.services.web.default",
            "only one service may be the default, and `api` already is"
        )
    );
}

#[test]
fn the_default_service_is_the_marked_one_else_the_only_one_with_a_port() {
    let default_of = |services: Value| {
        parse(json!({ "services": services }))
            .expect("valid")
            .default_service()
            .map(ToString::to_string)
    };
    let marked = json!({
        "api": { "command": "x", "port": 80 },
        "web": { "command": "x", "port": 81, "default": true }
    });
    assert_eq!(default_of(marked).as_deref(), Some("web"));
    let one_port = json!({ "web": { "command": "x", "port": 80 }, "worker": { "command": "x" } });
    assert_eq!(default_of(one_port).as_deref(), Some("web"));
    let two_ports =
        json!({ "api": { "command": "x", "port": 80 }, "web": { "command": "x", "port": 81 } });
    assert_eq!(default_of(two_ports), None);
    let no_port = json!({ "worker": { "command": "x" } });
    assert_eq!(default_of(no_port), None);
}

#[test]
fn drain_defaults_to_30_and_is_bounded() {
    let manifest = parse(json!({ "services": { "web": { "command": "x", "drain": 0 } } }));
    assert_eq!(manifest.expect("valid").services()[&name("web")].drain(), 0);
    let manifest = parse(json!({ "services": { "web": { "command": "x", "drain": 300 } } }));
    assert_eq!(
        manifest.expect("valid").services()[&name("web")].drain(),
        300
    );
    for bad in [json!(301), json!(-1), json!("30"), json!(1.5)] {
        let err = web_error(json!({ "drain": bad }));
        assert_eq!(err.field, "manifest.services.web.drain", "{bad}: {err}");
    }
    let err = web_error(json!({ "drain": 301 }));
    assert_eq!(err.message, "must be an integer from 0 to 300, not 301");
}
