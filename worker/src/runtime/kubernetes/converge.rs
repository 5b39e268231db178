//! Making a release's objects the cluster's: apply them server-side (the
//! same call resumes an interrupted rollout and rolls back), wait for the
//! Deployments' verdicts, then remove what the release no longer has.

use super::cluster::{already_exists, not_found, retrying, Says};
use super::objects::{self, Objects, Timing, FIELD_MANAGER, SERVICE};
use super::KubeRuntime;
use crate::runtime::{in_step, Failure, Limits, StepOf, Stop, Target};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_core::domain::ServiceName;
use slipway_core::events::Progress;
use std::collections::BTreeMap;
use std::fmt::Debug;

impl KubeRuntime {
    /// Applies `target`'s objects, waits until every service's rollout is
    /// complete (or one fails), then deletes services the release dropped
    /// and env Secrets beyond the newest few.
    pub(super) async fn converge_to(
        &self,
        target: &Target,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let objects = self.objects(target, limits)?;
        limits.check()?;
        let span = step_span!("apply objects", target.step(None));
        let generations = in_step(span, self.apply(target, &objects, limits)).await?;
        let span = step_span!("wait for the rollouts", target.step(None));
        in_step(span, self.wait(target, &objects, &generations, limits)).await?;
        let span = step_span!("delete what the release dropped", target.step(None));
        in_step(span, self.clean_up(target, &objects, limits)).await
    }

    /// Re-applies `service` of the active release: the cluster restarts
    /// pods itself, but a Deployment someone deleted has to be made again.
    pub(super) async fn restore_service(
        &self,
        target: &Target,
        service: &ServiceName,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let objects = self.objects(target, limits)?;
        let Some(wanted) = objects.service(service) else {
            return Ok(());
        };
        let restore = async {
            self.apply_base(&objects, limits).await?;
            let namespace = objects.namespace_name();
            if let Some(object) = &wanted.service {
                self.apply_one::<Service>(namespace, object, limits).await?;
            }
            self.apply_one::<Deployment>(namespace, &wanted.deployment, limits)
                .await?;
            Ok(())
        };
        in_step(step_span!("restore", target.step(Some(service))), restore).await
    }

    /// The objects of `target`, with the times of these limits.
    fn objects(&self, target: &Target, limits: &Limits<'_>) -> Result<Objects, Stop> {
        let deadline_seconds = match limits.expired {
            Failure::Deadline { seconds }
            | Failure::RollbackTimeout { seconds }
            | Failure::StartTimeout { seconds } => seconds,
            _ => (limits.deadline - chrono::Utc::now()).num_seconds(),
        };
        let timing = Timing {
            deadline_seconds,
            stop_grace: limits.pace.stop_grace,
            failure_intervals: limits.pace.failure_intervals,
        };
        objects::build(target, &self.config.namespace_prefix, &timing)
    }

    /// Applies everything; answers each Deployment's generation as applied,
    /// so that the watch can tell its own change from an older state.
    async fn apply(
        &self,
        target: &Target,
        objects: &Objects,
        limits: &Limits<'_>,
    ) -> Result<BTreeMap<ServiceName, i64>, Stop> {
        self.apply_base(objects, limits).await?;
        let namespace = objects.namespace_name();
        for service in objects.services.iter().filter_map(|s| s.service.as_ref()) {
            self.apply_one::<Service>(namespace, service, limits)
                .await?;
        }
        let mut generations = BTreeMap::new();
        for service in &objects.services {
            let applied = self
                .apply_one::<Deployment>(namespace, &service.deployment, limits)
                .await?;
            generations.insert(
                service.name.clone(),
                applied.metadata.generation.unwrap_or(0),
            );
            limits.progress(|| Progress::Wave {
                service: service.name.clone(),
                release: target.release.clone(),
                instances: service.count,
                count: service.count,
            });
        }
        Ok(generations)
    }

    /// The namespace and the release's env Secret. The Secret is immutable:
    /// one that exists already has the same content, so 409 is fine.
    async fn apply_base(&self, objects: &Objects, limits: &Limits<'_>) -> Result<(), Stop> {
        let name = objects.namespace_name();
        if self.config.manage_namespaces {
            let namespaces = self.cluster.everywhere::<Namespace>("patch");
            let what = format!("applying Namespace {name}");
            let (params, patch) = (apply_params(), Patch::Apply(&objects.namespace));
            retrying(limits, &what, Says::Message, || {
                namespaces.patch(name, &params, &patch)
            })
            .await?;
        }

        let secrets = &self.cluster.namespaced::<Secret>(name, "create");
        let secret = &objects.secret;
        let what = format!("creating Secret {}", secret.name_any());
        retrying(limits, &what, Says::ReasonOnly, || async move {
            match secrets.create(&PostParams::default(), secret).await {
                Err(error) if already_exists(&error) => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }

    /// Applies one namespaced object; answers it as the cluster has it now.
    async fn apply_one<K>(
        &self,
        namespace: &str,
        object: &K,
        limits: &Limits<'_>,
    ) -> Result<K, Stop>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + Serialize + DeserializeOwned,
    {
        let api: Api<K> = self.cluster.namespaced(namespace, "patch");
        let name = object.name_any();
        let what = format!("applying {} {name}", K::kind(&()));
        let (params, patch) = (apply_params(), Patch::Apply(object));
        retrying(limits, &what, Says::Message, || {
            api.patch(&name, &params, &patch)
        })
        .await
    }

    /// After success: deletes the Deployments and Services of services the
    /// manifest no longer has, and env Secrets beyond the newest
    /// `keep_secrets` (never the target's own).
    async fn clean_up(
        &self,
        target: &Target,
        objects: &Objects,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let namespace = objects.namespace_name();
        let selector = objects::app_selector(&target.app);
        let deployments: Vec<Deployment> = self.list(namespace, &selector, limits).await?;
        for deployment in deployments.iter().filter(|d| dropped(*d, objects)) {
            self.delete::<Deployment>(namespace, &deployment.name_any(), limits)
                .await?;
        }
        let services: Vec<Service> = self.list(namespace, &selector, limits).await?;
        for service in services.iter().filter(|s| dropped(*s, objects)) {
            self.delete::<Service>(namespace, &service.name_any(), limits)
                .await?;
        }

        let own = objects::secret_name(&target.release);
        let secrets: Vec<Secret> = self.list(namespace, &selector, limits).await?;
        for name in secrets_to_delete(secrets, &own, self.config.keep_secrets) {
            self.delete::<Secret>(namespace, &name, limits).await?;
        }
        Ok(())
    }

    /// Lists `K` with `selector` in `namespace` (within the limits).
    pub(super) async fn list<K>(
        &self,
        namespace: &str,
        selector: &str,
        limits: &Limits<'_>,
    ) -> Result<Vec<K>, Stop>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        let api: Api<K> = self.cluster.namespaced(namespace, "list");
        let what = format!("listing {} of {namespace}", K::plural(&()));
        let params = ListParams::default().labels(selector);
        let list = retrying(limits, &what, Says::Message, || api.list(&params)).await?;
        Ok(list.items)
    }

    /// Deletes one object (within the limits); gone already is fine.
    pub(super) async fn delete<K>(
        &self,
        namespace: &str,
        name: &str,
        limits: &Limits<'_>,
    ) -> Result<(), Stop>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        let api: &Api<K> = &self.cluster.namespaced(namespace, "delete");
        let what = format!("deleting {} {name}", K::kind(&()));
        retrying(limits, &what, Says::Message, || async move {
            match api.delete(name, &DeleteParams::background()).await {
                Err(error) if not_found(&error) => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }
}

/// Server-side apply as `slipway`, taking over fields others set.
fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Whether `object` belongs to a service the release no longer has.
fn dropped<K: ResourceExt>(object: &K, objects: &Objects) -> bool {
    match object.labels().get(SERVICE) {
        Some(service) => !objects.services.iter().any(|s| s.name.as_str() == service),
        None => false,
    }
}

/// The env Secrets to delete: all but the newest `keep` and `own`.
fn secrets_to_delete(mut secrets: Vec<Secret>, own: &str, keep: usize) -> Vec<String> {
    secrets.retain(|s| s.name_any().starts_with("env-"));
    // Newest first; a tie (same second) by name, so every worker agrees.
    secrets.sort_by(|a, b| {
        let at = |s: &Secret| s.metadata.creation_timestamp.clone();
        at(b)
            .cmp(&at(a))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    secrets
        .iter()
        .skip(keep)
        .map(ResourceExt::name_any)
        .filter(|name| name != own)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn secret(name: &str, second: i64) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(Timestamp::from_second(second).unwrap())),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test]
    fn keeps_the_newest_secrets_and_the_targets_own() {
        let secrets = vec![
            secret("env-ra", 1),
            secret("env-rb", 2),
            secret("env-rc", 3),
            secret("env-rd", 4),
            secret("other", 0),
        ];
        assert_eq!(
            secrets_to_delete(secrets.clone(), "env-rd", 2),
            ["env-rb", "env-ra"]
        );
        // The target's Secret is never deleted, however old it is.
        assert_eq!(secrets_to_delete(secrets.clone(), "env-ra", 2), ["env-rb"]);
        assert!(secrets_to_delete(secrets, "env-rd", 5).is_empty());
    }
}
