//! The Environment tab: keys without values until revealed, Save and Apply
//! Changes after a preview of the description, rows removed and added, an
//! unchanged env, CSRF, scopes, escaping, and the warning when the latest
//! release is not the active one.

use crate::support::{deployed_app, deployments, Browser, Page};
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, spawn_app, TestApp};
use slipway_core::store::Backend;

crate::on_both_backends!(
    the_tab_lists_keys_and_reveals_values_by_the_api_rule,
    save_previews_the_description_and_creates_an_unpromoted_release,
    apply_changes_creates_and_promotes,
    an_unchanged_env_creates_nothing_and_says_so,
    csrf_and_read_tokens_are_refused_and_change_nothing,
    values_and_bad_keys_are_escaped,
    a_latest_release_that_is_not_active_is_named_with_its_keys,
);

/// The form fields of the hidden inputs a page carries, unescaped.
fn hidden_fields(page: &Page) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = page.body.as_str();
    while let Some(start) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[start + 27..];
        let name_end = rest.find('"').unwrap();
        let name = rest[..name_end].to_owned();
        let value_start = rest.find("value=\"").unwrap() + 7;
        let value_end = value_start + rest[value_start..].find('"').unwrap();
        let value = rest[value_start..value_end]
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&");
        fields.push((name, value));
        rest = &rest[value_end..];
    }
    fields
}

/// Posts the editor's form (`rows` on top of its csrf and base) as
/// `intent`; returns the preview page.
async fn edit(browser: &Browser, rows: &[(&str, &str)], intent: &str) -> Page {
    let tab = browser.get("/ui/apps/shop/env").await;
    assert_eq!(tab.status, 200, "{}", tab.body);
    let mut form: Vec<(String, String)> = hidden_fields(&tab)
        .into_iter()
        .filter(|(name, _)| name == "csrf" || name == "base" || name.starts_with("orig-"))
        .collect();
    // The editor sends each row's key as shown unless the test types another.
    for (name, value) in &form.clone() {
        if let Some(n) = name.strip_prefix("orig-") {
            form.push((format!("key-{n}"), value.clone()));
        }
    }
    form.retain(|(name, _)| !rows.iter().any(|(typed, _)| typed == name));
    form.extend(rows.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    form.push(("intent".into(), intent.into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.post("/ui/apps/shop/env", &form).await
}

/// Confirms a preview page: posts its hidden fields.
async fn confirm(browser: &Browser, preview: &Page) -> Page {
    assert_eq!(preview.status, 200, "{}", preview.body);
    let fields = hidden_fields(preview);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser.post("/ui/apps/shop/env/confirm", &form).await
}

/// `shop` with an active release whose env is `A=one-value`, `B=two-value`
/// (rows 0 and 1 of the editor); returns its id and a deploy token.
async fn shop(app: &TestApp) -> (String, String) {
    let active = deployed_app(app, "shop", json!({ "A": "one-value", "B": "two-value" })).await;
    let deployer = app.create_token("env-bot", "deploy", &["shop"]).await;
    (active, deployer)
}

async fn the_tab_lists_keys_and_reveals_values_by_the_api_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let (active, _) = shop(&app).await;
    let (admin, _) = Browser::signed_in(&app, &app.token).await;
    let page = admin.get("/ui/apps/shop/env").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains("href=\"/ui/apps/shop/env\">Environment</a>"));
    assert!(page.body.contains(&format!("latest release, {active}")));
    for key in ["A", "B"] {
        assert!(page.body.contains(&format!("value=\"{key}\"")), "{key}");
    }
    assert!(page.body.contains("placeholder=\"unchanged (hidden)\""));
    assert!(!page.body.contains("one-value") && !page.body.contains("two-value"));
    assert!(page
        .body
        .contains("href=\"/ui/apps/shop/env?reveal=1\">Reveal values"));
    assert!(page.body.contains("value=\"save\"") && page.body.contains("value=\"apply\""));
    assert!(!page.body.contains("class=\"drift\""), "latest is active");

    let revealed = admin.get("/ui/apps/shop/env?reveal=1").await;
    assert_eq!(revealed.status, 200);
    assert!(
        revealed.body.contains("value=\"one-value\""),
        "{}",
        revealed.body
    );

    // A read token may read values through the API, so it may here too,
    // but sees no form and cannot post one.
    let reader = app.create_token("viewer", "read", &["shop"]).await;
    let api = app
        .request_as(&reader, Method::GET, "/apps/shop/env")
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(api, 200).await["env"]["A"], "one-value");
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let page = browser.get("/ui/apps/shop/env").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<code>A</code>") && !page.body.contains("one-value"));
    assert!(!page.body.contains("value=\"apply\""), "no buttons");
    let page = browser.get("/ui/apps/shop/env?reveal=1").await;
    assert!(
        page.body.contains("<code>one-value</code>"),
        "{}",
        page.body
    );

    // A token of another app reads nothing of this one.
    app.create_app("other").await;
    let outsider = app.create_token("outsider", "admin", &["other"]).await;
    let (browser, _) = Browser::signed_in(&app, &outsider).await;
    for path in ["/ui/apps/shop/env", "/ui/apps/shop/env?reveal=1"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("one-value"));
    }
}

async fn save_previews_the_description_and_creates_an_unpromoted_release(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, deployer) = shop(&app).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    // Row 0 (A) changes, row 1 (B) is removed, row 2 is a new key.
    let rows = [
        ("value-0", "changed-value"),
        ("remove-1", "1"),
        ("key-2", "NEW_KEY"),
        ("value-2", "new-value"),
    ];
    let preview = edit(&browser, &rows, "save").await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview
        .body
        .contains("<code class=\"description\">env add:NEW_KEY change:A remove:B</code>"));
    assert!(preview.body.contains("it is not promoted"));
    assert!(preview
        .body
        .contains("<span class=\"remove\">remove</span> <code>B</code>"));
    assert!(
        !preview.body.contains("two-value"),
        "an untouched value stays hidden"
    );
    assert_eq!(
        app.releases("shop").await.len(),
        2,
        "a preview creates nothing"
    );

    let done = confirm(&browser, &preview).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let releases = app.releases("shop").await;
    assert_eq!(releases.len(), 3);
    let newest = &releases[0];
    assert_eq!(newest["description"], "env add:NEW_KEY change:A remove:B");
    assert_eq!(newest["actor"], "env-bot");
    let id = newest["id"].as_str().unwrap();
    assert_eq!(
        done.header("location"),
        format!("/ui/apps/shop/releases/{id}")
    );
    assert_eq!(deployments(&app, "shop").len(), 1, "not promoted");
    let env = expect_status(app.get("/apps/shop/env").await, 200).await["env"].clone();
    assert_eq!(env, json!({ "A": "changed-value", "NEW_KEY": "new-value" }));

    // An env is larger than the console's other forms: a 40 KB edit is read.
    let large = "v".repeat(20 * 1024);
    let preview = edit(&browser, &[("key-2", "LARGE"), ("value-2", &large)], "save").await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_eq!(confirm(&browser, &preview).await.status, 303);
}

async fn apply_changes_creates_and_promotes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (active, deployer) = shop(&app).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    // Renaming B to C keeps its value without showing it.
    let preview = edit(&browser, &[("key-1", "C")], "apply").await;
    assert!(
        preview.body.contains("env add:C remove:B"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("and promoted"));
    assert!(
        !preview.body.contains("two-value"),
        "a renamed value stays hidden"
    );
    let done = confirm(&browser, &preview).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let all = deployments(&app, "shop");
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].previous_release.as_ref().unwrap().to_string(),
        active
    );
    assert_eq!(
        done.header("location"),
        format!("/ui/apps/shop/deployments/{}", all[0].id)
    );
    let releases = app.releases("shop").await;
    assert_eq!(releases[0]["id"], all[0].release.to_string());
    assert_eq!(releases[0]["description"], "env add:C remove:B");
    let env = expect_status(app.get("/apps/shop/env").await, 200).await["env"].clone();
    assert_eq!(env, json!({ "A": "one-value", "C": "two-value" }));
}

async fn an_unchanged_env_creates_nothing_and_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, deployer) = shop(&app).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    // The same value typed again is no change either.
    let preview = edit(&browser, &[("value-0", "one-value")], "apply").await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Nothing changed"), "{}", preview.body);
    assert!(!preview.body.contains("/env/confirm"), "nothing to confirm");
    // A confirmation of no change, forged or stale, creates nothing.
    let csrf = browser.get("/ui/apps/shop/env").await.csrf();
    let base = app.releases("shop").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [("csrf", csrf.as_str()), ("base", &base), ("intent", "save")];
    let page = browser.post("/ui/apps/shop/env/confirm", &form).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("no release was created"));
    assert_eq!(app.releases("shop").await.len(), 2);
    assert_eq!(deployments(&app, "shop").len(), 1);
}

async fn csrf_and_read_tokens_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, deployer) = shop(&app).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let preview = edit(&browser, &[("value-0", "x")], "save").await;
    let mut forged = hidden_fields(&preview);
    forged.retain(|(name, _)| name != "csrf");
    forged.push(("csrf".into(), "0badc0de".into()));
    let forged: Vec<(&str, &str)> = forged
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for path in ["/ui/apps/shop/env", "/ui/apps/shop/env/confirm"] {
        let page = browser.post(path, &forged).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains("CSRF"));
    }
    // A stale preview (the env changed since) is a conflict.
    expect_status(
        app.patch_env("shop", json!({ "set": { "Z": "1" } })).await,
        201,
    )
    .await;
    assert_eq!(confirm(&browser, &preview).await.status, 409);
    assert_eq!(app.releases("shop").await.len(), 3, "only the API's change");

    let reader = app.create_token("viewer", "read", &["shop"]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let csrf = browser.get("/ui").await.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("intent", "apply"),
        ("set-key-0", "A"),
        ("set-value-0", "x"),
    ];
    for path in ["/ui/apps/shop/env", "/ui/apps/shop/env/confirm"] {
        assert_eq!(browser.post(path, &form).await.status, 403, "{path}");
    }
    assert_eq!(app.releases("shop").await.len(), 3);
}

async fn values_and_bad_keys_are_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, deployer) = shop(&app).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let evil = "<script>alert(1)</script>";
    let preview = edit(&browser, &[("key-2", "<script>"), ("value-2", "v")], "save").await;
    assert_eq!(preview.status, 422, "{}", preview.body);
    assert!(!preview.body.contains("<script>"), "{}", preview.body);
    let preview = edit(&browser, &[("value-0", evil)], "save").await;
    assert!(!preview.body.contains(evil) && preview.body.contains("&#60;script&#62;"));
    assert_eq!(confirm(&browser, &preview).await.status, 303);
    let page = browser.get("/ui/apps/shop/env?reveal=1").await;
    assert!(!page.body.contains(evil));
    assert!(page
        .body
        .contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\""));
}

async fn a_latest_release_that_is_not_active_is_named_with_its_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let (active, deployer) = shop(&app).await;
    // A change that was never promoted (or rolled back): the latest release.
    let body = json!({ "set": { "BROKEN": "1", "A": "other" } });
    let latest = expect_status(app.patch_env("shop", body).await, 201).await["release"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let page = browser.get("/ui/apps/shop/env").await;
    assert!(page.body.contains(&format!(
        "The latest release {latest} is not the active one ({active})"
    )));
    assert!(
        page.body.contains("in: <code>A</code> <code>BROKEN</code>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("other<") && !page.body.contains("\"other\""));
    let rollback = format!("/ui/apps/shop/releases/{active}/rollback");
    assert!(page.body.contains(&format!("action=\"{rollback}\"")));
    let started = browser.post(&rollback, &[("csrf", &page.csrf())]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let newest = &app.releases("shop").await[0];
    assert_eq!(newest["description"], format!("rollback to {active}"));
    assert_eq!(
        deployments(&app, "shop")[0].release.to_string(),
        newest["id"]
    );
    let env = expect_status(app.get("/apps/shop/env").await, 200).await["env"].clone();
    assert_eq!(env, json!({ "A": "one-value", "B": "two-value" }));
}
