//! A request for each documented error (4xx) of each route on the main app:
//! most are alike across routes (no token, a long query, a used
//! `Idempotency-Key`), a few depend on the route.

use super::fixture::{Fixture, USED_KEY};
use super::probe::Probe;
use reqwest::{Method, RequestBuilder};

use slipway_api::testing::{fingerprint, TestApp};

/// Whether the method writes (takes a body and an `Idempotency-Key`).
fn writes(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PATCH)
}

pub async fn run(app: &TestApp, fx: &Fixture, probe: &mut Probe) {
    for (method, pattern, status) in probe.doc.answers() {
        if !(400..500).contains(&status) || status == 429 {
            continue;
        }
        let method: Method = method.to_ascii_uppercase().parse().unwrap();
        let request = failing(app, fx, &method, &pattern, status);
        probe.expect((&method, &pattern, status), request).await;
    }
}

/// A request for `method pattern` that gets `status`.
fn failing(
    app: &TestApp,
    fx: &Fixture,
    method: &Method,
    pattern: &str,
    status: u16,
) -> RequestBuilder {
    let url = fx.fill(pattern);
    let admin = |url: &str| app.request(method.clone(), url);
    let body = body(pattern);
    let json = |url: &str| {
        let request = admin(url).header("content-type", "application/json");
        request.body(body)
    };
    match status {
        400 if writes(method) => json(&url).header("Idempotency-Key", "k".repeat(300)),
        400 => admin(&format!("{url}?bogus=1")),
        401 => app
            .client
            .request(method.clone(), format!("{}{url}", app.url)),
        403 => {
            // Reads of `shop` by a token for another app; writes by a reader.
            let token = if *method == Method::GET {
                &fx.outsider
            } else {
                &fx.reader
            };
            let request = app.request_as(token, method.clone(), &url);
            request
                .header("content-type", "application/json")
                .body(body)
        }
        404 if pattern.ends_with("/diff") => {
            admin(&format!("{}?against={}", fx.missing(pattern), fx.release))
        }
        404 => json(&fx.missing(pattern)),
        409 => conflict(app, fx, method, pattern),
        413 => {
            let body = format!("{{\"description\": \"{}\"}}", "a".repeat(2 << 20));
            admin(&url)
                .header("content-type", "application/json")
                .body(body)
        }
        414 => admin(&format!("{url}?q={}", "a".repeat(2100))),
        415 => admin(&url).header("content-type", "text/plain").body("{}"),
        422 if writes(method) => json(&url).header("Idempotency-Key", USED_KEY),
        422 if pattern.ends_with("/diff") => admin(&url),
        422 => admin(&format!("{url}?limit=0")),
        431 => admin(&url).header("x-big", "a".repeat(9000)),
        _ => panic!("no request of the contract test gets {status} from {method} {pattern}"),
    }
}

/// 409: a release no key opens for reads; the admin token for its
/// deletion; for writes, a request whose `Idempotency-Key` is in progress.
fn conflict(app: &TestApp, fx: &Fixture, method: &Method, pattern: &str) -> RequestBuilder {
    if *method == Method::GET {
        let url = pattern
            .replace("{app}", "locked")
            .replace("{id}", &fx.locked);
        let url = match pattern.ends_with("/diff") {
            true => format!("{url}?against={}", fx.locked),
            false => url,
        };
        return app.request(Method::GET, &url);
    }
    if *method == Method::DELETE {
        return app.request(Method::DELETE, &format!("/tokens/{}", fx.admin));
    }
    let url = fx.fill(pattern);
    let key = format!("in-progress {method} {pattern}");
    let print = fingerprint(method.as_str(), &url, body(pattern).as_bytes());
    let now = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S");
    app.db.execute(&format!(
        "INSERT INTO idempotency_keys (token, key, fingerprint, created_at, expires_at) \
         VALUES ('{}', '{key}', '{print}', '{now}', '2999-01-01 00:00:00')",
        fx.admin
    ));
    app.request(method.clone(), &url)
        .header("content-type", "application/json")
        .header("Idempotency-Key", key)
        .body(body(pattern))
}

/// A body every write route reads without a 400, so that the answer is the
/// route's own (its checks come after the body is read).
pub fn body(pattern: &str) -> &'static str {
    match pattern {
        "/apps" => r#"{"name": "x"}"#,
        "/apps/{app}" => r#"{"deadline_seconds": 60}"#,
        "/apps/{app}/builds" | "/apps/{app}/deploy" => {
            r#"{"manifest": {"services": {"web": {"command": "x"}}}}"#
        }
        "/webhooks" => r#"{"url": "x", "kind": "x", "events": []}"#,
        "/tokens" => r#"{"name": "x", "scope": "x"}"#,
        _ => "{}",
    }
}
