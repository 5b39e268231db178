//! Webhooks across real processes: `slipway server api` and `server worker`
//! over PostgreSQL and Redis, delivering to a real HTTP receiver.

use crate::rollouts::Cluster;
use crate::support::Api;
use serde_json::{json, Value};
use slipway_core::testing::{Receiver, Reply, Wait};
use std::time::Duration;

/// Polls the webhook's delivery log until every delivery is delivered.
async fn wait_delivered(api: &Api, webhook: &str, count: usize, within: Duration) -> Vec<Value> {
    let path = format!("/webhooks/{webhook}/deliveries");
    let log = Wait::new(format!("{count} deliveries delivered"))
        .within(within)
        .every(Duration::from_millis(100))
        .until(
            || api.get(&path),
            |log| {
                let deliveries = log["deliveries"].as_array().unwrap();
                deliveries.len() == count && deliveries.iter().all(|d| d["status"] == "delivered")
            },
        )
        .await;
    log["deliveries"].as_array().unwrap().clone()
}

/// A worker dies holding a delivery (its request in flight), and another
/// event is committed while no worker runs: a new worker delivers both.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_between_commit_and_delivery_loses_nothing() {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Hang]);
    let cluster = Cluster::start();
    let api = &cluster.api;
    let body =
        json!({ "url": receiver.url("/hook"), "kind": "generic", "events": ["app.created"] });
    let (status, created) = api.post("/webhooks", body).await;
    assert_eq!(status, 201, "{created}");
    let webhook = created["id"].as_str().unwrap();

    // A short attempt timeout keeps the dead worker's claim short (timeout + 5 s).
    let worker = cluster.worker_with(&[("SLIPWAY_WEBHOOK_TIMEOUT", "1s")]);
    assert_eq!(api.post("/apps", json!({ "name": "first" })).await.0, 201);
    let first = receiver
        .wait_for(1, Duration::from_secs(20))
        .await
        .remove(0);
    drop(worker); // SIGKILL while the receiver holds the request

    assert_eq!(api.post("/apps", json!({ "name": "second" })).await.0, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.count(), 1, "nothing runs, nothing is sent");

    let _worker = cluster.worker_with(&[("SLIPWAY_WEBHOOK_TIMEOUT", "1s")]);
    let deliveries = wait_delivered(api, webhook, 2, Duration::from_secs(30)).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "one lost attempt, then one each");
    let retried = &requests[1..]
        .iter()
        .find(|r| r.header("webhook-id") == first.header("webhook-id"))
        .expect("the event in flight was sent again");
    assert_eq!(retried.json()["data"]["app"], "first");
    let apps: Vec<String> = requests[1..]
        .iter()
        .map(|r| r.json()["data"]["app"].as_str().unwrap().to_owned())
        .collect();
    assert!(apps.contains(&"second".to_owned()), "{apps:?}");
    let attempts: Vec<i64> = deliveries
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2], "newest first: second, then first");
}

/// A worker with a proxy in its environment still connects to the webhook
/// itself: through a proxy, the proxy would pick the address, past the
/// checks on it.
#[tokio::test(flavor = "multi_thread")]
async fn deliveries_do_not_go_through_a_proxy() {
    let receiver = Receiver::start().await;
    let proxy = Receiver::start().await;
    let cluster = Cluster::start();
    let api = &cluster.api;
    let body = json!({ "url": receiver.url("/hook"), "kind": "generic", "events": ["*"] });
    let (status, created) = api.post("/webhooks", body).await;
    assert_eq!(status, 201, "{created}");
    let proxy_url = proxy.url("");
    let _worker = cluster.worker_with(&[
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
    ]);
    assert_eq!(api.post("/apps", json!({ "name": "shop" })).await.0, 201);
    wait_delivered(
        api,
        created["id"].as_str().unwrap(),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(proxy.count(), 0, "a delivery went through the proxy");
}
