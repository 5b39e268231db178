//! The supervisor on the Kubernetes runtime: between deployments it reports
//! the active release's pods as the app's processes (`slipway ps`) and ships
//! what they wrote (`slipway logs`); the cluster restarts pods itself.

use crate::engine_stage::{Stage, GOOD};
use crate::support::app;
use serde_json::json;
use slipway_core::domain::{DeploymentStatus, ProcessStatus};
use slipway_core::store::LogQuery;
use slipway_core::testing::wait_until;
use slipway_worker::rollout::SuperviseConfig;
use std::time::Duration;

#[tokio::test]
async fn pods_are_reported_as_processes_and_their_logs_shipped() {
    let stage = Stage::start().await;
    let release =
        stage.release(json!({ "web": { "image": GOOD, "port": 8000, "scale": { "count": 2 } } }));
    let deployment = stage.deploy(&release).await;
    assert_eq!(
        deployment.status,
        DeploymentStatus::Succeeded,
        "{deployment:?}"
    );
    let pods = stage.kit.names("Pod");
    assert_eq!(pods.len(), 2, "{pods:?}");
    let store = &stage.store;

    let config = SuperviseConfig {
        every: Duration::from_millis(50),
        ..SuperviseConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = stage.engine.supervise(config, async {
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
