//! The stand-in's objects: one global resourceVersion counter, every
//! change kept in order (the whole history, so a watch from any version
//! can be answered), and a signal for watchers that something changed.
//! Deletes cascade as the garbage collector would, at once: to objects
//! whose `ownerReferences` name the deleted one, and to everything in a
//! deleted namespace.

use super::apply;
use super::resources::{ApiError, Resource};
use super::selector::{FieldSelector, LabelSelector};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::sync::watch;

/// `(kind, namespace or "", name)`.
type Key = (String, String, String);

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// As the watch stream spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches replay it; `previous` is the object before a
/// modification, so that a filtered watch can tell an object that stopped
/// matching (seen as DELETED) from one that started (seen as ADDED).
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub event: EventType,
    pub object: Value,
    pub previous: Option<Value>,
}

/// Every object and every change.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    changed: watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            rv: 0,
            objects: BTreeMap::new(),
            history: Vec::new(),
            changed: watch::Sender::new(0),
        }
    }
}

/// The time now, as objects carry it (`2026-01-02T03:04:05Z`).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn key_of(object: &Value) -> Key {
    let meta = &object["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&object["kind"]),
        text(&meta["namespace"]),
        text(&meta["name"]),
    )
}

fn uid() -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Store {
    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// A receiver that wakes up on every change (it carries the new version).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The object `name` of `kind` in `namespace` ("" for cluster-scoped kinds).
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
    }

    /// The objects of `kind`, in `namespace` or everywhere, that match both selectors.
    pub fn list(
        &self,
        kind: &str,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o)
            .filter(|o| labels.matches(o) && fields.matches(o))
            .cloned()
            .collect()
    }

    /// The changes after version `rv`, oldest first.
    pub fn changes_after(&self, rv: u64) -> &[Change] {
        let start = self.history.partition_point(|c| c.rv <= rv);
        &self.history[start..]
    }

    /// Creates `object`: gives it a name from `generateName` if it has none,
    /// and a uid, creationTimestamp, generation and resourceVersion.
    pub fn create(&mut self, mut object: Value) -> Result<Value, ApiError> {
        let resource = resource_of(&object)?;
        let meta = &mut object["metadata"];
        if meta["name"].as_str().is_none_or(str::is_empty) {
            let Some(prefix) = meta["generateName"].as_str() else {
                return Err(ApiError::invalid(
                    "metadata.name: Required value: name or generateName is required",
                ));
            };
            meta["name"] = json!(format!("{prefix}{}", super::random_suffix()));
        }
        if let Some(meta) = meta.as_object_mut().filter(|_| !resource.namespaced) {
            meta.remove("namespace");
        }
        let key = key_of(&object);
        if resource.namespaced {
            if key.1.is_empty() {
                return Err(ApiError::bad_request(
                    "the namespace of the object does not match the namespace on the request",
                ));
            }
            if self.get("Namespace", "", &key.1).is_none() {
                return Err(ApiError::not_found(
                    Resource::by_kind("Namespace").expect("served"),
                    &key.1,
                ));
            }
        }
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource, &key.2));
        }
        apply::default_fields(&mut object, None);
        let meta = &mut object["metadata"];
        meta["uid"] = json!(uid());
        meta["creationTimestamp"] = json!(now());
        meta["generation"] = json!(1);
        Ok(self.commit(key, object, EventType::Added, None))
    }

    /// Writes `object` over the stored one of the same name: fills in
    /// defaults, bumps `generation` when `spec` changed. A write that
    /// changes nothing is not a change (no new version, no event).
    pub fn update(&mut self, mut object: Value) -> Result<Value, ApiError> {
        let resource = resource_of(&object)?;
        let key = key_of(&object);
        let Some(existing) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(resource, &key.2));
        };
        apply::default_fields(&mut object, Some(&existing));
        for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
            object["metadata"][field] = existing["metadata"][field].clone();
        }
        // Only `managedFields` moved (the time of a repeated apply): no change.
        let without_managers = |o: &Value| {
            let mut o = o.clone();
            if let Some(meta) = o["metadata"].as_object_mut() {
                meta.remove("managedFields");
            }
            o
        };
        if without_managers(&object) == without_managers(&existing) {
            return Ok(existing);
        }
        if object.get("spec") != existing.get("spec") {
            let generation = existing["metadata"]["generation"].as_i64().unwrap_or(0);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        Ok(self.commit(key, object, EventType::Modified, Some(existing)))
    }

    /// Deletes the object `name` of `resource` and, at once, what it owns.
    pub fn delete(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = (
            resource.kind.to_owned(),
            namespace.to_owned(),
            name.to_owned(),
        );
        let Some(object) = self.objects.remove(&key) else {
            return Err(ApiError::not_found(resource, name));
        };
        let deleted = self.commit_deletion(object);
        let uid = deleted["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let dependents: Vec<Key> = self
            .objects
            .iter()
            .filter(|((_, ns, _), o)| {
                (resource.kind == "Namespace" && ns == name)
                    || o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for (kind, ns, name) in dependents {
            if let Some(dependent) = Resource::by_kind(&kind) {
                // Already gone when an earlier dependent owned it.
                let _ = self.delete(dependent, &ns, &name);
            }
        }
        Ok(deleted)
    }

    fn commit_deletion(&mut self, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(EventType::Deleted, object.clone(), None);
        object
    }

    fn commit(
        &mut self,
        key: Key,
        mut object: Value,
        event: EventType,
        previous: Option<Value>,
    ) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(key, object.clone());
        self.record(event, object.clone(), previous);
        object
    }

    fn record(&mut self, event: EventType, object: Value, previous: Option<Value>) {
        self.history.push(Change {
            rv: self.rv,
            event,
            object,
            previous,
        });
        self.changed.send_replace(self.rv);
    }
}

fn resource_of(object: &Value) -> Result<Resource, ApiError> {
    let kind = object["kind"].as_str().unwrap_or_default();
    Resource::by_kind(kind)
        .ok_or_else(|| ApiError::bad_request(format!("kind {kind:?} is not served")))
}
