//! The supervisor on the Kubernetes runtime: between deployments it reports
//! the active release's pods as the app's processes (`slipway ps`) and ships
//! what they wrote (`slipway logs`); the cluster restarts pods itself.

use crate::support::{app, Kit};
use serde_json::json;
use slipway_core::domain::{DeploymentStatus, Manifest, ProcessStatus};
use slipway_core::store::{Backend, LogQuery, NewBuild, PromoteOptions};
use slipway_core::testing::{wait_until, TestDatabase};
use slipway_worker::rollout::{Engine, EngineConfig, SuperviseConfig};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn pods_are_reported_as_processes_and_their_logs_shipped() {
    let kit = Kit::start().await;
    let db = TestDatabase::new(Backend::Sqlite);
    let store = db.store();
    store.create_app(&app(), None, "tester").expect("the app");
    let runtime = Arc::new(kit.runtime.clone());
    let engine = Engine::new(store.clone(), runtime, EngineConfig::new("w1"));
    let services =
        json!({ "web": { "image": "ghcr.io/acme/shop:1", "port": 8000, "scale": { "count": 2 } } });
    let build = NewBuild {
        manifest: Manifest::from_json(&json!({ "services": services })).unwrap(),
        git: None,
        description: None,
    };
    let release = store.create_build(&app(), &build, "tester").unwrap().1.id;
    let (_, deployment) = store
        .promote(&app(), &release, &PromoteOptions::default(), "tester")
        .unwrap();
    engine.drive(&deployment.id).await.expect("driven");
    let deployment = store.get_deployment(&app(), &deployment.id).unwrap();
    assert_eq!(
        deployment.status,
        DeploymentStatus::Succeeded,
        "{deployment:?}"
    );
    let pods = kit.names("Pod");
    assert_eq!(pods.len(), 2, "{pods:?}");

    let config = SuperviseConfig {
        every: Duration::from_millis(50),
        ..SuperviseConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = engine.supervise(config, async {
        let _ = stopped.await;
    });
    let looked = async {
        let processes = wait_until(
            "the pods reported as running processes",
            || async { store.list_processes(&app()).unwrap() },
            |processes| {
                processes.len() == 2
                    && processes
                        .iter()
                        .all(|p| p.status == ProcessStatus::Running && p.release == release)
            },
        )
        .await;
        let mut ids: Vec<String> = processes.into_iter().map(|p| p.id).collect();
        ids.sort();
        assert_eq!(ids, pods);
        let query = LogQuery {
            service: None,
            since: None,
            after: 0,
            limit: 100,
        };
        let lines = wait_until(
            "the pods' output shipped",
            || async { store.list_logs(&app(), &query).unwrap() },
            |lines| {
                pods.iter()
                    .all(|pod| lines.iter().any(|l| &l.instance == pod))
            },
        )
        .await;
        assert!(
            lines.iter().all(|l| l.service.as_str() == "web"),
            "{lines:?}"
        );
        let _ = stop.send(());
    };
    tokio::join!(supervisor, looked);
}
