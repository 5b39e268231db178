//! The Kubernetes API stand-in, through a real `kube::Client` reading its
//! kubeconfig: applies, lists with selectors, watches, the scripted
//! Deployment controller's rollouts and pod behaviours, cascading deletes,
//! errors and logs.

mod behaviours;
mod rollouts;
mod watches;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;
use slipway_core::testing::wait_until;
use slipway_worker::testing::kube::StandIn;
use std::time::Duration;

/// The stand-in, its client and a namespace `ns` made through the API.
async fn cluster() -> (StandIn, kube::Client) {
    let standin = StandIn::start().await;
    let client = standin.client().await;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "ns"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    (standin, client)
}

fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }))
    .unwrap()
}

async fn apply(client: &kube::Client, d: &Deployment) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    let name = d.metadata.name.as_deref().unwrap();
    api.patch(
        name,
        &PatchParams::apply("slipway").force(),
        &Patch::Apply(d),
    )
    .await
    .unwrap()
}

/// kubectl's `rollout status` rule: `Ok(true)` when complete, `Err` when the
/// progress deadline passed.
fn rollout_complete(d: &Deployment) -> Result<bool, String> {
    let status = d.status.clone().unwrap_or_default();
    if d.metadata.generation > status.observed_generation {
        return Ok(false);
    }
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing");
    if progressing.and_then(|c| c.reason.as_deref()) == Some("ProgressDeadlineExceeded") {
        return Err(format!(
            "deployment {:?} exceeded its progress deadline",
            d.metadata.name
        ));
    }
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    Ok(updated >= desired
        && status.replicas.unwrap_or(0) <= updated
        && status.available_replicas.unwrap_or(0) >= updated)
}

async fn wait_for_rollout(client: &kube::Client, name: &str) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ns");
    let what = format!("the rollout of {name} to complete");
    wait_until(
        &what,
        || api.get(name),
        |d| d.as_ref().is_ok_and(|d| rollout_complete(d) == Ok(true)),
    )
    .await
    .unwrap()
}

async fn pods(client: &kube::Client, selector: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "ns");
    api.list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
}

fn waiting_reason(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses[0].state.as_ref()?.waiting.as_ref()?.reason.clone()
}

#[tokio::test]
async fn applying_a_deployment_bumps_its_generation_only_when_the_spec_changes() {
    let (standin, client) = cluster().await;
    // Only the applies change the Deployment.
    standin.pause_controller(true);
    let first = apply(&client, &deployment("web", "web:1", 1)).await;
    assert_eq!(first.metadata.generation, Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = apply(&client, &deployment("web", "web:1", 1)).await;
    assert_eq!(again.metadata.generation, Some(1));
    assert_eq!(again.metadata.uid, first.metadata.uid);
    assert_eq!(
        again.metadata.resource_version, first.metadata.resource_version,
        "no change, no new version"
    );
    let changed = apply(&client, &deployment("web", "web:2", 1)).await;
    assert_eq!(changed.metadata.generation, Some(2));

    let managers: Vec<_> = changed
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|f| f.manager.clone())
        .collect();
    assert_eq!(managers, vec![Some("slipway".to_owned())]);
    let applies: Vec<_> = standin
        .requests()
        .into_iter()
        .filter(|(method, _)| method == "PATCH")
        .collect();
    assert_eq!(applies.len(), 3);
    for (_, path) in applies {
        assert!(
            path.starts_with("/apis/apps/v1/namespaces/ns/deployments/web?"),
            "{path}"
        );
        assert!(
            path.contains("fieldManager=slipway") && path.contains("force=true"),
            "{path}"
        );
    }
    let rv = |d: &Deployment| {
        d.metadata
            .resource_version
            .clone()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&changed) > rv(&first));
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors() {
    let (_standin, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "ns");
    for (name, labels) in [
        ("a", json!({"app": "shop", "tier": "web"})),
        ("b", json!({"app": "shop"})),
        ("c", json!({"app": "blog"})),
    ] {
        let secret: Secret = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": labels}, "stringData": {"k": "v"}}),
        )
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let names = |selector: &str, fields: &str| {
        let params = ListParams::default().labels(selector).fields(fields);
        let secrets = secrets.clone();
        async move {
            let list = secrets.list(&params).await.unwrap();
            list.items
                .into_iter()
                .map(|s| s.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("app=shop", "").await, ["a", "b"]);
    assert_eq!(names("app!=shop", "").await, ["c"]);
    assert_eq!(names("tier", "").await, ["a"]);
    assert_eq!(names("!tier", "").await, ["b", "c"]);
    assert_eq!(names("app=shop,!tier", "").await, ["b"]);
    assert_eq!(names("", "metadata.name=c").await, ["c"]);
    let secret = secrets.get("a").await.unwrap();
    assert_eq!(secret.data.unwrap()["k"].0, b"v");
}

#[tokio::test]
async fn deleting_the_namespace_removes_what_is_in_it() {
    let (standin, client) = cluster().await;
    apply(&client, &deployment("web", "web:1", 2)).await;
    wait_until("pods", || pods(&client, "app=web"), |p| p.len() == 2).await;
    Api::<Namespace>::all(client.clone())
        .delete("ns", &DeleteParams::default())
        .await
        .unwrap();
    for kind in ["Deployment", "ReplicaSet", "Pod", "Namespace"] {
        assert!(standin.objects(kind, None).is_empty(), "{kind}");
    }
    let missing = Api::<Deployment>::namespaced(client.clone(), "ns")
        .get("web")
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn delete_collection_deletes_what_the_label_selector_matches() {
    let (_standin, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "ns");
    for (name, app) in [("a", "shop"), ("b", "blog")] {
        let secret = json!({"metadata": {"name": name, "labels": {"app": app}}});
        let secret: Secret = serde_json::from_value(secret).unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let params = ListParams::default().labels("app=shop");
    secrets
        .delete_collection(&DeleteParams::default(), &params)
        .await
        .unwrap();
    let left = secrets.list(&ListParams::default()).await.unwrap().items;
    let left: Vec<_> = left.into_iter().map(|s| s.metadata.name.unwrap()).collect();
    assert_eq!(left, ["b"]);
}

#[tokio::test]
async fn namespaces_secrets_and_services_are_applied_like_deployments() {
    let (standin, client) = cluster().await;
    let ssa = PatchParams::apply("slipway").force();
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch("other", &ssa, &Patch::Apply(&namespace))
        .await
        .unwrap();
    let phase = namespaces.get("other").await.unwrap().status.unwrap().phase;
    assert_eq!(phase.as_deref(), Some("Active"));

    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "env"}, "stringData": {"A": "1"}});
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "other");
    secrets
        .patch("env", &ssa, &Patch::Apply(&secret))
        .await
        .unwrap();
    assert_eq!(secrets.get("env").await.unwrap().data.unwrap()["A"].0, b"1");

    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    });
    let services: Api<Service> = Api::namespaced(client.clone(), "other");
    let first = services
        .patch("web", &ssa, &Patch::Apply(&service))
        .await
        .unwrap();
    let again = services
        .patch("web", &ssa, &Patch::Apply(&service))
        .await
        .unwrap();
    let ip = |s: &Service| s.spec.as_ref().unwrap().cluster_ip.clone();
    assert!(ip(&first).is_some());
    assert_eq!(ip(&again), ip(&first));

    apply(&client, &deployment("web", "web:1", 2)).await;
    wait_until(
        "pods across namespaces",
        || async {
            Api::<Pod>::all(client.clone())
                .list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
                .items
                .len()
        },
        |n| *n == 2,
    )
    .await;
    assert!(standin
        .requests()
        .iter()
        .any(|(m, p)| m == "GET" && p.starts_with("/api/v1/pods?")));
}

#[tokio::test]
async fn a_write_of_a_stale_version_is_a_conflict() {
    let (_standin, client) = cluster().await;
    let stale = apply(&client, &deployment("web", "web:1", 1)).await;
    apply(&client, &deployment("web", "web:2", 1)).await;
    let api: Api<Deployment> = Api::namespaced(client, "ns");
    let error = api
        .replace("web", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{error:?}"
    );
    let mut current = api.get("web").await.unwrap();
    current.spec.as_mut().unwrap().replicas = Some(2);
    let replaced = api
        .replace("web", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(3));
}

#[tokio::test]
async fn a_missing_object_is_an_api_error_with_code_404() {
    let (_standin, client) = cluster().await;
    let error = Api::<Pod>::namespaced(client.clone(), "ns")
        .get("nobody")
        .await
        .unwrap_err();
    let kube::Error::Api(status) = error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "pods \"nobody\" not found");
    let gone = Api::<Deployment>::namespaced(client, "ns")
        .delete("nobody", &DeleteParams::default())
        .await;
    assert!(matches!(gone, Err(kube::Error::Api(s)) if s.code == 404));
}

#[tokio::test]
async fn a_ready_pod_has_a_log() {
    let (standin, client) = cluster().await;
    standin.set_ready_after(Duration::from_millis(20));
    apply(&client, &deployment("web", "web:1", 1)).await;
    wait_for_rollout(&client, "web").await;
    let pod = pods(&client, "app=web").await.remove(0);
    let api: Api<Pod> = Api::namespaced(client, "ns");
    let log = api
        .logs(pod.metadata.name.as_deref().unwrap(), &LogParams::default())
        .await
        .unwrap();
    assert_eq!(log, "starting main (web:1)\nlistening\n");
}
