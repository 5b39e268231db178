//! The scripted Deployment controller: rolling and recreating updates,
//! scaling, a quiet cluster once settled, and pausing.

use super::{apply, cluster, deployment, pods, wait_for_rollout};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams};
use serde_json::{json, Value};
use slipway_core::testing::wait_until;
use slipway_worker::testing::kube::StandIn;
use std::collections::BTreeSet;
use std::time::Duration;

fn with_strategy(mut d: Deployment, strategy: Value) -> Deployment {
    d.spec.as_mut().unwrap().strategy = Some(serde_json::from_value(strategy).unwrap());
    d
}

/// `(template hashes of the active pods, how many, how many ready)`, read
/// from one snapshot of the stand-in's store.
fn census(standin: &StandIn) -> (BTreeSet<String>, usize, usize) {
    let pods: Vec<Value> = standin
        .objects("Pod", Some("ns"))
        .into_iter()
        .filter(|p| p["status"]["phase"] != "Failed")
        .collect();
    let hashes = pods
        .iter()
        .map(|p| {
            p["metadata"]["labels"]["pod-template-hash"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let ready = pods.iter().filter(|p| {
        p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    (hashes, pods.len(), ready.count())
}

/// Watches the pods every 5 ms until `name`'s rollout completes; every census seen.
async fn censuses_until_complete(
    standin: &StandIn,
    client: &kube::Client,
    name: &str,
) -> Vec<(BTreeSet<String>, usize, usize)> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    let mut seen = Vec::new();
    for _ in 0..2000 {
        seen.push(census(standin));
        let d = api.get(name).await.unwrap();
        if super::rollout_complete(&d) == Ok(true) && seen.last().unwrap().0.len() == 1 {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "the rollout of {name} did not complete; last seen {:?}",
        seen.last()
    );
}

#[tokio::test]
async fn a_rollout_replaces_the_old_pods_and_its_status_says_complete() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(50));
    apply(&client, &deployment("web", "web:1", 3)).await;
    let done = wait_for_rollout(&client, "web").await;
    let status = done.status.clone().unwrap();
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.available_replicas
        ),
        (Some(3), Some(3), Some(3))
    );
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    let revision = |d: &Deployment| {
        d.metadata.annotations.clone().unwrap()["deployment.kubernetes.io/revision"].clone()
    };
    assert_eq!(revision(&done), "1");

    apply(&client, &deployment("web", "web:2", 3)).await;
    let done = wait_for_rollout(&client, "web").await;
    assert_eq!(revision(&done), "2");
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), "ns")
        .list(&ListParams::default())
        .await
        .unwrap();
    let scaled: Vec<_> = replica_sets
        .items
        .iter()
        .map(|rs| rs.spec.as_ref().unwrap().replicas)
        .collect();
    assert_eq!(replica_sets.items.len(), 2);
    assert!(
        scaled.contains(&Some(3)) && scaled.contains(&Some(0)),
        "{scaled:?}"
    );
    let new_rs = replica_sets
        .items
        .iter()
        .find(|rs| rs.spec.as_ref().unwrap().replicas == Some(3))
        .unwrap();
    let hash = new_rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(
        new_rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    let pods = wait_until(
        "the old pods to go",
        || pods(&client, "app=web"),
        |p| p.len() == 3,
    )
    .await;
    for pod in &pods {
        assert_eq!(
            pod.metadata.labels.as_ref().unwrap()["pod-template-hash"],
            hash
        );
        assert_eq!(
            pod.spec.as_ref().unwrap().containers[0].image.as_deref(),
            Some("web:2")
        );
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), Some(&owner.uid)),
            ("ReplicaSet", new_rs.metadata.uid.as_ref())
        );
    }
}

#[tokio::test]
async fn a_rolling_update_with_no_unavailability_keeps_every_replica_ready() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(100));
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    apply(
        &client,
        &with_strategy(deployment("web", "web:1", 4), strategy.clone()),
    )
    .await;
    wait_for_rollout(&client, "web").await;
    apply(
        &client,
        &with_strategy(deployment("web", "web:2", 4), strategy),
    )
    .await;
    let seen = censuses_until_complete(&standin, &client, "web").await;
    for (hashes, total, ready) in &seen {
        assert!(
            *ready >= 4 && *total <= 5,
            "{hashes:?}: {total} pods, {ready} ready"
        );
    }
    assert!(
        seen.iter().any(|(hashes, _, _)| hashes.len() == 2),
        "old and new pods side by side"
    );
}

#[tokio::test]
async fn recreate_removes_the_old_pods_before_making_new_ones() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(50));
    apply(
        &client,
        &with_strategy(deployment("web", "web:1", 2), json!({"type": "Recreate"})),
    )
    .await;
    wait_for_rollout(&client, "web").await;
    apply(
        &client,
        &with_strategy(deployment("web", "web:2", 2), json!({"type": "Recreate"})),
    )
    .await;
    let seen = censuses_until_complete(&standin, &client, "web").await;
    assert!(
        seen.iter().all(|(hashes, _, _)| hashes.len() <= 1),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, total, _)| *total == 0),
        "a moment without pods"
    );
}

#[tokio::test]
async fn scaling_without_a_template_change_scales_the_current_replica_set() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(20));
    apply(&client, &deployment("web", "web:1", 3)).await;
    wait_for_rollout(&client, "web").await;
    let scaled = apply(&client, &deployment("web", "web:1", 1)).await;
    assert_eq!(scaled.metadata.generation, Some(2));
    wait_until("one pod", || pods(&client, "app=web"), |p| p.len() == 1).await;
    let done = wait_for_rollout(&client, "web").await;
    assert_eq!(
        done.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );
    let replica_sets = Api::<ReplicaSet>::namespaced(client, "ns")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(replica_sets.items.len(), 1);
    assert_eq!(
        replica_sets.items[0].spec.as_ref().unwrap().replicas,
        Some(1)
    );
}

#[tokio::test]
async fn a_settled_cluster_makes_no_more_changes() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(20));
    apply(&client, &deployment("web", "web:1", 2)).await;
    wait_for_rollout(&client, "web").await;
    let versions = || {
        ["Deployment", "ReplicaSet", "Pod"]
            .iter()
            .flat_map(|kind| standin.objects(kind, Some("ns")))
            .map(|o| {
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let settled = versions();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(versions(), settled);
}

#[tokio::test]
async fn a_paused_controller_leaves_the_cluster_as_it_is() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(20));
    standin.pause_controller(true);
    apply(&client, &deployment("web", "web:1", 1)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(standin.objects("ReplicaSet", Some("ns")).is_empty());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    assert!(
        api.get("web").await.unwrap().status.is_none(),
        "the API answers, nothing reports"
    );
    standin.pause_controller(false);
    wait_for_rollout(&client, "web").await;
}
