//! A watched kind's objects as the watch has told them so far: what the
//! rollout's verdict is computed from, fed by `kube::runtime::watcher`.

use kube::runtime::watcher::Event;
use kube::ResourceExt;

/// The objects of one kind in one namespace, kept up to date from watch events.
#[derive(Debug)]
pub(super) struct Mirror<K> {
    items: Vec<K>,
    /// Objects of a (re)list not yet complete.
    listing: Vec<K>,
    listed: bool,
}

impl<K> Default for Mirror<K> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            listing: Vec::new(),
            listed: false,
        }
    }
}

impl<K: ResourceExt> Mirror<K> {
    /// Takes one watch event in.
    pub fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Init => self.listing.clear(),
            Event::InitApply(object) => self.listing.push(object),
            Event::InitDone => {
                self.items = std::mem::take(&mut self.listing);
                self.listed = true;
            }
            Event::Apply(object) => {
                let name = object.name_any();
                match self.items.iter_mut().find(|o| o.name_any() == name) {
                    Some(slot) => *slot = object,
                    None => self.items.push(object),
                }
            }
            Event::Delete(object) => {
                let name = object.name_any();
                self.items.retain(|o| o.name_any() != name);
            }
        }
    }

    /// Whether the first list is complete: before, absence means nothing.
    pub fn listed(&self) -> bool {
        self.listed
    }

    /// The objects now.
    pub fn items(&self) -> &[K] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            status: Some(k8s_openapi::api::core::v1::PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
            ..Pod::default()
        }
    }

    fn names(mirror: &Mirror<Pod>) -> Vec<String> {
        mirror.items().iter().map(ResourceExt::name_any).collect()
    }

    #[test]
    fn follows_lists_changes_and_deletions() {
        let mut mirror = Mirror::default();
        mirror.apply(Event::Init);
        mirror.apply(Event::InitApply(pod("a", "Pending")));
        assert!(!mirror.listed());
        assert!(mirror.items().is_empty(), "a list counts once complete");
        mirror.apply(Event::InitDone);
        assert!(mirror.listed());
        assert_eq!(names(&mirror), ["a"]);

        mirror.apply(Event::Apply(pod("a", "Running")));
        mirror.apply(Event::Apply(pod("b", "Pending")));
        assert_eq!(names(&mirror), ["a", "b"]);
        let phase = mirror.items()[0].status.as_ref().unwrap().phase.clone();
        assert_eq!(phase.as_deref(), Some("Running"));

        mirror.apply(Event::Delete(pod("a", "Running")));
        assert_eq!(names(&mirror), ["b"]);

        // A relist replaces everything: what it does not list is gone.
        mirror.apply(Event::Init);
        mirror.apply(Event::InitApply(pod("c", "Pending")));
        assert_eq!(names(&mirror), ["b"]);
        mirror.apply(Event::InitDone);
        assert_eq!(names(&mirror), ["c"]);
    }
}
