//! The rollout engine on the Kubernetes runtime: `Engine::drive` over a real
//! database (SQLite) and the API stand-in. A release of two services rolls
//! out, a broken first release is retired, and a rollback brings back a
//! service (its Deployment and its Service) that its successor dropped.

use crate::engine_stage::{pairs, web_and_worker, Stage, BAD, GOOD};
use crate::support::app;
use serde_json::json;
use slipway_core::domain::DeploymentStatus;
use slipway_core::events::EventKind;
use slipway_core::store::PromoteOptions;
use slipway_worker::testing::kube::Behaviour;

#[tokio::test]
async fn a_release_of_two_services_rolls_out() {
    let stage = Stage::start().await;
    let release = stage.release(web_and_worker(GOOD));
    let done = stage.deploy(&release).await;
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.reason, None);
    assert_eq!(stage.active(), Some(release.clone()));

    let kinds = stage.event_kinds(&done.id);
    let states: Vec<_> = kinds
        .iter()
        .copied()
        .filter(|kind| *kind != EventKind::DeploymentProgress)
        .collect();
    assert_eq!(
        states,
        [
            EventKind::DeploymentCreated,
            EventKind::DeploymentStarted,
            EventKind::DeploymentSucceeded
        ]
    );
    assert_eq!(kinds.last(), Some(&EventKind::DeploymentSucceeded));
    // A wave per service, and every pod told healthy, all of this release.
    let steps = stage.progress(&done.id);
    for (service, count) in [("web", 2), ("worker", 1)] {
        let of = |step: &str| {
            steps
                .iter()
                .filter(|s| s["step"] == step && s["service"] == service)
                .filter(|s| s["release"] == release.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(of("wave").len(), 1, "{service}: {steps:#?}");
        let told: usize = of("healthy")
            .iter()
            .map(|s| s["instances"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(told, count, "{service}: {steps:#?}");
        assert!(
            of("healthy").iter().any(|s| s["healthy"] == count),
            "{service}: {steps:#?}"
        );
    }

    assert_eq!(
        stage.deployed(),
        pairs(&[("web", &release), ("worker", &release)])
    );
    let ready = stage.ready_pods(&release);
    assert_eq!(ready.len(), 3, "{ready:?}");
    assert_eq!(ready.iter().filter(|p| p.starts_with("web-")).count(), 2);
    assert_eq!(ready.iter().filter(|p| p.starts_with("worker-")).count(), 1);
    let secret = format!("env-{}", release.as_str().to_ascii_lowercase());
    assert!(
        stage.kit.names("Secret").contains(&secret),
        "{secret} in {:?}",
        stage.kit.names("Secret")
    );
}

#[tokio::test]
async fn a_first_release_that_cannot_pull_its_image_fails_and_is_retired() {
    let stage = Stage::start().await;
    stage.kit.cluster.behave(BAD, Behaviour::PullFails);
    let release = stage.release(web_and_worker(BAD));
    let failed = stage.deploy(&release).await;
    assert_eq!(failed.status, DeploymentStatus::Failed, "{failed:?}");
    let reason = failed.reason.expect("a reason");
    assert!(
        reason.contains(&format!("cannot pull image {BAD}")),
        "{reason}"
    );
    assert!(reason.contains("no previous release"), "{reason}");
    assert!(
        stage.deployed().is_empty(),
        "retired: {:?}",
        stage.deployed()
    );
    assert!(stage.kit.names("Service").is_empty());
}

#[tokio::test]
async fn rolling_back_brings_back_a_service_the_next_release_dropped() {
    let stage = Stage::start().await;
    // `admin` listens on a port: it has a Service as well as a Deployment.
    let first = stage.release(json!({
        "web": { "image": GOOD, "port": 8000, "scale": { "count": 2 } },
        "admin": { "image": GOOD, "port": 9000, "scale": { "count": 1 } }
    }));
    assert_eq!(
        stage.deploy(&first).await.status,
        DeploymentStatus::Succeeded
    );
    let both = pairs(&[("admin", &first), ("web", &first)]);
    assert_eq!(stage.deployed(), both);
    assert_eq!(stage.services(), both);

    let second = stage.release(json!({
        "web": { "image": "ghcr.io/acme/shop:2", "port": 8000, "scale": { "count": 2 } }
    }));
    assert_eq!(
        stage.deploy(&second).await.status,
        DeploymentStatus::Succeeded
    );
    assert_eq!(stage.deployed(), pairs(&[("web", &second)]));
    assert_eq!(stage.services(), pairs(&[("web", &second)]));

    let (back, deployment) = stage
        .store
        .rollback(&app(), &first, &PromoteOptions::default(), "tester")
        .expect("a rollback release");
    let done = stage.drive(deployment).await;
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{done:?}");
    let both = pairs(&[("admin", &back.id), ("web", &back.id)]);
    assert_eq!(stage.deployed(), both);
    assert_eq!(stage.services(), both);
    let admin = &stage.kit.objects("Deployment")["admin"];
    assert_eq!(admin["status"]["availableReplicas"], 1, "{admin}");
    let service = &stage.kit.objects("Service")["admin"];
    assert_eq!(service["spec"]["ports"][0]["port"], 9000, "{service}");
    assert_eq!(
        service["spec"]["selector"]["slipway.dev/service"], "admin",
        "{service}"
    );
}
