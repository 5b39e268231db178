//! The document against the route table: every route described once, with
//! an id, a description, responses and the right security.

use serde_json::Value;
use std::collections::BTreeSet;

/// Every (method, path) of `routes::config`, in its order. Keep this in
/// step with `config` in `routes/mod.rs`: add a row here for each route
/// added there, and give its handler a `#[utoipa::path]` listed in `ApiDoc`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("get", "/apps"),
    ("post", "/apps"),
    ("get", "/apps/{app}"),
    ("patch", "/apps/{app}"),
    ("delete", "/apps/{app}"),
    ("get", "/apps/{app}/builds"),
    ("post", "/apps/{app}/builds"),
    ("get", "/apps/{app}/builds/{id}"),
    ("get", "/apps/{app}/env"),
    ("patch", "/apps/{app}/env"),
    ("get", "/apps/{app}/releases"),
    ("post", "/apps/{app}/releases"),
    ("get", "/apps/{app}/releases/{id}"),
    ("get", "/apps/{app}/releases/{id}/diff"),
    ("post", "/apps/{app}/releases/{id}/promote"),
    ("post", "/apps/{app}/releases/{id}/rollback"),
    ("post", "/apps/{app}/deploy"),
    ("get", "/apps/{app}/processes"),
    ("get", "/apps/{app}/logs"),
    ("get", "/apps/{app}/deployments"),
    ("get", "/apps/{app}/deployments/{id}"),
    ("post", "/apps/{app}/deployments/{id}/cancel"),
    ("get", "/apps/{app}/deployments/{id}/events"),
    ("get", "/webhooks"),
    ("post", "/webhooks"),
    ("get", "/webhooks/{id}"),
    ("delete", "/webhooks/{id}"),
    ("post", "/webhooks/{id}/rotate"),
    ("post", "/webhooks/{id}/test"),
    ("get", "/webhooks/{id}/deliveries"),
    ("post", "/webhooks/{id}/deliveries/{delivery}/redeliver"),
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("delete", "/tokens/{id}"),
];

/// The routes anyone may call, without a token.
const PUBLIC: &[&str] = &["/healthz", "/readyz", "/openapi.json", "/metrics"];

/// The keys of a path item that are operations.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(super::json()).expect("the document is valid JSON")
}

/// Every (method, path, operation) the document describes.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (key, operation) in item {
            if METHODS.contains(&key.as_str()) {
                out.push((key.clone(), path.clone(), operation));
            }
        }
    }
    out
}

#[test]
fn is_openapi_3_1() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1"), "openapi is {version}");
    assert!(doc["info"]["title"].is_string());
    assert!(doc["info"]["version"].is_string());
}

#[test]
fn describes_exactly_the_route_table() {
    let doc = document();
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(routes.len(), ROUTES.len(), "ROUTES has duplicates");

    let described: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missing: Vec<_> = routes.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.json: {missing:?}"
    );
    let extra: Vec<_> = described.difference(&routes).collect();
    assert!(
        extra.is_empty(),
        "openapi.json has no such routes: {extra:?}"
    );

    let paths = doc["paths"].as_object().expect("`paths` is an object");
    for path in paths.keys() {
        assert!(
            ROUTES.iter().any(|(_, p)| p == path),
            "openapi.json path {path} is not in the route table"
        );
    }
}

#[test]
fn every_operation_has_an_id_and_a_description() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(
            !description.is_empty(),
            "{method} {path} has no description"
        );
        let responses = operation["responses"].as_object();
        assert!(
            responses.is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
}

#[test]
fn app_routes_need_a_token_and_public_ones_do_not() {
    let doc = document();
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes is an object");
    for (method, path, operation) in operations(&doc) {
        // An operation's own `security` replaces the document's.
        let security = operation
            .get("security")
            .unwrap_or(&doc["security"])
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path}: no security requirement"));
        if PUBLIC.contains(&path.as_str()) {
            assert!(security.is_empty(), "{method} {path} must need no token");
            continue;
        }
        assert!(
            ["/apps", "/webhooks", "/tokens"]
                .iter()
                .any(|prefix| path.starts_with(prefix)),
            "{method} {path} is neither public nor under /apps, /webhooks or /tokens"
        );
        assert!(!security.is_empty(), "{method} {path} needs a token");
        for requirement in security {
            let requirement = requirement.as_object().expect("a requirement is an object");
            assert!(
                !requirement.is_empty(),
                "{method} {path}: an empty requirement allows anyone"
            );
            for name in requirement.keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path}: no scheme {name}"
                );
            }
        }
    }
}

#[test]
fn every_ref_resolves() {
    fn check(doc: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("non-local $ref {target}"));
                    assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
                }
                map.values().for_each(|v| check(doc, v));
            }
            Value::Array(items) => items.iter().for_each(|v| check(doc, v)),
            _ => {}
        }
    }
    let doc = document();
    check(&doc, &doc);
}
