//! Removing things: one release's Deployments and Services (a failed first
//! release), everything Slipway made for a deleted app, then its namespace.

use super::cluster::{not_found, runtime_error, Says};
use super::objects::{self, MANAGED_BY, SLIPWAY};
use super::KubeRuntime;
use crate::runtime::{Limits, RuntimeError, Stop, TornDown};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::api::{DeleteParams, ListParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use slipway_core::domain::{AppName, ReleaseId};
use std::fmt::Debug;

impl KubeRuntime {
    /// Deletes the Deployments and Services of `release` of `app`.
    pub(super) async fn retire_release(
        &self,
        app: &AppName,
        release: &ReleaseId,
        limits: &Limits<'_>,
    ) -> Result<(), Stop> {
        let namespace = self.namespace(app);
        let selector = objects::release_selector(app, release);
        let deployments: Vec<Deployment> = self.list(&namespace, &selector, limits).await?;
        for deployment in &deployments {
            self.delete::<Deployment>(&namespace, &deployment.name_any(), limits)
                .await?;
        }
        let services: Vec<Service> = self.list(&namespace, &selector, limits).await?;
        for service in &services {
            self.delete::<Service>(&namespace, &service.name_any(), limits)
                .await?;
        }
        Ok(())
    }

    /// Deletes every Deployment, Service and Secret Slipway made in the
    /// app's namespace; the pods go with their Deployments, each with the
    /// termination grace its template gives it.
    pub(super) async fn tear_down_app(&self, app: &AppName) -> Result<TornDown, RuntimeError> {
        let namespace = self.namespace(app);
        let selector = objects::managed_selector();
        let stopped = self.delete_all::<Deployment>(&namespace, &selector).await?
            + self.delete_all::<Service>(&namespace, &selector).await?
            + self.delete_all::<Secret>(&namespace, &selector).await?;
        let left = self.pods_of(app).await?.len();
        Ok(TornDown { stopped, left })
    }

    /// Deletes the app's namespace, when Slipway made it (and manages
    /// namespaces at all).
    pub(super) async fn forget_namespace(&self, app: &AppName) -> Result<(), RuntimeError> {
        if !self.config.manage_namespaces {
            return Ok(());
        }
        let name = self.namespace(app);
        let namespaces = self.cluster.everywhere::<Namespace>("get");
        let found = namespaces
            .get_opt(&name)
            .await
            .map_err(|error| runtime_error("reading the namespace", &error, Says::Message))?;
        let Some(namespace) = found else {
            return Ok(());
        };
        if namespace.labels().get(MANAGED_BY).map(String::as_str) != Some(SLIPWAY) {
            tracing::warn!(
                namespace = name,
                "not deleting a namespace Slipway did not make"
            );
            return Ok(());
        }
        let namespaces = self.cluster.everywhere::<Namespace>("delete");
        match namespaces.delete(&name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(error) if not_found(&error) => Ok(()),
            Err(error) => Err(runtime_error(
                "deleting the namespace",
                &error,
                Says::Message,
            )),
        }
    }

    /// Deletes every `K` matching `selector`; answers how many went.
    async fn delete_all<K>(&self, namespace: &str, selector: &str) -> Result<usize, RuntimeError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        let kind = K::kind(&());
        let listed: Api<K> = self.cluster.namespaced(namespace, "list");
        let found = match listed.list(&ListParams::default().labels(selector)).await {
            Ok(list) => list.items,
            Err(error) if not_found(&error) => return Ok(0),
            Err(error) => {
                return Err(runtime_error(
                    &format!("listing {kind}s"),
                    &error,
                    Says::Message,
                ));
            }
        };
        let deleted: Api<K> = self.cluster.namespaced(namespace, "delete");
        let mut count = 0;
        for object in found {
            let name = object.name_any();
            match deleted.delete(&name, &DeleteParams::background()).await {
                Ok(_) => count += 1,
                Err(error) if not_found(&error) => {}
                Err(error) => {
                    let what = format!("deleting {kind} {name}");
                    return Err(runtime_error(&what, &error, Says::Message));
                }
            }
        }
        Ok(count)
    }
}
