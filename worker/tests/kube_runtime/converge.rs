//! Convergence that succeeds: the objects applied as field manager
//! `slipway`, progress told, nothing changed by applying again, a dropped
//! service deleted and brought back by converging the previous release,
//! old env Secrets pruned.

use crate::support::{
    name, web_and_worker, web_only, Drive, Kit, NAMESPACE, ROLLOUT, SECRET_VALUE,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams};
use slipway_core::domain::ServiceName;
use slipway_core::events::Progress;
use slipway_worker::runtime::kubernetes::KubeConfig;
use slipway_worker::runtime::Runtime;

const IMAGE: &str = "ghcr.io/acme/shop:1";

#[tokio::test]
async fn converge_applies_every_object_and_waits_for_the_rollouts() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    let target = web_and_worker("RAAAAAAAAAA", IMAGE);
    kit.runtime
        .converge(&target, &drive.limits(ROLLOUT))
        .await
        .expect("converged");

    let namespaces = kit.cluster.objects("Namespace", None);
    assert!(
        namespaces.iter().any(|n| name(n) == NAMESPACE),
        "{namespaces:?}"
    );
    assert_eq!(kit.names("Deployment"), ["web", "worker"]);
    assert_eq!(kit.names("Service"), ["web"], "only a service with a port");
    assert_eq!(kit.names("Secret"), ["env-raaaaaaaaaa"]);

    // Done means done: every pod of every service ready.
    for (service, count) in [("web", 2), ("worker", 1)] {
        let deployment = &kit.objects("Deployment")[service];
        assert_eq!(
            deployment["status"]["updatedReplicas"], count,
            "{deployment}"
        );
        assert_eq!(
            deployment["status"]["availableReplicas"], count,
            "{deployment}"
        );
        let managers: Vec<_> = deployment["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .map(|field| field["manager"].as_str().unwrap_or_default())
            .collect();
        assert!(managers.contains(&"slipway"), "{managers:?}");
    }

    // Everything is applied server-side, forced, as `slipway`.
    let patches: Vec<String> = kit
        .cluster
        .requests()
        .into_iter()
        .filter(|(method, _)| method == "PATCH")
        .map(|(_, path)| path)
        .collect();
    assert_eq!(
        patches.len(),
        4,
        "namespace, service, 2 deployments: {patches:?}"
    );
    for path in &patches {
        assert!(path.contains("fieldManager=slipway"), "{path}");
        assert!(path.contains("force=true"), "{path}");
    }

    // Progress: one wave per service, then its pods as they became ready.
    let steps = drive.steps();
    for (service, count) in [("web", 2), ("worker", 1)] {
        let waves = steps.iter().filter(|step| {
            matches!(step, Progress::Wave { service: s, instances, count: c, .. }
                if s.as_str() == service && *instances == count && *c == count)
        });
        assert_eq!(waves.count(), 1, "{steps:?}");
        let ready: Vec<String> = steps
            .iter()
            .filter_map(|step| match step {
                Progress::Healthy {
                    service: s,
                    instances,
                    count: c,
                    release,
                    ..
                } if s.as_str() == service => {
                    assert_eq!(*c, count);
                    assert_eq!(release, &target.release);
                    Some(instances.clone())
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(ready.len(), count, "{service}: {steps:?}");
    }

    // The env's values are in the Secret's data, not in any request line.
    for (_, path) in kit.cluster.requests() {
        assert!(!path.contains("hunter2"), "{path}");
    }
    let secret = &kit.objects("Secret")["env-raaaaaaaaaa"];
    assert_eq!(secret["immutable"], true);
    assert!(!secret["metadata"].to_string().contains(SECRET_VALUE));
}

#[tokio::test]
async fn converging_again_changes_nothing() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    let target = web_and_worker("RAAAAAAAAAA", IMAGE);
    kit.runtime
        .converge(&target, &drive.limits(ROLLOUT))
        .await
        .expect("first");
    let generations = |kit: &Kit| {
        kit.objects("Deployment")
            .into_iter()
            .map(|(name, d)| (name, d["metadata"]["generation"].clone()))
            .collect::<Vec<_>>()
    };
    let replica_sets = kit.names("ReplicaSet");
    let before = generations(&kit);

    kit.runtime
        .converge(&target, &drive.limits(ROLLOUT))
        .await
        .expect("again");
    assert_eq!(generations(&kit), before);
    assert_eq!(kit.names("ReplicaSet"), replica_sets, "no new rollout");
    assert_eq!(kit.names("Secret"), ["env-raaaaaaaaaa"]);
}

#[tokio::test]
async fn a_dropped_service_goes_after_success_and_a_rollback_restores_it() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    let first = web_and_worker("RAAAAAAAAAA", IMAGE);
    kit.runtime
        .converge(&first, &drive.limits(ROLLOUT))
        .await
        .expect("first release");

    let second = web_only("RBBBBBBBBBB", "ghcr.io/acme/shop:2");
    kit.runtime
        .converge(&second, &drive.limits(ROLLOUT))
        .await
        .expect("second release");
    assert_eq!(kit.names("Deployment"), ["web"], "worker is gone");
    let web = &kit.objects("Deployment")["web"];
    assert_eq!(
        web["metadata"]["labels"]["slipway.dev/release"],
        "RBBBBBBBBBB"
    );

    // Rolling back is converging the previous release.
    kit.runtime
        .converge(&first, &drive.limits(ROLLOUT))
        .await
        .expect("rolled back");
    assert_eq!(kit.names("Deployment"), ["web", "worker"]);
    for deployment in kit.objects("Deployment").values() {
        assert_eq!(
            deployment["metadata"]["labels"]["slipway.dev/release"],
            "RAAAAAAAAAA"
        );
        let image = &deployment["spec"]["template"]["spec"]["containers"][0]["image"];
        assert_eq!(image, IMAGE);
    }
    // Both env Secrets are kept for rollbacks.
    assert_eq!(kit.names("Secret"), ["env-raaaaaaaaaa", "env-rbbbbbbbbbb"]);
}

#[tokio::test]
async fn only_the_newest_env_secrets_are_kept() {
    let kit = Kit::with(KubeConfig {
        keep_secrets: 2,
        ..KubeConfig::default()
    })
    .await;
    let drive = Drive::default();
    for release in ["RAAAAAAAAAA", "RBBBBBBBBBB", "RCCCCCCCCCC"] {
        let target = web_only(release, IMAGE);
        kit.runtime
            .converge(&target, &drive.limits(ROLLOUT))
            .await
            .expect(release);
        // Creation times are in seconds: one release per second orders them.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert_eq!(kit.names("Secret"), ["env-rbbbbbbbbbb", "env-rcccccccccc"]);

    // Converging an older release makes its Secret again, newest now.
    let oldest = web_only("RAAAAAAAAAA", IMAGE);
    kit.runtime
        .converge(&oldest, &drive.limits(ROLLOUT))
        .await
        .expect("back to the first");
    assert_eq!(kit.names("Secret"), ["env-raaaaaaaaaa", "env-rcccccccccc"]);
}

#[tokio::test]
async fn restore_brings_back_a_deployment_someone_deleted() {
    let kit = Kit::start().await;
    let drive = Drive::default();
    let target = web_and_worker("RAAAAAAAAAA", IMAGE);
    kit.runtime
        .converge(&target, &drive.limits(ROLLOUT))
        .await
        .expect("converged");

    let deployments: Api<Deployment> = Api::namespaced(kit.cluster.client().await, NAMESPACE);
    deployments
        .delete("worker", &DeleteParams::default())
        .await
        .expect("deleted by someone");
    assert_eq!(kit.names("Deployment"), ["web"]);

    let worker = ServiceName::parse("worker").unwrap();
    kit.runtime
        .restore(&target, &worker, 1, &drive.limits(ROLLOUT))
        .await
        .expect("restored");
    assert_eq!(kit.names("Deployment"), ["web", "worker"]);
    let restored = &kit.objects("Deployment")["worker"];
    assert_eq!(
        restored["metadata"]["labels"]["slipway.dev/release"],
        "RAAAAAAAAAA"
    );
    assert_eq!(restored["spec"]["replicas"], 1);
}
