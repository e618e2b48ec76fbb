//! RBAC's escalation prevention, as upstream's policy-based storage of the four RBAC resources:
//! a user may only create or update a Role or ClusterRole whose rules their own permissions (in
//! that namespace, or cluster-wide) cover, unless they may `escalate` it; and may only create or
//! update a binding when they may `bind` the role it refers to, or hold every permission it
//! grants. Members of `system:masters` are never checked; an update that only touches what
//! garbage collection changes (ownerReferences, finalizers) is not either.
//!
//! Refusals are upstream's: `roles.rbac.authorization.k8s.io "r" is forbidden: user "bob"
//! (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently
//! held:` followed by each missing permission (`{APIGroups:[""], Resources:["pods"],
//! Verbs:["get"]}`), compacted and sorted.

use crate::auth::attributes::{Attributes, ResourceAttributes};
use crate::auth::rbac::{GROUP, PolicyRule};
use crate::resource::Guarded;
use crate::status::ApiError;
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeSet;

/// The guard of `roles` and `clusterroles`.
pub(crate) fn guard_role(g: Guarded<'_>) -> BoxFuture<'_, Result<(), ApiError>> {
    Box::pin(async move {
        if g.user.is_privileged() || may(&g, "escalate", &g.rt.plural, g.name).await {
            return Ok(());
        }
        if only_gc_fields(g.object, g.old) {
            return Ok(());
        }
        let name = object_name(&g);
        let rules = rules_of(g.object);
        if let Err(msg) = confirm_no_escalation(&g, &rules).await {
            return Err(ApiError::forbidden(
                GROUP,
                &g.rt.plural,
                &name,
                forbidden_message(&g.rt.plural, &name, &msg),
            ));
        }
        let aggregates = g
            .object
            .get("aggregationRule")
            .is_some_and(|a| !a.is_null());
        if g.rt.plural == "clusterroles" && aggregates {
            // An aggregation rule can gather anything: it takes every permission.
            let everything = vec![
                PolicyRule {
                    verbs: vec!["*".into()],
                    api_groups: vec!["*".into()],
                    resources: vec!["*".into()],
                    ..PolicyRule::default()
                },
                PolicyRule {
                    verbs: vec!["*".into()],
                    non_resource_urls: vec!["*".into()],
                    ..PolicyRule::default()
                },
            ];
            if confirm_no_escalation(&g, &everything).await.is_err() {
                let msg = "must have cluster-admin privileges to use the aggregationRule";
                return Err(ApiError::forbidden(
                    GROUP,
                    &g.rt.plural,
                    &name,
                    forbidden_message(&g.rt.plural, &name, msg),
                ));
            }
        }
        Ok(())
    })
}

/// The guard of `rolebindings` and `clusterrolebindings`.
pub(crate) fn guard_binding(g: Guarded<'_>) -> BoxFuture<'_, Result<(), ApiError>> {
    Box::pin(async move {
        if g.user.is_privileged() || only_gc_fields(g.object, g.old) {
            return Ok(());
        }
        let text = |p: &str| g.object.pointer(p).and_then(Value::as_str).unwrap_or("");
        let (kind, role, group) = (
            text("/roleRef/kind"),
            text("/roleRef/name"),
            text("/roleRef/apiGroup"),
        );
        let role_plural = match kind {
            "ClusterRole" => "clusterroles",
            "Role" => "roles",
            // Validation refuses other kinds.
            _ => return Ok(()),
        };
        // `bind` on the role, in the binding's namespace (cluster-wide for a
        // ClusterRoleBinding).
        let bind = Attributes::Resource(ResourceAttributes {
            verb: "bind".into(),
            group: group.into(),
            version: "*".into(),
            resource: role_plural.into(),
            subresource: String::new(),
            namespace: g.namespace.into(),
            name: role.into(),
        });
        if g.rest.rbac.authorize(g.user, &bind).await.allowed {
            return Ok(());
        }
        let rules = g
            .rest
            .rbac
            .read(|p| p.role_rules(kind, role, g.namespace))
            .await
            .map_err(|_| ApiError::not_found(GROUP, role_plural, role))?;
        let name = object_name(&g);
        confirm_no_escalation(&g, &rules).await.map_err(|msg| {
            ApiError::forbidden(
                GROUP,
                &g.rt.plural,
                &name,
                forbidden_message(&g.rt.plural, &name, &msg),
            )
        })
    })
}

fn object_name(g: &Guarded<'_>) -> String {
    g.object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(g.name)
        .to_string()
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj.get("rules")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default()
}

/// `apierrors.NewForbidden`'s message.
fn forbidden_message(plural: &str, name: &str, err: &str) -> String {
    if name.is_empty() {
        format!("{plural}.{GROUP} is forbidden: {err}")
    } else {
        format!("{plural}.{GROUP} {name:?} is forbidden: {err}")
    }
}

/// Whether the user may do `verb` on `resource`/`name` of the RBAC group where the write
/// happens.
async fn may(g: &Guarded<'_>, verb: &str, resource: &str, name: &str) -> bool {
    let attrs = Attributes::Resource(ResourceAttributes {
        verb: verb.into(),
        group: GROUP.into(),
        version: "*".into(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: g.namespace.into(),
        name: name.into(),
    });
    g.rest.rbac.authorize(g.user, &attrs).await.allowed
}

/// Whether an update changes nothing but what garbage collection changes (upstream's
/// `IsOnlyMutatingGCFields`).
fn only_gc_fields(new: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else {
        return false;
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in [
                "ownerReferences",
                "finalizers",
                "selfLink",
                "managedFields",
                "resourceVersion",
            ] {
                meta.remove(key);
            }
        }
        v
    };
    strip(new) == strip(old)
}

/// `Ok` when the user's own rules where the write happens cover `rules`, else upstream's
/// message naming what is missing.
async fn confirm_no_escalation(g: &Guarded<'_>, rules: &[PolicyRule]) -> Result<(), String> {
    let (owned, errors) = g.rest.rbac.read(|p| p.rules_for(g.user, g.namespace)).await;
    let missing = uncovered(&owned, rules);
    if missing.is_empty() {
        return Ok(());
    }
    let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    let mut msg = format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        g.user.name,
        go_list(&g.user.groups),
        described.into_iter().collect::<Vec<_>>().join("\n")
    );
    if !errors.is_empty() {
        msg.push_str(&format!("; resolution errors: [{}]", errors.join(", ")));
    }
    Err(msg)
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// Each rule split into rules of one group, resource, verb and name (or one URL and verb).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    verbs: one(verb),
                    api_groups: one(group),
                    resources: one(resource),
                    ..PolicyRule::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    for name in &rule.resource_names {
                        out.push(PolicyRule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..PolicyRule::default()
            });
        }
    }
    out
}

fn has(set: &[String], x: &str) -> bool {
    set.iter().any(|s| s == x)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        has(owner, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(owner, &format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, wanted: &str) -> bool {
    owner == wanted || (owner.ends_with('*') && wanted.starts_with(owner.trim_end_matches('*')))
}

/// Whether `owner` covers `sub` (a rule of [`breakdown`]).
fn covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|w| owner.non_resource_urls.iter().any(|o| url_covers(o, w)));
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && urls && names
}

/// The parts of `rules` no rule of `owned` covers.
pub(crate) fn uncovered(owned: &[PolicyRule], rules: &[PolicyRule]) -> Vec<PolicyRule> {
    rules
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owned.iter().any(|o| covers(o, sub)))
        .collect()
}

/// Rules of one group, one resource and at most one name merged into one rule per
/// group/resource/name with all their verbs (upstream's `CompactRules`).
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            out.push(rule);
            continue;
        }
        match simple.iter_mut().find(|s| {
            s.api_groups == rule.api_groups
                && s.resources == rule.resources
                && s.resource_names == rule.resource_names
        }) {
            Some(existing) => existing.verbs.extend(rule.verbs),
            None => simple.push(rule),
        }
    }
    out.extend(simple);
    out
}

/// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}` (upstream's
/// `CompactString`).
fn compact_string(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, list) in [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label}:{}", go_list(list)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: Vec::new(),
        }
    }

    #[test]
    fn coverage_is_upstreams() {
        let owner = [
            rule(&["get", "list"], &[""], &["pods", "*/status"], &[]),
            rule(&["*"], &["apps"], &["deployments"], &["web"]),
        ];
        assert!(uncovered(&owner, &[rule(&["get"], &[""], &["pods"], &["a"])]).is_empty());
        assert!(uncovered(&owner, &[rule(&["list"], &[""], &["services/status"], &[])]).is_empty());
        assert!(
            uncovered(
                &owner,
                &[rule(&["delete"], &["apps"], &["deployments"], &["web"])]
            )
            .is_empty()
        );
        // A name-restricted owner rule does not cover every name.
        let missing = uncovered(&owner, &[rule(&["get"], &["apps"], &["deployments"], &[])]);
        assert_eq!(missing.len(), 1);
        let missing = uncovered(
            &owner,
            &[rule(
                &["get", "watch", "delete"],
                &["", "batch"],
                &["pods"],
                &[],
            )],
        );
        let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
        assert_eq!(
            described.into_iter().collect::<Vec<_>>(),
            [
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["watch" "delete"]}"#,
                r#"{APIGroups:["batch"], Resources:["pods"], Verbs:["get" "watch" "delete"]}"#,
            ]
        );
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/metrics".into(), "/healthz".into()],
            ..PolicyRule::default()
        };
        let owner = [PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/health*".into()],
            ..PolicyRule::default()
        }];
        let missing = uncovered(&owner, &[urls]);
        assert_eq!(
            missing.iter().map(compact_string).collect::<Vec<_>>(),
            [r#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#]
        );
    }
}
