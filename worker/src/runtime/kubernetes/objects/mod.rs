//! The Kubernetes objects of a release, built from its [`Target`] alone
//! (pure, no API calls): the app's Namespace, the release's env as an
//! immutable Secret, and per service a Deployment and, when it listens on a
//! port, a Service. Their names and labels are how every other part of the
//! runtime finds them again.

#[cfg(test)]
mod tests;

use crate::runtime::{Failure, Stop, Target};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, Namespace, PodSpec,
    PodTemplateSpec, Probe, Secret, SecretEnvSource, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::ByteString;
use slipway_core::domain::{AppName, ReleaseId, ServiceName};
use std::collections::BTreeMap;
use std::time::Duration;

/// `app.kubernetes.io/name`: the service, or the app for app-wide objects.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/managed-by`, always [`SLIPWAY`].
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const SLIPWAY: &str = "slipway";
pub const APP: &str = "slipway.dev/app";
pub const SERVICE: &str = "slipway.dev/service";
pub const RELEASE: &str = "slipway.dev/release";

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "slipway";

/// The app's namespace: `<prefix><app>` (app names are DNS labels already).
pub fn namespace_name(prefix: &str, app: &AppName) -> String {
    format!("{prefix}{app}")
}

/// The release's env Secret: `env-<release>`, lower-cased as names must be.
pub fn secret_name(release: &ReleaseId) -> String {
    format!("env-{}", release.as_str().to_ascii_lowercase())
}

/// Selects every object Slipway made for `app`.
pub fn app_selector(app: &AppName) -> String {
    format!("{MANAGED_BY}={SLIPWAY},{APP}={app}")
}

/// Selects the objects of one release of `app`.
pub fn release_selector(app: &AppName, release: &ReleaseId) -> String {
    format!("{},{RELEASE}={release}", app_selector(app))
}

/// Everything Slipway made in a namespace.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY}={SLIPWAY}")
}

/// The times the objects carry, from the engine's settings.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The Deployment's `progressDeadlineSeconds`: the rollout's deadline.
    pub deadline_seconds: i64,
    /// From SIGTERM to SIGKILL, before the service's own `drain`.
    pub stop_grace: Duration,
    /// The readiness probe's `failureThreshold`.
    pub failure_intervals: u32,
}

/// The objects of one release of an app.
#[derive(Clone, Debug)]
pub struct Objects {
    pub namespace: Namespace,
    pub secret: Secret,
    /// In the manifest's order (by name).
    pub services: Vec<ServiceObjects>,
}

/// What one service of the manifest becomes.
#[derive(Clone, Debug)]
pub struct ServiceObjects {
    pub name: ServiceName,
    pub deployment: Deployment,
    /// Present when the service has a port.
    pub service: Option<Service>,
    /// The desired number of pods.
    pub count: usize,
}

impl Objects {
    /// The namespace they live in.
    pub fn namespace_name(&self) -> &str {
        self.namespace.metadata.name.as_deref().unwrap_or_default()
    }

    /// The objects of `service`, when the manifest has it.
    pub fn service(&self, service: &ServiceName) -> Option<&ServiceObjects> {
        self.services.iter().find(|s| &s.name == service)
    }
}

/// Builds the objects of `target` in the namespace `<prefix><app>`.
///
/// Fails when a service has no image (this runtime runs images, never a
/// bare command) or the promotion's strategy overrides do not make one.
pub fn build(target: &Target, prefix: &str, timing: &Timing) -> Result<Objects, Stop> {
    let namespace_name = namespace_name(prefix, &target.app);
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name.clone()),
            labels: Some(labels(target, target.app.as_str(), None, false)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let data = target
        .env
        .iter()
        .map(|(key, value)| (key.to_owned(), ByteString(value.as_bytes().to_vec())))
        .collect();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&target.release)),
            namespace: Some(namespace_name.clone()),
            labels: Some(labels(target, target.app.as_str(), None, true)),
            ..ObjectMeta::default()
        },
        data: Some(data),
        immutable: Some(true),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    let services = target
        .manifest
        .services()
        .keys()
        .map(|name| service_objects(target, name, &namespace_name, timing))
        .collect::<Result<_, _>>()?;
    Ok(Objects {
        namespace,
        secret,
        services,
    })
}

/// The labels of an object of `target`; `release` adds `slipway.dev/release`.
fn labels(
    target: &Target,
    name: &str,
    service: Option<&ServiceName>,
    release: bool,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (NAME.to_owned(), name.to_owned()),
        (MANAGED_BY.to_owned(), SLIPWAY.to_owned()),
        (APP.to_owned(), target.app.to_string()),
    ]);
    if let Some(service) = service {
        labels.insert(SERVICE.to_owned(), service.to_string());
    }
    if release {
        labels.insert(RELEASE.to_owned(), target.release.to_string());
    }
    labels
}

/// What selects a service's pods: the app and the service, never the
/// release (a Deployment's selector cannot change).
fn selector(target: &Target, service: &ServiceName) -> BTreeMap<String, String> {
    BTreeMap::from([
        (APP.to_owned(), target.app.to_string()),
        (SERVICE.to_owned(), service.to_string()),
    ])
}

fn service_objects(
    target: &Target,
    name: &ServiceName,
    namespace: &str,
    timing: &Timing,
) -> Result<ServiceObjects, Stop> {
    let spec = &target.manifest.services()[name];
    let image = spec.image().ok_or_else(|| {
        Stop::Failed(Failure::CannotStart {
            service: name.clone(),
            why: "has no image; the Kubernetes runtime runs `image`".into(),
        })
    })?;
    let strategy = target.strategy(spec)?;
    let labels = labels(target, name.as_str(), Some(name), true);
    let metadata = ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let port = spec.port().map(i32::from);
    let readiness_probe = spec.health().zip(port).map(|(health, port)| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(health.path().to_owned()),
            port: IntOrString::Int(port),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(seconds(health.grace())),
        period_seconds: Some(seconds(health.interval())),
        timeout_seconds: Some(seconds(health.timeout())),
        failure_threshold: Some(seconds(timing.failure_intervals.max(1))),
        ..Probe::default()
    });
    let container = Container {
        name: name.to_string(),
        image: Some(image.to_owned()),
        command: spec
            .command()
            .map(|command| vec!["sh".into(), "-c".into(), command.to_owned()]),
        ports: port.map(|port| {
            vec![ContainerPort {
                container_port: port,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            }]
        }),
        env: port.map(|port| {
            vec![EnvVar {
                name: "PORT".into(),
                value: Some(port.to_string()),
                ..EnvVar::default()
            }]
        }),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: secret_name(&target.release),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        readiness_probe,
        ..Container::default()
    };
    let grace = timing.stop_grace.as_secs() + u64::from(spec.drain());
    let deployment = Deployment {
        metadata: metadata.clone(),
        spec: Some(DeploymentSpec {
            replicas: Some(seconds(spec.count())),
            selector: LabelSelector {
                match_labels: Some(selector(target, name)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(percent(100 - u32::from(strategy.minimum()))),
                    max_surge: Some(percent(u32::from(strategy.maximum()) - 100)),
                }),
            }),
            progress_deadline_seconds: Some(
                i32::try_from(timing.deadline_seconds.max(1)).unwrap_or(i32::MAX),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    termination_grace_period_seconds: Some(
                        i64::try_from(grace).unwrap_or(i64::MAX),
                    ),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let service = port.map(|port| Service {
        metadata,
        spec: Some(ServiceSpec {
            selector: Some(selector(target, name)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port,
                target_port: Some(IntOrString::Int(port)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    });
    Ok(ServiceObjects {
        name: name.clone(),
        deployment,
        service,
        count: spec.count() as usize,
    })
}

/// A manifest's small count of seconds (or of anything) as the API's `i32`.
fn seconds(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn percent(value: u32) -> IntOrString {
    IntOrString::String(format!("{value}%"))
}
