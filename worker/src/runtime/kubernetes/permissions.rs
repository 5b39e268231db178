//! The Kubernetes API permissions the runtime needs, in one list: every
//! call goes through the runtime's `Cluster` handle, which names the verb and
//! checks it against this list (a call missing from it fails in debug
//! builds and tests). The chart's RBAC is checked against the same list.

/// Some verbs on some resources of one API group, as an RBAC rule grants them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    /// The API group: `""` for the core group, `apps` for Deployments.
    pub group: &'static str,
    /// Resource names in the plural, subresources as `pods/log`.
    pub resources: &'static [&'static str],
    /// RBAC verbs: `get`, `list`, `watch`, `create`, `patch`, `delete`.
    pub verbs: &'static [&'static str],
}

/// Everything the runtime asks of the cluster, sorted by group, then resource.
///
/// Server-side apply is a `patch`, and `create` when the object does not
/// exist yet; watching a kind takes `list` and `watch`.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        group: "",
        resources: &["namespaces"],
        verbs: &["create", "delete", "get", "patch"],
    },
    Permission {
        group: "",
        resources: &["pods"],
        verbs: &["get", "list", "watch"],
    },
    Permission {
        group: "",
        resources: &["pods/log"],
        verbs: &["get"],
    },
    Permission {
        group: "",
        resources: &["secrets"],
        verbs: &["create", "delete", "list"],
    },
    Permission {
        group: "",
        resources: &["services"],
        verbs: &["create", "delete", "list", "patch"],
    },
    Permission {
        group: "apps",
        resources: &["deployments"],
        verbs: &["create", "delete", "list", "patch", "watch"],
    },
    Permission {
        group: "apps",
        resources: &["replicasets"],
        verbs: &["list", "watch"],
    },
];

/// Whether [`PERMISSIONS`] grants `verb` on `resource` (`pods/log` for a
/// subresource) of `group`.
pub fn allows(group: &str, resource: &str, verb: &str) -> bool {
    PERMISSIONS
        .iter()
        .any(|p| p.group == group && p.resources.contains(&resource) && p.verbs.contains(&verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RBAC_VERBS: &[&str] = &[
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];

    fn sorted_and_unique(items: &[&str]) -> bool {
        items.windows(2).all(|pair| pair[0] < pair[1])
    }

    /// One rule per (group, resource), in order, each with its verbs in
    /// order and once: the chart's RBAC is compared with this list as text.
    #[test]
    fn the_list_is_sorted_and_has_no_duplicates() {
        let keys: Vec<(&str, &str)> = PERMISSIONS
            .iter()
            .flat_map(|p| p.resources.iter().map(move |r| (p.group, *r)))
            .collect();
        assert!(
            keys.windows(2).all(|pair| pair[0] < pair[1]),
            "{keys:?} is not sorted or has a resource twice"
        );
        for permission in PERMISSIONS {
            assert!(!permission.resources.is_empty(), "{permission:?}");
            assert!(!permission.verbs.is_empty(), "{permission:?}");
            assert!(sorted_and_unique(permission.verbs), "{permission:?}");
            for verb in permission.verbs {
                assert!(RBAC_VERBS.contains(verb), "{verb} is not an RBAC verb");
            }
        }
    }

    /// Watching needs both verbs; applying needs `create` for a new object.
    #[test]
    fn watched_kinds_can_be_listed_and_applied_kinds_created() {
        for permission in PERMISSIONS {
            for resource in permission.resources {
                let grants = |verb| allows(permission.group, resource, verb);
                if grants("watch") {
                    assert!(grants("list"), "{resource} is watched but not listed");
                }
                if grants("patch") {
                    assert!(grants("create"), "{resource} is applied but not created");
                }
            }
        }
    }

    #[test]
    fn allows_only_what_is_listed() {
        assert!(allows("apps", "deployments", "patch"));
        assert!(allows("", "pods/log", "get"));
        assert!(!allows("", "pods", "delete"));
        assert!(!allows("apps", "pods", "get"));
        assert!(!allows("", "deployments", "patch"));
        assert!(!allows("", "secrets", "get"));
    }
}
