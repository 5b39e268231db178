//! The Tokens pages: admin only (others get a 403 page), every token
//! without the token itself, Revoke after a confirmation page with CSRF,
//! and revoking the session's own token ending the session.

use crate::support::Browser;
use slipway_api::testing::{spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    tokens_are_listed_without_the_tokens,
    revoke_confirms_needs_csrf_and_deletes_the_token,
    revoking_the_sessions_own_token_ends_the_session,
    tokens_are_for_admin_tokens_only,
    the_admin_and_app_pages_have_the_security_headers,
);

fn token_names(app: &TestApp) -> Vec<String> {
    let tokens = app.store.list_tokens().unwrap();
    tokens.into_iter().map(|t| t.name).collect()
}

fn token_id(app: &TestApp, name: &str) -> String {
    let tokens = app.store.list_tokens().unwrap();
    tokens
        .into_iter()
        .find(|t| t.name == name)
        .unwrap()
        .id
        .to_string()
}

async fn tokens_are_listed_without_the_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let reader = app.create_token("bot", "read", &["shop"]).await;
    let (browser, session) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get("/ui/tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in ["NAME", "SCOPE", "APPS", "CREATED", "EXPIRES", "LAST USED"] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    assert!(page
        .body
        .contains("admin <span class=\"muted\">(this session)</span>"));
    assert!(page.body.contains("<td>read</td>") && page.body.contains("<td>shop</td>"));
    assert!(page.body.contains("<td>every app</td>"), "the admin's apps");
    assert!(page.body.contains("<td>bot</td>"), "{}", page.body);
    for secret in [&app.token, &reader, &session] {
        assert!(!page.body.contains(secret.as_str()), "a token on the page");
    }
    let reader_id = token_id(&app, "bot");
    let admin_id = token_id(&app, "admin");
    assert!(page
        .body
        .contains(&format!("href=\"/ui/tokens/{reader_id}/revoke\"")));
    assert!(
        !page.body.contains(&format!("/ui/tokens/{admin_id}/revoke")),
        "configured"
    );
}

async fn revoke_confirms_needs_csrf_and_deletes_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ci = app.create_token("ci", "deploy", &[]).await;
    let id = token_id(&app, "ci");
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let path = format!("/ui/tokens/{id}/revoke");

    let confirm = browser.get(&path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Revoke the token ci"));
    assert!(!confirm.body.contains(&ci), "never the token");
    assert!(
        token_names(&app).contains(&"ci".to_owned()),
        "a GET changes nothing"
    );

    for form in [vec![], vec![("csrf", "forged")]] {
        let refused = browser.post(&path, &form).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    assert!(
        token_names(&app).contains(&"ci".to_owned()),
        "refused: kept"
    );

    let done = browser.post(&path, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), "/ui/tokens");
    assert!(!token_names(&app).contains(&"ci".to_owned()), "deleted");
    let api = app
        .request_as(&ci, reqwest::Method::GET, "/apps")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401, "it stops working at once");
    let again = browser.post(&path, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(again.status, 404, "{}", again.body);

    // The configured admin token is not revoked here.
    let admin = format!("/ui/tokens/{}/revoke", token_id(&app, "admin"));
    assert_eq!(browser.get(&admin).await.status, 409);
    let refused = browser.post(&admin, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(token_names(&app).contains(&"admin".to_owned()));
    assert_eq!(
        browser.get("/ui/tokens").await.status,
        200,
        "still signed in"
    );
}

async fn revoking_the_sessions_own_token_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let ops = app.create_token("ops", "admin", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &ops).await;
    let path = format!("/ui/tokens/{}/revoke", token_id(&app, "ops"));
    let confirm = browser.get(&path).await;
    assert!(
        confirm.body.contains("you will be signed out"),
        "{}",
        confirm.body
    );

    let done = browser.post(&path, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), "/ui/signin");
    assert!(done.header("set-cookie").contains("Max-Age=0"));
    assert!(!token_names(&app).contains(&"ops".to_owned()));
    let page = browser.get("/ui/tokens").await;
    assert_eq!(page.status, 303, "signed out: {}", page.body);
    assert_eq!(page.header("location"), "/ui/signin");
}

async fn tokens_are_for_admin_tokens_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let deployer = app.create_token("deployer", "deploy", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let home = browser.get("/ui").await;
    assert!(!home.body.contains("href=\"/ui/tokens\""), "no header link");
    let own = format!("/ui/tokens/{}/revoke", token_id(&app, "deployer"));
    for path in ["/ui/tokens", own.as_str()] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""));
        assert!(!page.body.contains(&app.token) && !page.body.contains(&deployer));
    }
    let refused = browser.post(&own, &[("csrf", &home.csrf())]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(token_names(&app).contains(&"deployer".to_owned()));
}

/// Every page of this part (processes, logs, webhooks, tokens) is a whole
/// page with the console's security headers, even when it refuses.
async fn the_admin_and_app_pages_have_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let id = token_id(&app, "admin");
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    for (path, status) in [
        ("/ui/apps/shop/processes", 200),
        ("/ui/apps/shop/logs", 200),
        ("/ui/apps/shop/logs?limit=0", 400),
        ("/ui/webhooks", 200),
        ("/ui/webhooks/WNOTAREALONE", 404),
        ("/ui/tokens", 200),
        (&format!("/ui/tokens/{id}/revoke") as &str, 409),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        crate::assert_secure_headers(path, &page);
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        assert!(page.body.contains("</html>"), "{path}: a whole page");
        assert!(!page.body.contains(&app.token), "{path} shows the token");
    }
}
