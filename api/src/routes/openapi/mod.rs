//! `GET /openapi.json`: the API described for people and generators,
//! derived from the handlers' `#[utoipa::path]` and the contract types of
//! `slipway_core::contract`. It also gives 405 answers their `Allow` header.

pub(crate) mod answers;
pub(crate) mod params;
mod streams;
#[cfg(test)]
mod tests;

use super::{
    apps, builds, deployments, env, health, logs, metrics, processes, releases, stream, tokens,
    webhooks,
};
use actix_web::HttpResponse;
use slipway_core::contract::{Event, LogLine};
use slipway_core::domain::manifest;
use std::collections::HashMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// What the document says before any route: how the API behaves throughout.
const DESCRIPTION: &str = "\
Slipway's release manager API: apps, the builds CI posts, and the releases (a build paired \
with an env) they make, promoted by deployments.

- **Auth**: every route but `/healthz`, `/readyz`, `/openapi.json` and `/metrics` needs a \
token: `Authorization: Bearer <token>`, or HTTP Basic with the token as the password (`curl -u \
:<token>`; the user name is used when the password is empty). Missing or bad tokens get 401; a \
token whose scope or apps do not allow the request gets 403.
- **Bodies** are JSON sent with `Content-Type: application/json` (else 415), at most 1 MiB for \
builds, deploys, releases and env changes and 16 KiB elsewhere (else 413). Malformed JSON, \
wrong types, missing and unknown fields are 400; values that break a rule are 422 naming the \
field.
- **Limits**: a path with its query string over 2048 bytes is 414; a header value over 8192 \
bytes is 431; writes over the token's rate are 429 with `Retry-After`.
- **Retries**: POST and PATCH take an `Idempotency-Key` header (1 to 255 printable ASCII \
characters); a repeat gets the first response again.
- **Errors** are always `{\"error\": {\"code\", \"message\"}}` (see `Error`). A route that does \
not exist is 404; a method a route does not have is 405, with `Allow` listing those it has.
- **Ids** are a prefix letter and 10 upper-case letters (`B...` builds, `R...` releases, `D...` \
deployments, `W...` webhooks, `V...` deliveries, `T...` tokens). **Timestamps** are RFC 3339 \
strings in UTC.
- **Listings** of builds, releases and deployments are newest first and paged with `?limit=` \
(1-100, default 20) and `?before=<id>`; other query parameters are 400.
- **Releases** are immutable: builds, env changes and explicit creations each make a new, \
inactive release; promoting one starts a deployment.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Slipway API", description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0")),
    paths(
        health::alive, health::ready, document, metrics::scrape,
        apps::list, apps::create, apps::show, apps::update, apps::remove,
        builds::list, builds::create, builds::show,
        env::show, env::update,
        releases::list, releases::create, releases::show, releases::diff,
        deployments::promote, deployments::rollback, deployments::deploy,
        processes::list, logs::list,
        deployments::list, deployments::show, deployments::cancel, stream::events,
        webhooks::list, webhooks::create, webhooks::show, webhooks::remove, webhooks::rotate,
        webhooks::test, webhooks::deliveries, webhooks::redeliver,
        tokens::list, tokens::create, tokens::remove,
    ),
    components(schemas(Event, LogLine, slipway_core::contract::ErrorBody)),
    modifiers(&Shared),
    security(("bearerAuth" = []), ("basicAuth" = [])),
    tags(
        (name = "health", description = "Liveness and readiness probes (no token)."),
        (name = "meta", description = "This document and the metrics (no token)."),
        (name = "apps", description = "Apps, their settings, processes and logs."),
        (name = "builds", description = "Builds: a manifest from CI; each creates a release."),
        (name = "env", description = "The env of the latest release, and changes to it."),
        (name = "releases", description = "Releases: a build paired with an env."),
        (name = "deployments", description = "Deployments: promoting a release, rolling \
            back, and following a rollout."),
        (name = "webhooks", description = "Signed, retried event deliveries to your \
            endpoints and Slack."),
        (name = "tokens", description = "API tokens with a scope (`read`, `deploy`, `admin`) \
            and apps."),
    )
)]
struct ApiDoc;

/// The routes anyone may call, without a token.
const PUBLIC: [&str; 4] = ["/healthz", "/readyz", "/openapi.json", "/metrics"];

/// What every operation shares: the security schemes, the error answers,
/// and no token on the public routes.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let scheme = |scheme: HttpAuthScheme, description: &str| {
            let mut http = Http::new(scheme);
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "bearerAuth",
            scheme(HttpAuthScheme::Bearer, "`Authorization: Bearer <token>`."),
        );
        components.add_security_scheme(
            "basicAuth",
            scheme(
                HttpAuthScheme::Basic,
                "HTTP Basic with the token as the password and any user (`curl -u \
                 :<token>`), or the token as the user with an empty password.",
            ),
        );
        for (name, response) in answers::components() {
            components
                .responses
                .insert(name.to_owned(), response.into());
        }
        for (name, schema) in streams::components() {
            components.schemas.insert(name.to_owned(), schema.into());
        }
        for path in PUBLIC {
            if let Some(item) = doc.paths.paths.get_mut(path) {
                if let Some(get) = item.get.as_mut() {
                    get.security = Some(Vec::new());
                }
            }
        }
    }
}

/// The document as served, made once: derived, with the manifest's own
/// schemas put in (see `slipway_core::domain::manifest::schema`).
pub(crate) fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut document =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        let manifest: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(manifest::schema::SCHEMAS).expect("the manifest's schemas");
        if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
            schemas.extend(manifest);
        }
        document.to_string()
    })
}

/// The methods the document describes for a route pattern (`/apps/{app}`),
/// as an `Allow` header value (`GET, PATCH, DELETE`).
pub(crate) fn allowed(pattern: &str) -> Option<&'static str> {
    static ALLOWED: OnceLock<HashMap<String, String>> = OnceLock::new();
    let allowed = ALLOWED.get_or_init(|| {
        let document: serde_json::Value =
            serde_json::from_str(json()).expect("the document is JSON");
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        paths
            .into_iter()
            .map(|(path, operations)| {
                let methods: Vec<String> = operations
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter(|m| {
                        ["get", "put", "post", "delete", "patch", "head", "options"]
                            .contains(&m.as_str())
                    })
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                (path, methods.join(", "))
            })
            .collect()
    });
    allowed.get(pattern).map(String::as_str)
}

#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApi", tag = "meta",
    description = "Returns this OpenAPI 3.1 document. Needs no token.",
    responses((status = 200, description = "The OpenAPI document.", body = Object),
        answers::UriTooLong, answers::HeaderTooLarge))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}
