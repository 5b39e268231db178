//! The Deployments tab: the history and its paging, Cancel (CSRF, a `read`
//! token), reasons shown as text; the live page in `live.rs`.

mod drive;
mod live;

use crate::support::{deployed_app, deployments, Browser};
use drive::{cancel_requested, escaped, fail, run, start, Stream};
use reqwest::Method;
use serde_json::json;
use slipway_api::testing::spawn_app;
use slipway_core::domain::DeploymentStatus;
use slipway_core::store::Backend;

crate::on_both_backends!(
    the_history_lists_deployments_newest_first_and_pages,
    cancel_from_the_page_asks_the_worker_to_stop,
    a_read_token_sees_no_cancel_and_cannot_forge_one,
    reasons_are_escaped_on_every_page_and_in_the_stream,
);

async fn the_history_lists_deployments_newest_first_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = deployed_app(&app, "shop", json!({})).await;
    let deployer = app.create_token("release-bot", "deploy", &["shop"]).await;
    let (second, failed) = start(&app, "shop", Some(&deployer)).await;
    fail(&app, &failed, "web: exited with status 1").await;
    let (third, pending) = start(&app, "shop", Some(&deployer)).await;
    let ids: Vec<String> = deployments(&app, "shop")
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], pending.to_string());

    let reader = app.create_token("viewer", "read", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let page = browser.get("/ui/apps/shop/releases").await;
    assert!(
        page.body
            .contains("href=\"/ui/apps/shop/deployments\">Deployments</a>"),
        "the app's tabs: {}",
        page.body
    );
    let page = browser.get("/ui/apps/shop/deployments").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-security-policy")
        .contains("script-src 'self'"));
    assert_eq!(page.header("cache-control"), "no-store");
    for header in [
        "ID", "STATUS", "RELEASE", "PREVIOUS", "WHO", "REASON", "STARTED", "DURATION",
    ] {
        assert!(
            page.body.contains(&format!("<th>{header}</th>")),
            "{header}"
        );
    }
    let at = |id: &String| page.body.find(id.as_str()).expect("listed");
    assert!(
        at(&ids[0]) < at(&ids[1]) && at(&ids[1]) < at(&ids[2]),
        "newest first"
    );
    for marked in [
        "status-busy\">pending</td>",
        "status-bad\">failed</td>",
        "status-ok\">succeeded</td>",
    ] {
        assert!(page.body.contains(marked), "{marked}: {}", page.body);
    }
    assert!(
        page.body.contains("web: exited with status 1"),
        "the reason"
    );
    assert!(page.body.contains("release-bot"), "who");
    // The failed one went from the first release to the second.
    let row = &page.body[at(&ids[1])..at(&ids[2])];
    assert!(row.contains(&format!(">{second}</a>")), "{row}");
    assert!(row.contains(&format!(">{first}</a>")), "previous: {row}");
    assert!(page.body.contains(&format!(">{third}</a>")));
    assert!(!page.body.contains("Older"), "one page");

    let page = browser.get("/ui/apps/shop/deployments?limit=2").await;
    assert!(page.body.contains(&ids[0]) && page.body.contains(&ids[1]));
    assert!(!page.body.contains(&ids[2]));
    let older = format!("/ui/apps/shop/deployments?before={}", ids[1]);
    assert!(
        page.body.contains(&format!("href=\"{older}\"")),
        "{}",
        page.body
    );
    let page = browser.get(&older).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&ids[2]) && !page.body.contains(&ids[1]));
    assert!(page.body.contains("Newest"));

    for (path, status) in [
        ("/ui/apps/shop/deployments?limit=1000", 400),
        ("/ui/apps/shop/deployments?before=bad", 400),
        ("/ui/apps/nope/deployments", 404),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""), "{path}");
    }
    // Signed out, the tab sends the browser to sign in.
    let page = Browser::new(&app).get("/ui/apps/shop/deployments").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/ui/signin");
}

async fn cancel_from_the_page_asks_the_worker_to_stop(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    run(&app, &id).await;
    let deployer = app.create_token("release-bot", "deploy", &["shop"]).await;
    let (browser, _) = Browser::signed_in(&app, &deployer).await;
    let path = format!("/ui/apps/shop/deployments/{id}");
    let cancel = format!("{path}/cancel");

    let page = browser.get(&path).await;
    assert!(
        page.body.contains(&format!("action=\"{cancel}\"")),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    // Without this session's CSRF value nothing happens.
    for form in [vec![], vec![("csrf", "0badc0de")]] {
        let page = browser.post(&cancel, &form).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("CSRF"));
    }
    assert!(!cancel_requested(&app, &id));

    let page = browser.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), path);
    assert!(cancel_requested(&app, &id), "the store has it");
    let page = browser.get(&path).await;
    assert!(page.body.contains("(cancel asked)"), "{}", page.body);
    assert!(
        page.body.contains("cancel asked by release-bot"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&format!("action=\"{cancel}\"")),
        "asked once"
    );

    // A final deployment cannot be cancelled: a page says why.
    let finished = deployments(&app, "shop")[1].clone();
    assert_eq!(finished.status, DeploymentStatus::Succeeded);
    let path = format!("/ui/apps/shop/deployments/{}/cancel", finished.id);
    let page = browser.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert!(!cancel_requested(&app, &finished.id));
}

async fn a_read_token_sees_no_cancel_and_cannot_forge_one(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    run(&app, &id).await;
    let reader = app.create_token("viewer", "read", &[]).await;
    let (browser, _) = Browser::signed_in(&app, &reader).await;
    let path = format!("/ui/apps/shop/deployments/{id}");

    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("status-busy\">running"));
    assert!(!page.body.contains("/cancel") && !page.body.contains("Cancel deployment"));
    let mut stream = Stream {
        response: browser
            .request(Method::GET, &format!("{path}/events"))
            .send()
            .await
            .unwrap(),
        seen: String::new(),
    };
    let frame = stream.until("\n\n").await;
    assert!(frame.contains("status-busy\">running"), "{frame}");
    assert!(
        !frame.contains("/cancel"),
        "no Cancel in the stream: {frame}"
    );

    let csrf = page.csrf();
    let page = browser
        .post(&format!("{path}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("scope `deploy`"), "{}", page.body);
    assert!(!cancel_requested(&app, &id));
}

async fn reasons_are_escaped_on_every_page_and_in_the_stream(backend: Backend) {
    let app = spawn_app(backend).await;
    deployed_app(&app, "shop", json!({})).await;
    let (_, id) = start(&app, "shop", None).await;
    let reason = "<script>alert(1)</script>";
    fail(&app, &id, reason).await;
    let (browser, _) = Browser::signed_in(&app, &app.token).await;
    let path = format!("/ui/apps/shop/deployments/{id}");
    for path in ["/ui/apps/shop/deployments".to_owned(), path.clone()] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains(reason), "{path}: {}", page.body);
        assert!(
            escaped(&page.body, reason),
            "{path} shows it as text: {}",
            page.body
        );
    }
    let mut stream = Stream {
        response: browser
            .request(Method::GET, &format!("{path}/events"))
            .send()
            .await
            .unwrap(),
        seen: String::new(),
    };
    let frame = stream.until("event: done").await;
    assert!(!frame.contains(reason), "{frame}");
    assert!(escaped(&frame, reason), "{frame}");
}
