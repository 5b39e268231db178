//! `ps`, `logs` and the supervisor's look: the app's pods as instances,
//! their readiness as probes, their output as log chunks.

use crate::support::{app, web_and_worker, Drive, Kit, ROLLOUT};
use slipway_core::domain::AppName;
use slipway_worker::runtime::{Instance, Probe, Runtime};

const IMAGE: &str = "ghcr.io/acme/shop:1";

async fn converged() -> Kit {
    let kit = Kit::start().await;
    let drive = Drive::default();
    kit.runtime
        .converge(
            &web_and_worker("RAAAAAAAAAA", IMAGE),
            &drive.limits(ROLLOUT),
        )
        .await
        .expect("converged");
    kit
}

fn by_service<'a>(instances: &'a [Instance], service: &str) -> Vec<&'a Instance> {
    instances
        .iter()
        .filter(|i| i.service.as_str() == service)
        .collect()
}

#[tokio::test]
async fn instances_are_the_apps_pods() {
    let kit = converged().await;
    let instances = kit.runtime.instances(&app()).await.expect("instances");
    assert_eq!(instances.len(), 3, "{instances:?}");
    let web = by_service(&instances, "web");
    assert_eq!(web.len(), 2);
    for instance in &instances {
        assert_eq!(instance.app, app());
        assert_eq!(instance.release.as_str(), "RAAAAAAAAAA");
        assert!(!instance.stopping);
        assert!(
            kit.objects("Pod").contains_key(&instance.id),
            "{instance:?}"
        );
    }
    assert_eq!(web[0].port, Some(8000));
    assert_eq!(by_service(&instances, "worker")[0].port, None);

    let everywhere = kit.runtime.every_instance().await.expect("every instance");
    assert_eq!(everywhere.len(), 3);

    let other = AppName::parse("other").unwrap();
    let none = kit
        .runtime
        .instances(&other)
        .await
        .expect("no namespace, no pods");
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_probe_reads_the_pods_readiness() {
    let kit = converged().await;
    let instances = kit.runtime.instances(&app()).await.expect("instances");
    let web = by_service(&instances, "web")[0].clone();
    assert_eq!(kit.runtime.probe(&web, None).await, Probe::Healthy);

    let mut gone = web.clone();
    gone.id = "web-0000000000-zzzzz".into();
    assert_eq!(
        kit.runtime.probe(&gone, None).await,
        Probe::Gone("is no longer running".into())
    );
}

#[tokio::test]
async fn a_log_is_read_on_from_where_it_ended() {
    let kit = converged().await;
    let instances = kit.runtime.instances(&app()).await.expect("instances");
    let web = by_service(&instances, "web")[0].clone();
    let whole = kit.runtime.read_log(&web, 0).await.expect("log");
    assert!(
        !whole.bytes.is_empty(),
        "the stand-in's pods write a line when they start"
    );
    assert_eq!(whole.next, whole.bytes.len() as u64);

    let rest = kit.runtime.read_log(&web, whole.next).await.expect("rest");
    assert!(
        rest.bytes.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&rest.bytes)
    );
    assert_eq!(rest.next, whole.next);
}
