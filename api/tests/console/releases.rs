//! The Releases tab: the table, paging, Promote and Rollback with their
//! confirmation (keys, never values), CSRF, a `read` token, escaping.

use crate::support::{deployed_app, deployments, succeed, Browser};
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::{expect_status, spawn_app};
use slipway_core::domain::DeploymentStatus;
use slipway_core::store::Backend;

crate::on_both_backends!(
    promote_from_the_releases_tab_creates_the_deployment,
    rollback_makes_a_new_release_and_a_busy_app_says_why,
    csrf_missing_or_wrong_is_refused_and_changes_nothing,
    a_read_token_sees_no_promote_and_cannot_forge_one,
    descriptions_are_escaped,
    releases_are_listed_newest_first_and_paged,
);

/// The app `shop` with an active release (env `A`, `SAME`) and a newer one
/// that adds `SECRET_KEY`, changes `A` and removes `SAME`; returns both ids.
async fn shop_with_a_change(app: &slipway_api::testing::TestApp) -> (String, String) {
    let active = deployed_app(app, "shop", json!({ "A": "one", "SAME": "kept" })).await;
    let body = json!({ "set": { "SECRET_KEY": "hunter2-value", "A": "two" }, "unset": ["SAME"] });
    let changed = expect_status(app.patch_env("shop", body).await, 201).await;
    let newer = changed["release"]["id"].as_str().unwrap().to_owned();
    (active, newer)
}

async fn promote_from_the_releases_tab_creates_the_deployment(backend: Backend) {
    let app = spawn_app(backend).await;
    let (active, newer) = shop_with_a_change(&app).await;
    let deployer = app.create_token("release-bot", "deploy", &["shop"]).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;

    let page = browser.get("/ui/apps/shop/releases").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for header in ["ID", "STATUS", "BUILD", "CREATED", "DESCRIPTION"] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    let promote = format!("/ui/apps/shop/releases/{newer}/promote");
    assert!(page.body.contains(&format!("href=\"{promote}\"")));
    assert!(
        !page.body.contains(&format!("/releases/{active}/promote")),
        "the active release has no Promote"
    );
    assert!(
        page.body.contains("status-ok\">active</td>"),
        "{}",
        page.body
    );

    let confirm = browser.get(&promote).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm
        .body
        .contains(&format!("Against the active release {active}")));
    for line in [
        "<span class=\"add\">add</span> <code>SECRET_KEY</code>",
        "<span class=\"change\">change</span> <code>A</code>",
        "<span class=\"remove\">remove</span> <code>SAME</code>",
    ] {
        assert!(confirm.body.contains(line), "{line}: {}", confirm.body);
    }
    assert!(confirm.body.contains("(unchanged)"), "same build");
    for value in ["hunter2-value", "two", "one", "kept"] {
        assert!(
            !confirm.body.contains(&format!(">{value}<")) && !confirm.body.contains("hunter2"),
            "no env value on the page: {value}"
        );
    }
    assert!(
        deployments(&app, "shop").len() == 1,
        "a GET changes nothing"
    );

    let started = browser.post(&promote, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let all = deployments(&app, "shop");
    assert_eq!(all.len(), 2);
    let deployment = &all[0];
    assert_eq!(deployment.release.to_string(), newer);
    assert_eq!(
        deployment.previous_release.as_ref().unwrap().to_string(),
        active
    );
    assert_eq!(deployment.status, DeploymentStatus::Pending);
    assert_eq!(deployment.actor, "release-bot");
    let location = format!("/ui/apps/shop/deployments/{}", deployment.id);
    assert_eq!(started.header("location"), location);
    // A worker was woken: the first job is the set-up's promotion.
    let mut jobs = app.jobs.lock().await;
    jobs.recv().await.unwrap();
    assert_eq!(jobs.recv().await.unwrap().deployment, deployment.id);
    drop(jobs);

    let page = browser.get(&location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("status-busy\">pending"), "{}", page.body);
    assert!(page.body.contains(&format!(">{newer}</a>")));
    assert!(page.body.contains(&format!(">{active}</a>")), "previous");
    assert!(page.body.contains("release-bot"));
    let page = browser.get("/ui/apps/shop/releases").await;
    assert!(
        page.body.contains("status-busy\">promoting</td>"),
        "{}",
        page.body
    );
    let page = browser.get("/ui").await;
    assert!(
        page.body.contains(&format!(">{active}</a>")),
        "the active release"
    );
    assert!(
        page.body.contains("status-busy\">pending</a>"),
        "{}",
        page.body
    );

    // A deployment that failed says why, and its release is marked.
    fail(
        &app,
        deployment.id.clone(),
        "web: exited with status 1 <early>",
    )
    .await;
    let page = browser.get(&location).await;
    assert!(page.body.contains("status-bad\">failed"), "{}", page.body);
    assert!(
        page.body
            .contains("web: exited with status 1 &#60;early&#62;")
            || page
                .body
                .contains("web: exited with status 1 &lt;early&gt;"),
        "{}",
        page.body
    );
    let page = browser.get("/ui/apps/shop/releases").await;
    assert!(
        page.body.contains("status-bad\">failed</td>"),
        "{}",
        page.body
    );
    let page = browser.get("/ui").await;
    assert!(
        page.body.contains("status-bad\">failed</a>"),
        "{}",
        page.body
    );
}

/// Fails a pending deployment with `reason`, as a worker would.
async fn fail(
    app: &slipway_api::testing::TestApp,
    id: slipway_core::domain::DeploymentId,
    reason: &'static str,
) {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let ttl = chrono::TimeDelta::seconds(30);
        let (_, lease) = store.claim_deployment(&id, "w1", ttl).unwrap().unwrap();
        store
            .transition_deployment(&id, &lease, DeploymentStatus::Running, None)
            .unwrap();
        store
            .transition_deployment(&id, &lease, DeploymentStatus::Failed, Some(reason))
            .unwrap();
    })
    .await
    .unwrap();
}

async fn rollback_makes_a_new_release_and_a_busy_app_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    let (active, newer) = shop_with_a_change(&app).await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let promote = format!("/ui/apps/shop/releases/{newer}/promote");
    let csrf = browser.get(&promote).await.csrf();
    assert_eq!(browser.post(&promote, &[("csrf", &csrf)]).await.status, 303);

    // While that deployment is open, another is refused in words.
    let rollback = format!("/ui/apps/shop/releases/{active}/rollback");
    let page = browser.post(&rollback, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert_eq!(deployments(&app, "shop").len(), 2);

    succeed(&app, deployments(&app, "shop")[0].id.clone()).await;
    let confirm = browser.get(&rollback).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains(&format!("Roll back to {active}")));
    assert!(
        confirm.body.contains("<code>SECRET_KEY</code>"),
        "what goes away"
    );
    let page = browser.post(&rollback, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let latest = &deployments(&app, "shop")[0];
    let releases = app.releases("shop").await;
    assert_eq!(releases[0]["description"], format!("rollback to {active}"));
    assert_eq!(
        releases[0]["id"].as_str().unwrap(),
        latest.release.to_string()
    );
    assert_eq!(latest.previous_release.as_ref().unwrap().to_string(), newer);
}

async fn csrf_missing_or_wrong_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, newer) = shop_with_a_change(&app).await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let real = browser.get("/ui").await.csrf();
    let promote = format!("/ui/apps/shop/releases/{newer}/promote");
    let rollback = format!("/ui/apps/shop/releases/{newer}/rollback");
    let forms: [&[(&str, &str)]; 3] = [&[], &[("csrf", "")], &[("csrf", "0badc0de")]];
    for path in [&promote, &rollback] {
        for form in forms {
            let page = browser.post(path, form).await;
            assert_eq!(page.status, 403, "{path} {form:?}: {}", page.body);
            assert!(page.body.contains("CSRF"), "{}", page.body);
        }
    }
    // Another session's value is wrong here too.
    let (other, _) = Browser::signed_in(&app, &app.token).await;
    let theirs = other.get("/ui").await.csrf();
    assert_ne!(theirs, real);
    assert_eq!(
        browser.post(&promote, &[("csrf", &theirs)]).await.status,
        403
    );
    assert_eq!(deployments(&app, "shop").len(), 1, "nothing started");
    assert_eq!(app.releases("shop").await.len(), 3, "no release made");

    // Sign-out needs it as well: the session lives on.
    assert_eq!(
        browser.post("/ui/signout", &[("csrf", "x")]).await.status,
        403
    );
    assert_eq!(browser.get("/ui").await.status, 200);
}

async fn a_read_token_sees_no_promote_and_cannot_forge_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, newer) = shop_with_a_change(&app).await;
    let reader = app.create_token("viewer", "read", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    for path in [
        "/ui/apps/shop/releases".to_owned(),
        format!("/ui/apps/shop/releases/{newer}"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(&newer), "{path} lists the release");
        for control in ["Promote", "Rollback", "/promote", "/rollback"] {
            assert!(!page.body.contains(control), "{path} offers {control}");
        }
    }
    let csrf = browser.get("/ui").await.csrf();
    for action in ["promote", "rollback"] {
        let path = format!("/ui/apps/shop/releases/{newer}/{action}");
        let page = browser.get(&path).await;
        assert_eq!(page.status, 403, "{}", page.body);
        let page = browser.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("scope `deploy`"), "{}", page.body);
    }
    assert_eq!(deployments(&app, "shop").len(), 1, "no deployment created");
    assert_eq!(app.releases("shop").await.len(), 3, "no release made");
}

async fn descriptions_are_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let build = app.build("shop", json!({})).await["build"]["id"].clone();
    let body = json!({ "build": build, "description": "<script>alert(1)</script>" });
    let made = app
        .send_json(Method::POST, "/apps/shop/releases", &body)
        .await;
    let id = expect_status(made, 201).await["release"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    for path in [
        "/ui/apps/shop/releases".to_owned(),
        format!("/ui/apps/shop/releases/{id}"),
        format!("/ui/apps/shop/releases/{id}/promote"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("<script>alert(1)"),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} shows it as text: {}",
            page.body
        );
    }
}

async fn releases_are_listed_newest_first_and_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_app("shop").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let built = app
            .build("shop", json!({ "description": format!("number {n}") }))
            .await;
        ids.push(built["release"]["id"].as_str().unwrap().to_owned());
    }
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let page = browser.get("/ui/apps/shop/releases").await;
    let at = |id: &String| page.body.find(id.as_str()).expect("listed");
    assert!(
        at(&ids[2]) < at(&ids[1]) && at(&ids[1]) < at(&ids[0]),
        "newest first"
    );
    assert!(!page.body.contains("Older"), "one page");

    let page = browser.get("/ui/apps/shop/releases?limit=2").await;
    assert!(page.body.contains(&ids[2]) && page.body.contains(&ids[1]));
    assert!(!page.body.contains(&ids[0]));
    let older = format!("/ui/apps/shop/releases?before={}", ids[1]);
    assert!(
        page.body.contains(&format!("href=\"{older}\"")),
        "{}",
        page.body
    );
    let page = browser.get(&older).await;
    assert!(page.body.contains(&ids[0]) && !page.body.contains(&ids[1]));
    assert!(page.body.contains("Newest"));

    let page = browser.get("/ui/apps/shop/releases?limit=1000").await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("between 1 and 100"), "{}", page.body);
}
