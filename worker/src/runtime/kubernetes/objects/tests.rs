//! The objects of a release, checked field by field: names, labels, the
//! pod template, the probe, the rolling-update percents, and that the env's
//! values appear in the Secret's data and nowhere else.

use super::*;
use k8s_openapi::api::core::v1::Container;
use serde_json::json;
use slipway_core::domain::{Env, Manifest};

const SECRET_VALUE: &str = "s3cr3t-value-never-in-a-label";

fn target(manifest: serde_json::Value) -> Target {
    Target {
        app: AppName::parse("shop").unwrap(),
        release: ReleaseId::parse("RABCDEFGHIJ").unwrap(),
        deployment: None,
        manifest: Manifest::from_json(&manifest).unwrap(),
        env: Env::parse(BTreeMap::from([
            ("DATABASE_URL".to_owned(), SECRET_VALUE.to_owned()),
            ("MODE".to_owned(), "production".to_owned()),
        ]))
        .unwrap(),
        minimum: None,
        maximum: None,
    }
}

fn two_services() -> Target {
    target(json!({ "services": {
        "web": {
            "image": "ghcr.io/acme/web:1.2",
            "command": "bin/web --port $PORT",
            "port": 8000,
            "health": { "path": "/up", "grace": 7, "interval": 3, "timeout": 2 },
            "scale": { "count": 4 },
            "deployment": { "minimum": 25, "maximum": 150 },
            "drain": 20
        },
        "worker": { "image": "ghcr.io/acme/worker:1.2", "scale": { "count": 2 } }
    }}))
}

const TIMING: Timing = Timing {
    deadline_seconds: 600,
    stop_grace: Duration::from_secs(10),
    failure_intervals: 3,
};

fn built(target: &Target) -> Objects {
    build(target, "slipway-", &TIMING).expect("objects")
}

fn web(objects: &Objects) -> &ServiceObjects {
    objects
        .service(&ServiceName::parse("web").unwrap())
        .unwrap()
}

fn worker(objects: &Objects) -> &ServiceObjects {
    objects
        .service(&ServiceName::parse("worker").unwrap())
        .unwrap()
}

fn container(service: &ServiceObjects) -> &Container {
    let spec = service.deployment.spec.as_ref().unwrap();
    &spec.template.spec.as_ref().unwrap().containers[0]
}

fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn names_are_dns_labels_in_the_apps_namespace() {
    let objects = built(&two_services());
    assert_eq!(objects.namespace_name(), "slipway-shop");
    assert_eq!(
        objects.secret.metadata.name.as_deref(),
        Some("env-rabcdefghij")
    );
    let names: Vec<_> = objects.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "worker"]);
    let web = web(&objects);
    assert_eq!(web.deployment.metadata.name.as_deref(), Some("web"));
    assert_eq!(
        web.deployment.metadata.namespace.as_deref(),
        Some("slipway-shop")
    );
    let service = web.service.as_ref().expect("web has a port");
    assert_eq!(service.metadata.name.as_deref(), Some("web"));
    assert!(worker(&objects).service.is_none(), "no port, no Service");
    assert_eq!(
        objects.secret.metadata.namespace.as_deref(),
        Some("slipway-shop")
    );
}

#[test]
fn every_object_is_labelled_for_slipway() {
    let objects = built(&two_services());
    assert_eq!(
        objects.namespace.metadata.labels,
        Some(label_map(&[
            (NAME, "shop"),
            (MANAGED_BY, "slipway"),
            (APP, "shop"),
        ]))
    );
    assert_eq!(
        objects.secret.metadata.labels,
        Some(label_map(&[
            (NAME, "shop"),
            (MANAGED_BY, "slipway"),
            (APP, "shop"),
            (RELEASE, "RABCDEFGHIJ"),
        ]))
    );
    let web_labels = label_map(&[
        (NAME, "web"),
        (MANAGED_BY, "slipway"),
        (APP, "shop"),
        (SERVICE, "web"),
        (RELEASE, "RABCDEFGHIJ"),
    ]);
    let web = web(&objects);
    assert_eq!(web.deployment.metadata.labels.as_ref(), Some(&web_labels));
    let spec = web.deployment.spec.as_ref().unwrap();
    let template_labels = spec.template.metadata.as_ref().unwrap().labels.as_ref();
    assert_eq!(template_labels, Some(&web_labels));
    assert_eq!(
        web.service.as_ref().unwrap().metadata.labels.as_ref(),
        Some(&web_labels)
    );
}

#[test]
fn selectors_hold_the_app_and_service_only() {
    let objects = built(&two_services());
    let web = web(&objects);
    let expected = label_map(&[(APP, "shop"), (SERVICE, "web")]);
    let spec = web.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.selector.match_labels.as_ref(), Some(&expected));
    assert_eq!(spec.selector.match_expressions, None);
    let service_spec = web.service.as_ref().unwrap().spec.as_ref().unwrap();
    assert_eq!(service_spec.selector.as_ref(), Some(&expected));
    let port = &service_spec.ports.as_ref().unwrap()[0];
    assert_eq!(port.port, 8000);
    assert_eq!(port.target_port, Some(IntOrString::Int(8000)));
}

#[test]
fn the_container_runs_the_image_with_the_command_port_and_env() {
    let objects = built(&two_services());
    let web = container(web(&objects));
    assert_eq!(web.name, "web");
    assert_eq!(web.image.as_deref(), Some("ghcr.io/acme/web:1.2"));
    assert_eq!(
        web.command,
        Some(vec![
            "sh".into(),
            "-c".into(),
            "bin/web --port $PORT".into()
        ])
    );
    assert_eq!(web.ports.as_ref().unwrap()[0].container_port, 8000);
    let env = web.env.as_ref().unwrap();
    assert_eq!(env.len(), 1);
    assert_eq!(
        (env[0].name.as_str(), env[0].value.as_deref()),
        ("PORT", Some("8000"))
    );
    let secret_ref = web.env_from.as_ref().unwrap()[0]
        .secret_ref
        .as_ref()
        .unwrap();
    assert_eq!(secret_ref.name, "env-rabcdefghij");

    let worker = container(worker(&objects));
    assert_eq!(worker.command, None, "no command: the image's own");
    assert_eq!(worker.ports, None);
    assert_eq!(worker.env, None);
    assert_eq!(worker.readiness_probe, None, "no port, no probe");
}

#[test]
fn the_readiness_probe_follows_the_health_check() {
    let objects = built(&two_services());
    let probe = container(web(&objects)).readiness_probe.clone().unwrap();
    let http = probe.http_get.unwrap();
    assert_eq!(http.path.as_deref(), Some("/up"));
    assert_eq!(http.port, IntOrString::Int(8000));
    assert_eq!(probe.initial_delay_seconds, Some(7));
    assert_eq!(probe.period_seconds, Some(3));
    assert_eq!(probe.timeout_seconds, Some(2));
    assert_eq!(probe.failure_threshold, Some(3));
}

#[test]
fn scale_strategy_deadline_and_grace() {
    let objects = built(&two_services());
    let spec = web(&objects).deployment.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(4));
    assert_eq!(web(&objects).count, 4);
    let rolling = spec.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("75%".into()))
    );
    assert_eq!(rolling.max_surge, Some(IntOrString::String("50%".into())));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.termination_grace_period_seconds, Some(10 + 20));

    // The default strategy (50 %, 200 %) and drain (30 s).
    let worker = worker(&objects).deployment.spec.clone().unwrap();
    let rolling = worker.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("50%".into()))
    );
    assert_eq!(rolling.max_surge, Some(IntOrString::String("100%".into())));
    let pod = worker.template.spec.unwrap();
    assert_eq!(pod.termination_grace_period_seconds, Some(10 + 30));
}

#[test]
fn the_promotions_overrides_win_over_the_services_strategy() {
    let mut target = two_services();
    target.minimum = Some(100);
    target.maximum = Some(200);
    let objects = built(&target);
    let spec = web(&objects).deployment.spec.clone().unwrap();
    let rolling = spec.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("0%".into()))
    );
    assert_eq!(rolling.max_surge, Some(IntOrString::String("100%".into())));
}

#[test]
fn a_service_without_image_cannot_start() {
    let target = target(json!({ "services": {
        "web": { "command": "python3 -m http.server $PORT", "port": 8000 }
    }}));
    let error = build(&target, "slipway-", &TIMING).expect_err("no image");
    assert_eq!(
        error,
        Stop::Failed(Failure::CannotStart {
            service: ServiceName::parse("web").unwrap(),
            why: "has no image; the Kubernetes runtime runs `image`".into(),
        })
    );
}

#[test]
fn env_values_are_in_the_secret_data_only() {
    let objects = built(&two_services());
    assert_eq!(objects.secret.immutable, Some(true));
    let data = objects.secret.data.clone().unwrap();
    assert_eq!(data["DATABASE_URL"].0, SECRET_VALUE.as_bytes());
    assert_eq!(data["MODE"].0, b"production");
    assert_eq!(data.len(), 2);

    let mut everything = vec![
        serde_json::to_string(&objects.namespace).unwrap(),
        serde_json::to_string(&objects.secret.metadata).unwrap(),
    ];
    for service in &objects.services {
        everything.push(serde_json::to_string(&service.deployment).unwrap());
        everything.push(serde_json::to_string(&service.service).unwrap());
    }
    for text in everything {
        assert!(!text.contains(SECRET_VALUE), "{text}");
        assert!(!text.contains("production"), "{text}");
    }
}

#[test]
fn selectors_select_what_the_labels_say() {
    let app = AppName::parse("shop").unwrap();
    let release = ReleaseId::parse("RABCDEFGHIJ").unwrap();
    assert_eq!(
        app_selector(&app),
        "app.kubernetes.io/managed-by=slipway,slipway.dev/app=shop"
    );
    assert_eq!(
        release_selector(&app, &release),
        "app.kubernetes.io/managed-by=slipway,slipway.dev/app=shop,slipway.dev/release=RABCDEFGHIJ"
    );
    assert_eq!(managed_selector(), "app.kubernetes.io/managed-by=slipway");
}
