//! Watches through the real client: kube's `watcher` (list, then watch)
//! and a raw watch from a resourceVersion.

use super::{apply, cluster, deployment, pods, wait_for_rollout};
use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use std::time::Duration;
#[tokio::test]
async fn a_watcher_on_pods_sees_them_added_and_then_modified_within_a_second() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(300));
    let api: Api<Pod> = Api::namespaced(client.clone(), "ns");
    let mut events = watcher(api, watcher::Config::default()).boxed();
    loop {
        match events.next().await.unwrap().unwrap() {
            watcher::Event::InitDone => break,
            watcher::Event::InitApply(pod) => panic!("no pod yet, got {:?}", pod.metadata.name),
            _ => {}
        }
    }
    apply(&client, &deployment("web", "web:1", 1)).await;
    let mut seen = Vec::new();
    while !seen.iter().any(|(_, ready)| *ready) {
        let next = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
        match next.expect("an event within a second").unwrap().unwrap() {
            watcher::Event::Apply(pod) => {
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                seen.push((pod.metadata.name.unwrap(), ready));
            }
            other => panic!("expected an applied pod, got {other:?}"),
        }
    }
    assert!(
        seen.len() >= 2 && !seen[0].1,
        "added not ready, then modified: {seen:?}"
    );
    assert!(seen.iter().all(|(name, _)| *name == seen[0].0), "{seen:?}");
    assert!(standin
        .requests()
        .iter()
        .any(|(_, path)| path.contains("watch=true")));
}

#[tokio::test]
async fn a_watch_resumes_after_a_resource_version_and_sees_deletions_cascade() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(20));
    apply(&client, &deployment("web", "web:1", 2)).await;
    wait_for_rollout(&client, "web").await;
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), "ns");
    let version = rs_api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = rs_api
        .watch(&WatchParams::default().timeout(5), &version)
        .await
        .unwrap()
        .boxed();
    Api::<Deployment>::namespaced(client.clone(), "ns")
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(1), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Deleted(rs) = event else {
        panic!("expected the ReplicaSet deleted, got {event:?}")
    };
    assert!(rs.metadata.name.unwrap().starts_with("web-"));
    assert!(pods(&client, "app=web").await.is_empty());
    assert!(standin.objects("ReplicaSet", Some("ns")).is_empty());
}
