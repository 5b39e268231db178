//! Removing things: a failed first release retired, a deleted app's objects
//! deleted, then its namespace, and only a namespace Slipway made.

use crate::support::{app, release, web_and_worker, Drive, Kit, NAMESPACE, ROLLOUT};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use slipway_core::domain::DeploymentId;
use slipway_worker::runtime::kubernetes::KubeConfig;
use slipway_worker::runtime::{Runtime, TornDown};
use std::time::Duration;

const IMAGE: &str = "ghcr.io/acme/shop:1";

/// The app's namespace, made by someone else than Slipway (no labels).
async fn make_namespace(kit: &Kit) {
    let namespaces: Api<Namespace> = Api::all(kit.cluster.client().await);
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("the namespace");
}

#[tokio::test]
async fn retiring_a_release_deletes_its_deployments_and_services() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.runtime
        .converge(
            &web_and_worker("RAAAAAAAAAA", IMAGE),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("converged");
    kit.runtime
        .retire(
            &app(),
            &release("RBBBBBBBBBB"),
            &DeploymentId::generate(),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("retired another release");
    assert_eq!(
        kit.names("Deployment"),
        ["web", "worker"],
        "not its release"
    );

    kit.runtime
        .retire(
            &app(),
            &release("RAAAAAAAAAA"),
            &DeploymentId::generate(),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("retired");
    assert!(kit.names("Deployment").is_empty());
    assert!(kit.names("Service").is_empty());
}

#[tokio::test]
async fn tearing_down_deletes_the_apps_objects_then_its_namespace() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.runtime
        .converge(
            &web_and_worker("RAAAAAAAAAA", IMAGE),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("converged");

    let torn = kit
        .runtime
        .tear_down(&app(), Duration::from_secs(1))
        .await
        .expect("torn down");
    // Two Deployments, one Service, one Secret; their pods go with them.
    assert_eq!(
        torn,
        TornDown {
            stopped: 4,
            left: 0
        }
    );
    assert!(kit.names("Deployment").is_empty());
    assert!(kit.names("Secret").is_empty());
    assert!(kit.runtime.instances(&app()).await.unwrap().is_empty());

    kit.runtime.forget_app(&app()).await.expect("forgotten");
    let namespaces = kit.cluster.objects("Namespace", None);
    assert!(
        !namespaces
            .iter()
            .any(|n| n["metadata"]["name"] == NAMESPACE),
        "{namespaces:?}"
    );
    // Again, with nothing left: fine.
    kit.runtime.forget_app(&app()).await.expect("again");
    let again = kit.runtime.tear_down(&app(), Duration::from_secs(1)).await;
    assert_eq!(again.expect("nothing to tear down"), TornDown::default());
}

#[tokio::test]
async fn a_namespace_slipway_did_not_make_is_left_alone() {
    let kit = Kit::start().await;
    make_namespace(&kit).await;

    kit.runtime.forget_app(&app()).await.expect("forgotten");
    let left = kit.cluster.objects("Namespace", None);
    assert!(
        left.iter().any(|n| n["metadata"]["name"] == NAMESPACE),
        "{left:?}"
    );
}

/// With namespaced RBAC the worker may not touch Namespace objects: it runs
/// an app in the namespace made for it beforehand and leaves it there when
/// the app goes.
#[tokio::test]
async fn without_managing_namespaces_none_is_touched() {
    let config = KubeConfig {
        manage_namespaces: false,
        ..KubeConfig::default()
    };
    let kit = Kit::with(config).await;
    make_namespace(&kit).await;
    let drive = Drive::default();
    kit.runtime
        .converge(
            &web_and_worker("RAAAAAAAAAA", IMAGE),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("converged");
    assert_eq!(kit.names("Deployment"), ["web", "worker"]);

    kit.runtime
        .tear_down(&app(), Duration::from_secs(1))
        .await
        .expect("torn down");
    kit.runtime.forget_app(&app()).await.expect("forgotten");
    let left = kit.cluster.objects("Namespace", None);
    assert!(
        left.iter().any(|n| n["metadata"]["name"] == NAMESPACE),
        "{left:?}"
    );
    // Neither applied, read nor deleted: no request names the Namespace itself.
    let namespace_path = format!("/api/v1/namespaces/{NAMESPACE}");
    let touched: Vec<_> = kit
        .cluster
        .requests()
        .into_iter()
        .filter(|(_, path)| path.split('?').next() == Some(namespace_path.as_str()))
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
}
