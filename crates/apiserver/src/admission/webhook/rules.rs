//! Which requests a webhook's `rules` pick (upstream's `rules.Matcher`): an operation in
//! `operations`, the group in `apiGroups`, the version in `apiVersions`, the resource in
//! `resources` (`*` every resource but no subresource, `*/*` everything, `pods/status`,
//! `*/status`, `pods/*`), and the `scope` (`Cluster`, `Namespaced` or `*`).
//!
//! With `matchPolicy: Equivalent` (the default) a rule naming another version of the same group
//! and resource also picks the request. Upstream then sends the object converted to the version
//! the rule names; this server sends it in the version requested (its built-in resources are
//! served in one version, so only multi-version CRDs notice).

use super::{Hook, MatchPolicy};
use crate::admission::Request;
use k8s_openapi::api::admissionregistration::v1::RuleWithOperations;

/// Whether `hook`'s rules pick `request`.
pub fn matches(hook: &Hook, request: &Request<'_>) -> bool {
    any_matches(&hook.rules, hook.match_policy, request)
}

/// Whether one of `rules` picks `request` under `policy` (webhooks' `rules`, policies'
/// `resourceRules`).
pub fn any_matches(
    rules: &[RuleWithOperations],
    policy: MatchPolicy,
    request: &Request<'_>,
) -> bool {
    rules.iter().any(|r| rule_matches(r, request, true))
        || (policy == MatchPolicy::Equivalent
            && rules.iter().any(|r| rule_matches(r, request, false)))
}

fn has(list: Option<&Vec<String>>, value: &str) -> bool {
    list.is_some_and(|l| l.iter().any(|x| x == "*" || x == value))
}

fn rule_matches(rule: &RuleWithOperations, request: &Request<'_>, with_version: bool) -> bool {
    let rt = request.rt;
    has(rule.operations.as_ref(), request.operation.as_str())
        && has(rule.api_groups.as_ref(), &rt.group)
        && (!with_version || has(rule.api_versions.as_ref(), &rt.version))
        && resource_matches(
            rule.resources.as_deref().unwrap_or_default(),
            &rt.plural,
            request.subresource.unwrap_or(""),
        )
        && scope_matches(rule.scope.as_deref(), request)
}

fn resource_matches(resources: &[String], resource: &str, subresource: &str) -> bool {
    resources.iter().any(|r| {
        let (res, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
        (res == "*" || res == resource) && (sub == "*" || sub == subresource)
    })
}

fn scope_matches(scope: Option<&str>, request: &Request<'_>) -> bool {
    // Upstream decides by the request's namespace: a Namespace itself is cluster-scoped.
    let namespaced = request.rt.namespaced && request.namespace.is_some_and(|n| !n.is_empty());
    match scope.unwrap_or("*") {
        "Cluster" => !namespaced,
        "Namespaced" => namespaced,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::resource_matches;

    #[test]
    fn resources_with_subresources_and_wildcards() {
        let r = |list: &[&str], res, sub| {
            resource_matches(
                &list.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                res,
                sub,
            )
        };
        assert!(r(&["pods"], "pods", ""));
        assert!(!r(&["pods"], "pods", "status"));
        assert!(r(&["*"], "pods", ""));
        assert!(!r(&["*"], "pods", "status"));
        assert!(r(&["*/*"], "pods", "status"));
        assert!(r(&["*/status"], "deployments", "status"));
        assert!(!r(&["*/status"], "deployments", "scale"));
        assert!(r(&["pods/*"], "pods", "eviction"));
        assert!(!r(&["pods/*"], "services", ""));
        // As upstream: `pods/*` is pods and every subresource of it.
        assert!(r(&["pods/*"], "pods", ""));
    }
}
