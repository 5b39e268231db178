//! Signing in and out, and what ends a session: signing out, expiry, a
//! deleted token; the cookie's attributes; a token limited to some apps.

use crate::support::{session_id, Browser};
use reqwest::Method;
use slipway_api::testing::{expect_status, spawn_app};
use slipway_core::secret::hash_token;
use slipway_core::store::Backend;

crate::on_both_backends!(
    signing_in_sets_a_strict_cookie_and_lists_the_apps,
    a_bad_token_shows_why_and_sets_no_cookie,
    signing_out_ends_the_session,
    expired_sessions_and_deleted_tokens_are_refused,
);

async fn signing_in_sets_a_strict_cookie_and_lists_the_apps(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    app.create_app("blog").await;
    let browser = Browser::new(&app);
    let page = browser.get("/ui/signin").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"token\""), "{}", page.body);

    let page = browser.sign_in(&app.token).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), "/ui");
    let cookie = page.header("set-cookie");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=43200"] {
        assert!(attributes.contains(&wanted), "{cookie}");
    }
    assert!(!attributes.contains(&"Secure"), "plain HTTP: {cookie}");
    let id = session_id(&page).unwrap();
    assert_eq!(id.len(), 64, "32 random bytes in hex");
    assert!(!id.contains(&app.token));
    // Stored only hashed.
    assert!(app.store.get_session(&id).unwrap().is_none());
    assert!(app.store.get_session(&hash_token(&id)).unwrap().is_some());

    let page = browser.get("/ui").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/ui/apps/shop/releases\""));
    assert!(page.body.contains("href=\"/ui/apps/blog/releases\""));
    assert!(page.body.contains("never deployed"));
    assert!(page.body.contains("Signed in as <strong>admin</strong>"));

    // Behind a TLS proxy the cookie is `Secure`.
    let request = browser
        .request(Method::POST, "/ui/signin")
        .header("x-forwarded-proto", "https")
        .form(&[("token", app.token.as_str())]);
    let page = browser.send(request).await;
    assert_eq!(page.status, 303);
    assert!(page.header("set-cookie").contains("; Secure"));
    assert!(
        app.store.get_session(&hash_token(&id)).unwrap().is_none(),
        "signing in again replaced the session"
    );

    // A token limited to one app sees only that app.
    let limited = app.create_token("shop-reader", "read", &["shop"]).await;
    let (browser, _) = Browser::signed_in(&app, &limited).await;
    let page = browser.get("/ui").await;
    assert!(page.body.contains("/ui/apps/shop/releases"));
    assert!(
        !page.body.contains("/ui/apps/blog/releases"),
        "{}",
        page.body
    );
    let page = browser.get("/ui/apps/blog/releases").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("blog"), "says which app: {}", page.body);
}

async fn a_bad_token_shows_why_and_sets_no_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = Browser::new(&app);
    for token in ["slp_wrong", ""] {
        let page = browser.sign_in(token).await;
        assert!(page.header("set-cookie").is_empty(), "{token:?}");
        assert!(page.header("content-type").starts_with("text/html"));
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(
            page.body.contains("unknown or has expired"),
            "{}",
            page.body
        );
    }
    // Still signed out.
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/signin");

    // A form posted from another site cannot sign a browser in.
    let request = browser
        .request(Method::POST, "/ui/signin")
        .header("origin", "https://evil.example")
        .form(&[("token", app.token.as_str())]);
    let page = browser.send(request).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.header("set-cookie").is_empty());
    // A form without its field is a bad form, in words.
    let page = browser.post("/ui/signin", &[("nottoken", "x")]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("could not be read"), "{}", page.body);
}

async fn signing_out_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (browser, id) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();

    let page = browser.post("/ui/signout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), "/ui/signin");
    assert!(page.header("set-cookie").contains("Max-Age=0"));
    assert!(app.store.get_session(&hash_token(&id)).unwrap().is_none());

    // The old cookie, sent again by hand, no longer works.
    let stranger = Browser::new(&app);
    let request = stranger
        .request(Method::GET, "/ui")
        .header("cookie", format!("slipway_session={id}"));
    let page = stranger.send(request).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/signin");
}

async fn expired_sessions_and_deleted_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (browser, id) = Browser::signed_in(&app, &app.token).await;
    let hash = hash_token(&id);
    app.store
        .set_session_expiry(&hash, chrono::Utc::now() - chrono::TimeDelta::seconds(1))
        .unwrap();
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 303, "an expired session is refused");
    assert_eq!(page.header("location"), "/ui/signin");
    assert!(page.header("set-cookie").contains("Max-Age=0"));
    assert!(
        !app.store.delete_session(&hash).unwrap(),
        "and deleted when refused"
    );

    // Deleting the token ends its sessions.
    let token = app.create_token("ci", "deploy", &[]).await;
    let (browser, id) = Browser::signed_in(&app, &token).await;
    assert_eq!(browser.get("/ui").await.status, 200);
    let tokens = expect_status(app.get("/tokens").await, 200).await;
    let ci = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .request(Method::DELETE, &format!("/tokens/{ci}"))
        .send()
        .await
        .unwrap();
    expect_status(deleted, 204).await;
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 303, "the token's session ended with it");
    assert!(app.store.get_session(&hash_token(&id)).unwrap().is_none());
}
