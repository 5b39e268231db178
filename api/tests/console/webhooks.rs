//! The Webhooks pages: admin only (others get a 403 page and no header
//! link), every subscription and its deliveries without its URL's secret
//! parts or its signing secret, Redeliver with CSRF, escaping.

use crate::support::Browser;
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, spawn_app, TestApp};
use slipway_core::domain::WebhookId;
use slipway_core::store::Backend;

crate::on_both_backends!(
    webhooks_and_their_deliveries_are_listed_without_secrets,
    redeliver_queues_the_event_again_and_needs_csrf,
    webhooks_are_for_admin_tokens_only,
);

const URL: &str = "https://hooks.example.com/services/T1/B2/url-secret-part?key=q-secret";

/// A webhook on every event, and `shop` created and built (two events);
/// returns the webhook's id and signing secret.
async fn hooked_shop(app: &TestApp, description: &str) -> (String, String) {
    let body = json!({ "url": URL, "kind": "slack", "events": ["*"], "apps": ["shop"],
        "description": description });
    let created = app.send_json(Method::POST, "/webhooks", &body).await;
    let created = expect_status(created, 201).await;
    app.create_app("shop").await;
    app.build("shop", json!({})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    (id, created["secret"].as_str().unwrap().to_owned())
}

fn deliveries(app: &TestApp, id: &str) -> usize {
    let id = WebhookId::parse(id).unwrap();
    app.store.list_deliveries(&id, 500).unwrap().len()
}

fn assert_no_secret(body: &str, secret: &str) {
    for part in [URL, "url-secret-part", "q-secret", "/services/", secret] {
        assert!(!body.contains(part), "{part} on the page: {body}");
    }
}

async fn webhooks_and_their_deliveries_are_listed_without_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get("/ui/webhooks").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No webhooks."));
    assert!(
        page.body.contains("href=\"/ui/webhooks\""),
        "admin header link"
    );
    assert!(
        page.body.contains("href=\"/ui/tokens\""),
        "admin header link"
    );

    let (id, secret) = hooked_shop(&app, "team <script>alert(1)</script>").await;
    let page = browser.get("/ui/webhooks").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/ui/webhooks/{id}\"")));
    assert!(page
        .body
        .contains("<code>https://hooks.example.com/…</code>"));
    assert!(page.body.contains("<td>slack</td>"));
    assert!(page.body.contains("<td>*</td>"), "events");
    assert!(page.body.contains("<td>shop</td>"), "apps");
    assert!(!page.body.contains("<script>alert"), "escaped");
    assert!(page.body.contains("alert(1)"));
    assert_no_secret(&page.body, &secret);

    let page = browser.get(&format!("/ui/webhooks/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in ["EVENT", "STATUS", "ATTEMPTS", "LAST ERROR", "CREATED"] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    assert!(page.body.contains("<td>app.created</td>"), "{}", page.body);
    assert!(page.body.contains("status-busy\">pending</td>"));
    assert_eq!(
        page.body.matches(">Redeliver</button>").count(),
        deliveries(&app, &id)
    );
    assert!(!page.body.contains("<script>alert"), "escaped");
    assert_no_secret(&page.body, &secret);

    for (path, status) in [("/ui/webhooks/WNOTAREALONE", 404), ("/ui/webhooks/x", 404)] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
    }
}

async fn redeliver_queues_the_event_again_and_needs_csrf(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = hooked_shop(&app, "team").await;
    let before = deliveries(&app, &id);
    assert!(before >= 2, "app.created and the build's events");
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get(&format!("/ui/webhooks/{id}")).await;
    let marker = format!("action=\"/ui/webhooks/{id}/deliveries/");
    let start = page.body.find(&marker).expect("a Redeliver form") + marker.len();
    let delivery = &page.body[start..start + page.body[start..].find('/').unwrap()];
    let path = format!("/ui/webhooks/{id}/deliveries/{delivery}/redeliver");

    for form in [vec![], vec![("csrf", "forged")]] {
        let refused = browser.post(&path, &form).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("CSRF"));
    }
    assert_eq!(deliveries(&app, &id), before, "refused: nothing queued");

    let done = browser.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), format!("/ui/webhooks/{id}"));
    assert_eq!(deliveries(&app, &id), before + 1, "queued again");

    let missing = format!("/ui/webhooks/{id}/deliveries/DNOTAREALONE/redeliver");
    let page = browser.post(&missing, &[("csrf", &page.csrf())]).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert_eq!(deliveries(&app, &id), before + 1);
}

async fn webhooks_are_for_admin_tokens_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, secret) = hooked_shop(&app, "team").await;
    let deployer = app.create_token("deployer", "deploy", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;

    let home = browser.get("/ui").await;
    assert!(
        !home.body.contains("href=\"/ui/webhooks\""),
        "no header link"
    );
    for path in ["/ui/webhooks".to_owned(), format!("/ui/webhooks/{id}")] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""));
        assert_no_secret(&page.body, &secret);
    }
    let before = deliveries(&app, &id);
    let delivery = app
        .store
        .list_deliveries(&WebhookId::parse(&id).unwrap(), 1)
        .unwrap()[0]
        .id
        .to_string();
    let path = format!("/ui/webhooks/{id}/deliveries/{delivery}/redeliver");
    let page = browser.post(&path, &[("csrf", &home.csrf())]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(deliveries(&app, &id), before);
}
