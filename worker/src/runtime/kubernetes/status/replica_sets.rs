//! Which ReplicaSets and Pods belong to a Deployment, and which ReplicaSet
//! it is rolling out to, judged as the Deployment controller does: by
//! selector, owner and pod template.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{Selector, SelectorExt};

/// The annotation the controller writes on a Deployment and its
/// ReplicaSets: which rollout (1, 2, ...) the template belongs to.
const REVISION: &str = "deployment.kubernetes.io/revision";
/// The label the controller adds to a ReplicaSet's template and pods so
/// each ReplicaSet selects only its own pods.
const TEMPLATE_HASH: &str = "pod-template-hash";

/// The objects a Deployment may govern: its namespace and its selector.
pub(super) struct Scope {
    namespace: Option<String>,
    selector: Selector,
}

impl Scope {
    /// None when the Deployment has no usable selector: an empty selector
    /// governs nothing (the controller refuses it), nor does one that
    /// does not parse.
    pub(super) fn of(deployment: &Deployment) -> Option<Self> {
        let selector = deployment.spec.as_ref()?.selector.clone();
        let selector = Selector::try_from(selector).ok()?;
        if selector.selects_all() {
            return None;
        }
        Some(Self {
            namespace: deployment.metadata.namespace.clone(),
            selector,
        })
    }

    /// In the Deployment's namespace (when both say) and carrying the
    /// labels its selector asks for.
    pub(super) fn holds(&self, meta: &ObjectMeta) -> bool {
        let same_namespace = match (&self.namespace, &meta.namespace) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        let labels = meta.labels.clone().unwrap_or_default();
        same_namespace && self.selector.matches(&labels)
    }
}

/// The ReplicaSet the Deployment is rolling out to: owned by it
/// (ownerReferences uid) with the Deployment's
/// `deployment.kubernetes.io/revision` annotation, else the one whose pod
/// template equals the Deployment's (ignoring the `pod-template-hash`
/// label the controller adds); None when the controller has not made it yet.
///
/// The revision is trusted only once the Deployment's spec is observed:
/// right after a patch the annotation still names the previous rollout.
pub fn new_replica_set<'a>(
    deployment: &Deployment,
    replica_sets: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let scope = Scope::of(deployment)?;
    let candidates: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| scope.holds(&rs.metadata) && may_belong(deployment, &rs.metadata))
        .collect();

    if spec_observed(deployment) {
        if let Some(revision) = annotation(&deployment.metadata, REVISION) {
            let by_revision = candidates.iter().copied().find(|rs| {
                owned_by(&rs.metadata, deployment.metadata.uid.as_deref())
                    && annotation(&rs.metadata, REVISION) == Some(revision)
            });
            if by_revision.is_some() {
                return by_revision;
            }
        }
    }

    let template = deployment.spec.as_ref().map(|spec| &spec.template)?;
    // Several equal templates happen after a collision; the controller
    // takes the oldest.
    candidates
        .into_iter()
        .filter(|rs| same_template(template, rs))
        .min_by(|a, b| age_key(a).cmp(&age_key(b)))
}

/// Whether `pod` is one of `replica_set`'s: owned by it when both carry
/// uids, else by its `pod-template-hash` label.
pub(super) fn runs_pod(replica_set: &ReplicaSet, pod: &Pod) -> bool {
    let has_owners = pod
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|owners| !owners.is_empty());
    if let (Some(uid), true) = (replica_set.metadata.uid.as_deref(), has_owners) {
        return owned_by(&pod.metadata, Some(uid));
    }
    let hash = |meta: &ObjectMeta| label(meta, TEMPLATE_HASH).map(str::to_owned);
    let ours = replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.metadata.as_ref())
        .and_then(hash)
        .or_else(|| hash(&replica_set.metadata));
    ours.is_some() && ours == hash(&pod.metadata)
}

/// The controller has seen the Deployment's current spec.
fn spec_observed(deployment: &Deployment) -> bool {
    let observed = deployment
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        .unwrap_or(0);
    observed >= deployment.metadata.generation.unwrap_or(0)
}

/// Owned by the Deployment, or by no controller at all (an orphan the
/// controller would adopt). A Deployment without a uid (not read from a
/// cluster) claims every ReplicaSet its selector holds.
fn may_belong(deployment: &Deployment, meta: &ObjectMeta) -> bool {
    let Some(uid) = deployment.metadata.uid.as_deref() else {
        return true;
    };
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    let controller = owners.iter().find(|owner| owner.controller == Some(true));
    match controller {
        Some(owner) => owner.uid == uid,
        None => owners.is_empty() || owned_by(meta, Some(uid)),
    }
}

/// Oldest first, then by name, so ties come out the same every time.
fn age_key(rs: &ReplicaSet) -> (Option<k8s_openapi::jiff::Timestamp>, Option<&str>) {
    let created = rs.metadata.creation_timestamp.as_ref().map(|time| time.0);
    (created, rs.metadata.name.as_deref())
}

fn owned_by(meta: &ObjectMeta, uid: Option<&str>) -> bool {
    let Some(uid) = uid else {
        return false;
    };
    meta.owner_references
        .iter()
        .flatten()
        .any(|owner| owner.uid == uid)
}

/// The ReplicaSet's template is the Deployment's plus the hash label.
fn same_template(template: &PodTemplateSpec, replica_set: &ReplicaSet) -> bool {
    let Some(theirs) = replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
    else {
        return false;
    };
    without_hash(template) == without_hash(theirs)
}

fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut template = template.clone();
    if let Some(meta) = template.metadata.as_mut() {
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(TEMPLATE_HASH);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
    }
    template
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}
