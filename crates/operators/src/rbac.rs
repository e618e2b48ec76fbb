//! What an operator may do, declared next to its controller and turned into a least-privilege
//! ClusterRole (kubebuilder's `+kubebuilder:rbac` markers, as values).
//!
//! Resource names come from the Rust types (`K::group`, `K::plural`), so a declaration cannot
//! drift from what the controller actually reads and writes.

use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::Resource;
use std::collections::{BTreeMap, BTreeSet};

/// Verbs that read: what an informer (list + watch) and a GET need.
pub const READ: &[&str] = &["get", "list", "watch"];

/// One grant: verbs on a resource (or subresource) of an API group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource name, optionally `resource/subresource`.
    pub resource: String,
    /// Verbs allowed.
    pub verbs: Vec<String>,
}

impl Access {
    /// `verbs` on kind `K`.
    pub fn on<K: Resource<DynamicType = ()>>(verbs: &[&str]) -> Self {
        Access {
            group: K::group(&()).into_owned(),
            resource: K::plural(&()).into_owned(),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// Reading kind `K` through an informer (get, list, watch).
    pub fn watch<K: Resource<DynamicType = ()>>() -> Self {
        Self::on::<K>(READ)
    }

    /// `verbs` on the `status` subresource of kind `K`.
    pub fn status<K: Resource<DynamicType = ()>>(verbs: &[&str]) -> Self {
        let mut access = Self::on::<K>(verbs);
        access.resource.push_str("/status");
        access
    }
}

/// Policy rules granting every access, verbs merged per (group, resource) and resources with the
/// same verbs merged into one rule; sorted, so the output is stable.
pub fn policy_rules(accesses: &[Access]) -> Vec<PolicyRule> {
    let mut verbs: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for access in accesses {
        verbs
            .entry((access.group.clone(), access.resource.clone()))
            .or_default()
            .extend(access.verbs.iter().cloned());
    }
    let mut rules: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for ((group, resource), verbs) in verbs {
        rules
            .entry((group, verbs.into_iter().collect()))
            .or_default()
            .push(resource);
    }
    rules
        .into_iter()
        .map(|((group, verbs), resources)| PolicyRule {
            api_groups: Some(vec![group]),
            resources: Some(resources),
            verbs,
            ..PolicyRule::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn accesses_merge_into_sorted_rules() {
        let rules = policy_rules(&[
            Access::watch::<Deployment>(),
            Access::on::<Deployment>(&["create", "get"]),
            Access::watch::<ConfigMap>(),
            Access::status::<Deployment>(&["patch"]),
        ]);
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&["".to_string()][..]));
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["configmaps".to_string()][..])
        );
        assert_eq!(rules[1].verbs, ["create", "get", "list", "watch"]);
        assert_eq!(
            rules[1].resources.as_deref(),
            Some(&["deployments".to_string()][..])
        );
        assert_eq!(
            rules[2].resources.as_deref(),
            Some(&["deployments/status".to_string()][..])
        );
    }
}
