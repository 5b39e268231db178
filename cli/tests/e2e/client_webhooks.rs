//! `slipway webhooks` against a real `slipway dev` delivering to a real
//! HTTP receiver: add (the secret shown once), list, deliveries, remove.

use crate::support::dev_client;
use slipway_core::testing::{Receiver, Wait};
use std::future::ready;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_are_added_listed_followed_and_removed() {
    let receiver = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let (_server, client) = dev_client(data.path());

    let url = receiver.url("/hook");
    let out = client
        .run(&[
            "webhooks",
            "add",
            &url,
            "--events",
            "app.*,deployment.failed",
            "-d",
            "ops channel",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Webhook: W") && lines[0].len() == 20,
        "{out}"
    );
    assert!(
        lines[1].starts_with("Secret: ") && lines[1].len() > 20,
        "{out}"
    );
    assert_eq!(lines[2], "Keep the secret now: it is not shown again.");
    let id = lines[0].trim_start_matches("Webhook: ").to_owned();
    let secret = lines[1].trim_start_matches("Secret: ").to_owned();

    let table = client.run(&["webhooks"]).ok();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows[0], "ID           KIND     EVENTS                   APPS  CREATED   URL",
        "{table}"
    );
    assert_eq!(
        rows[1],
        format!("{id}  generic  app.*,deployment.failed  *     just now  {url}"),
        "{table}"
    );
    assert!(
        !table.contains(&secret),
        "the secret is shown once: {table}"
    );
    let listed = client.run(&["webhooks", "--json"]).json();
    assert_eq!(listed["webhooks"][0]["description"], "ops channel");
    assert!(listed.to_string().find(&secret).is_none());

    // An event is delivered and shows in the delivery log.
    client.run(&["apps", "create", "shop"]).ok();
    receiver.wait_for(1, Duration::from_secs(20)).await;
    let log = || {
        ready(
            client
                .run(&["webhooks", "deliveries", &id, "--json"])
                .json(),
        )
    };
    Wait::new("the delivery to be logged as delivered")
        .within(Duration::from_secs(20))
        .every(Duration::from_millis(100))
        .until(log, |log| log["deliveries"][0]["status"] == "delivered")
        .await;
    let table = client.run(&["webhooks", "deliveries", &id]).ok();
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("ID  ")
            && rows[0].ends_with("EVENT        STATUS     ATTEMPTS  CREATED   LAST"),
        "{table}"
    );
    assert!(
        rows[1].contains("  app.created  delivered  1         just now  200"),
        "{table}"
    );

    // Refusals are one line; removing twice is not found.
    let line = client.run(&["webhooks", "add", "not a url"]).error(1);
    assert!(line.contains("url"), "{line}");
    let line = client
        .run(&["webhooks", "add", &url, "--events", "nothing.real"])
        .error(1);
    assert!(line.contains("nothing.real"), "{line}");
    let out = client
        .run(&[
            "webhooks", "add", &url, "--kind", "slack", "--apps", "shop", "--json",
        ])
        .json();
    assert_eq!(out["kind"], "slack");
    assert_eq!(out["apps"], serde_json::json!(["shop"]));

    assert_eq!(
        client.run(&["webhooks", "remove", &id]).ok(),
        format!("Removing {id}... OK\n")
    );
    let line = client.run(&["webhooks", "remove", &id]).error(1);
    assert!(line.contains(&id), "{line}");
    let line = client
        .run(&["webhooks", "deliveries", "WAAAAAAAAAA"])
        .error(1);
    assert!(line.contains("WAAAAAAAAAA"), "{line}");
}
