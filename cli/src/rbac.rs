//! `slipway kubernetes rbac`: the Kubernetes runtime's permissions as the
//! `rules` of a ClusterRole, for clusters set up without the chart (whose
//! RBAC `scripts/check-chart` compares with this output).

use slipway_worker::runtime::kubernetes::permissions::PERMISSIONS;

/// One rule per entry of the runtime's list, in its order, as YAML flow
/// sequences (which are also JSON).
pub fn rules_yaml() -> String {
    let list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut yaml = String::from(
        "# What `slipway server worker` with SLIPWAY_RUNTIME=kubernetes asks of the cluster.\n",
    );
    for permission in PERMISSIONS {
        yaml.push_str(&format!(
            "- apiGroups: {}\n  resources: {}\n  verbs: {}\n",
            list(&[permission.group]),
            list(permission.resources),
            list(permission.verbs)
        ));
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_one_rule() {
        let yaml = rules_yaml();
        assert_eq!(yaml.matches("- apiGroups:").count(), PERMISSIONS.len());
        assert!(yaml.contains("- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n"));
        assert!(yaml.contains("  resources: [\"pods/log\"]\n  verbs: [\"get\"]\n"));
    }
}
