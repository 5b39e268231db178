//! Looking at what runs: the app's pods as instances (for `ps`, the router
//! and the supervisor), one pod's readiness as a probe, and its log.

use super::cluster::{not_found, runtime_error, Says};
use super::objects::{self, APP, RELEASE, SERVICE};
use super::wait::is_ready;
use super::KubeRuntime;
use crate::runtime::{Instance, LogChunk, Probe, RuntimeError};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, LogParams};
use kube::ResourceExt;
use slipway_core::domain::{AppName, ReleaseId, ServiceName};

impl KubeRuntime {
    /// The app's pods, in its namespace; none when there is no namespace.
    pub(super) async fn pods_of(&self, app: &AppName) -> Result<Vec<Instance>, RuntimeError> {
        let namespace = self.namespace(app);
        let pods = self.cluster.namespaced::<Pod>(&namespace, "list");
        let params = ListParams::default().labels(&objects::app_selector(app));
        match pods.list(&params).await {
            Ok(list) => Ok(list.items.iter().filter_map(instance).collect()),
            Err(error) if not_found(&error) => Ok(Vec::new()),
            Err(error) => Err(runtime_error("listing pods", &error, Says::Message)),
        }
    }

    /// Every app's pods, in one list across namespaces.
    pub(super) async fn every_pod(&self) -> Result<Vec<Instance>, RuntimeError> {
        let pods = self.cluster.everywhere::<Pod>("list");
        let params =
            ListParams::default().labels(&format!("{},{APP}", objects::managed_selector()));
        let list = pods
            .list(&params)
            .await
            .map_err(|error| runtime_error("listing pods", &error, Says::Message))?;
        Ok(list.items.iter().filter_map(instance).collect())
    }

    /// The pod now, as the cluster's own readiness probe sees it.
    pub(super) async fn probe_pod(&self, instance: &Instance) -> Probe {
        let namespace = self.namespace(&instance.app);
        let pods = self.cluster.namespaced::<Pod>(&namespace, "get");
        match pods.get_opt(&instance.id).await {
            Ok(Some(pod)) => probe(&pod),
            Ok(None) => Probe::Gone("is no longer running".into()),
            Err(error) => Probe::Unhealthy(format!(
                "cannot be asked about: {}",
                runtime_error("reading the pod", &error, Says::Message)
            )),
        }
    }

    /// The pod's log after position `from`.
    pub(super) async fn pod_log(
        &self,
        instance: &Instance,
        from: u64,
    ) -> Result<LogChunk, RuntimeError> {
        let namespace = self.namespace(&instance.app);
        let pods = self.cluster.subresource::<Pod>(&namespace, "log", "get");
        let params = LogParams {
            container: Some(instance.service.to_string()),
            ..LogParams::default()
        };
        let text = pods
            .logs(&instance.id, &params)
            .await
            .map_err(|error| runtime_error("reading the pod's log", &error, Says::Message))?;
        Ok(after(text.into_bytes(), from))
    }
}

/// The part of a whole log after `from`; a log shorter than that (the
/// container restarted) is read from its start.
fn after(mut bytes: Vec<u8>, from: u64) -> LogChunk {
    let total = bytes.len() as u64;
    let start = if from <= total { from as usize } else { 0 };
    bytes.drain(..start);
    LogChunk { bytes, next: total }
}

/// A pod of Slipway's as an instance; `None` without its labels.
fn instance(pod: &Pod) -> Option<Instance> {
    let labels = pod.labels();
    let container = pod.spec.as_ref().and_then(|spec| spec.containers.first());
    let port = container
        .and_then(|c| c.ports.as_ref())
        .and_then(|ports| ports.first())
        .and_then(|port| u16::try_from(port.container_port).ok());
    let started = pod
        .status
        .as_ref()
        .and_then(|status| status.start_time.as_ref())
        .or(pod.metadata.creation_timestamp.as_ref());
    Some(Instance {
        id: pod.name_any(),
        app: AppName::parse(labels.get(APP)?).ok()?,
        service: ServiceName::parse(labels.get(SERVICE)?).ok()?,
        release: ReleaseId::parse(labels.get(RELEASE)?).ok()?,
        port,
        started_at: started.map(chrono_time).unwrap_or_else(Utc::now),
        stopping: pod.metadata.deletion_timestamp.is_some(),
    })
}

fn chrono_time(time: &Time) -> DateTime<Utc> {
    let at = time.0;
    DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().unsigned_abs())
        .unwrap_or_default()
}

/// Gone when it ended, healthy when ready, else why not.
fn probe(pod: &Pod) -> Probe {
    let status = pod.status.as_ref();
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Failed") => {
            let why = status
                .and_then(|s| s.reason.clone().or(s.message.clone()))
                .unwrap_or_else(|| "failed".into());
            return Probe::Gone(why);
        }
        Some("Succeeded") => return Probe::Gone("exited with status 0".into()),
        _ => {}
    }
    if is_ready(pod) {
        return Probe::Healthy;
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Probe::Unhealthy("is being stopped".into());
    }
    let states = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref());
    for state in states {
        if let Some(reason) = state.waiting.as_ref().and_then(|w| w.reason.as_ref()) {
            return Probe::Unhealthy(format!("is waiting: {reason}"));
        }
        if let Some(ended) = &state.terminated {
            let reason = ended.reason.as_deref().unwrap_or("Terminated");
            return Probe::Unhealthy(format!("{reason} (exit code {})", ended.exit_code));
        }
    }
    Probe::Unhealthy("is not ready".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn pod(status: PodStatus) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-5d8f7c9b4-x2k4q".into()),
                labels: Some(BTreeMap::from([
                    (APP.to_owned(), "shop".to_owned()),
                    (SERVICE.to_owned(), "web".to_owned()),
                    (RELEASE.to_owned(), "RABCDEFGHIJ".to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            status: Some(status),
            ..Pod::default()
        }
    }

    fn ready(value: &str) -> PodStatus {
        PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: value.into(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }
    }

    #[test]
    fn a_pod_is_an_instance_by_its_labels() {
        let found = instance(&pod(ready("True"))).expect("labelled");
        assert_eq!(found.id, "web-5d8f7c9b4-x2k4q");
        assert_eq!(found.app.as_str(), "shop");
        assert_eq!(found.service.as_str(), "web");
        assert_eq!(found.release.as_str(), "RABCDEFGHIJ");
        assert!(!found.stopping);
        let mut unlabelled = pod(ready("True"));
        unlabelled.metadata.labels = None;
        assert_eq!(instance(&unlabelled), None);
    }

    #[test]
    fn probes_read_phase_readiness_and_waiting_reasons() {
        assert_eq!(probe(&pod(ready("True"))), Probe::Healthy);
        assert_eq!(
            probe(&pod(ready("False"))),
            Probe::Unhealthy("is not ready".into())
        );
        let mut waiting = ready("False");
        waiting.container_statuses = Some(vec![ContainerStatus {
            name: "web".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    ..ContainerStateWaiting::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]);
        assert_eq!(
            probe(&pod(waiting)),
            Probe::Unhealthy("is waiting: CrashLoopBackOff".into())
        );
        let evicted = PodStatus {
            phase: Some("Failed".into()),
            reason: Some("Evicted".into()),
            ..PodStatus::default()
        };
        assert_eq!(probe(&pod(evicted)), Probe::Gone("Evicted".into()));
    }

    #[test]
    fn a_log_is_read_from_where_the_last_read_ended() {
        let chunk = after(b"one\ntwo\n".to_vec(), 4);
        assert_eq!(chunk.bytes, b"two\n");
        assert_eq!(chunk.next, 8);
        let shorter = after(b"new\n".to_vec(), 8);
        assert_eq!(shorter.bytes, b"new\n", "a restarted container's log");
        assert_eq!(after(b"x".to_vec(), 1).bytes, b"");
    }
}
