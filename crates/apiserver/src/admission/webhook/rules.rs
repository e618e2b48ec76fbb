//! Which requests a webhook's `rules` pick (upstream's `rules.Matcher` and the rule half of
//! `ShouldCallHook`): an operation in `operations`, the group in `apiGroups`, the version in
//! `apiVersions`, the resource in `resources` (`*` every resource but no subresource, `*/*`
//! everything, `pods/status`, `*/status`, `pods/*`), and the `scope` (`Cluster`, `Namespaced`
//! or `*`).
//!
//! With `matchPolicy: Equivalent` (the default), when no rule picks the request's own resource,
//! a rule picking an equivalent one does: another version of the same resource, or the same
//! resource in another group, served from the same storage (upstream's
//! `EquivalentResourceMapper`, keyed by the storage prefix: every served version of a CRD,
//! autoscaling/v1 and v2 HorizontalPodAutoscalers, core/v1 and events.k8s.io/v1 Events).
//! Earlier rules win, then equivalents in the catalog's order. The webhook is then called as
//! that resource: its objects converted to it ([`super::versioned`]), the review's
//! `kind`/`resource` naming it and `requestKind`/`requestResource` the request's.

use super::MatchPolicy;
use crate::admission::Request;
use crate::resource::ResourceType;
use crate::rest::Rest;
use k8s_openapi::api::admissionregistration::v1::RuleWithOperations;
use std::sync::Arc;

/// The resource a webhook or policy is called as for a request.
#[derive(Debug, Clone)]
pub enum Matched {
    /// The request's own resource.
    Own,
    /// An equivalent resource (another version, or group, of the same storage).
    Equivalent(Arc<ResourceType>),
}

impl Matched {
    /// The resource the objects are sent as.
    pub fn rt<'a>(&'a self, request: &'a Request<'_>) -> &'a ResourceType {
        match self {
            Matched::Own => request.rt,
            Matched::Equivalent(rt) => rt,
        }
    }

    /// The `kind` the review names: the request's own (which may be a subresource's object,
    /// an `Eviction`) or the equivalent resource's.
    pub fn kind<'a>(&'a self, request: &'a Request<'_>) -> (&'a str, &'a str, &'a str) {
        match (self, request.object_kind) {
            (Matched::Own, Some(kind)) => kind,
            _ => {
                let rt = self.rt(request);
                (&rt.group, &rt.version, &rt.kind)
            }
        }
    }
}

/// The resources equivalent to a request's (sharing its storage and serving its subresource),
/// but the request's own, looked up in the catalog once per request when a rule first needs
/// them.
pub struct Equivalents<'r> {
    rest: &'r Rest,
    found: std::sync::OnceLock<Vec<Arc<ResourceType>>>,
}

impl<'r> Equivalents<'r> {
    /// The equivalents of the request `rest` serves, not yet looked up.
    pub fn new(rest: &'r Rest) -> Self {
        Equivalents {
            rest,
            found: std::sync::OnceLock::new(),
        }
    }

    fn of(&self, request: &Request<'_>) -> &[Arc<ResourceType>] {
        self.found.get_or_init(|| {
            let rt = request.rt;
            let subresource = request.subresource.unwrap_or("");
            self.rest
                .catalog
                .snapshot()
                .all()
                .iter()
                .filter(|t| t.storage_key == rt.storage_key && t.answer.is_none())
                .filter(|t| {
                    !(t.group == rt.group && t.version == rt.version && t.plural == rt.plural)
                })
                .filter(|t| match subresource {
                    "" => true,
                    "status" => t.status,
                    "scale" => t.scale.is_some(),
                    // Other subresources (eviction, binding…) are served in one version only.
                    _ => false,
                })
                .cloned()
                .collect()
        })
    }
}

/// Which resource `rules` pick `request` as under `policy`, if any (webhooks' `rules`,
/// policies' `resourceRules` one by one).
pub fn pick(
    rules: &[RuleWithOperations],
    policy: MatchPolicy,
    request: &Request<'_>,
    equivalents: &Equivalents<'_>,
) -> Option<Matched> {
    let rt = request.rt;
    if rules
        .iter()
        .any(|r| rule_matches(r, request, (&rt.group, &rt.version, &rt.plural)))
    {
        return Some(Matched::Own);
    }
    if policy == MatchPolicy::Exact {
        return None;
    }
    let equivalents = equivalents.of(request);
    rules.iter().find_map(|r| {
        equivalents
            .iter()
            .find(|e| rule_matches(r, request, (&e.group, &e.version, &e.plural)))
            .map(|e| Matched::Equivalent(e.clone()))
    })
}

fn has(list: Option<&Vec<String>>, value: &str) -> bool {
    list.is_some_and(|l| l.iter().any(|x| x == "*" || x == value))
}

/// Whether `rule` picks `request` made on `resource` (group, version, plural).
fn rule_matches(
    rule: &RuleWithOperations,
    request: &Request<'_>,
    (group, version, plural): (&str, &str, &str),
) -> bool {
    has(rule.operations.as_ref(), request.operation.as_str())
        && has(rule.api_groups.as_ref(), group)
        && has(rule.api_versions.as_ref(), version)
        && resource_matches(
            rule.resources.as_deref().unwrap_or_default(),
            plural,
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
