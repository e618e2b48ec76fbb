//! The ClusterRole aggregation controller (kube-controller-manager's `clusterrole-aggregation`):
//! a ClusterRole with an `aggregationRule` gets as `rules` the rules of every other ClusterRole
//! its selectors pick (in name order, each rule once), kept current as labelled roles come, change
//! and go. This is how `admin`, `edit` and `view` gain the permissions of the
//! `system:aggregate-to-*` roles and of the ClusterRoles users label for them.

use super::changes::Changes;
use crate::auth::rbac::PolicyRule;
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest};
use crate::selector::LabelSelector;
use serde_json::{Value, json};
use std::sync::Arc;

/// The field manager of what this controller writes (upstream's).
const MANAGER: &str = "clusterrole-aggregation-controller";

fn cluster_roles(rest: &Rest) -> Option<Arc<ResourceType>> {
    rest.catalog
        .snapshot()
        .find(crate::auth::rbac::GROUP, "v1", "clusterroles")
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(rt) = cluster_roles(&rest) else {
        return;
    };
    // Any change of a ClusterRole (and a resync) may change what the aggregated roles select.
    let mut changes = Changes::new(&rest, Some(rt.storage_key.clone()));
    while changes.next().await.is_some() {
        sync_with(&rest, &rt).await;
    }
}

/// Brings every aggregated ClusterRole up to date once (the server's start does this, so that
/// a started server has `admin`, `edit` and `view` filled).
pub(crate) async fn sync(rest: &Rest) {
    if let Some(rt) = cluster_roles(rest) {
        // Roles aggregate roles that aggregate (admin takes edit, which takes view): a few
        // passes settle them.
        for _ in 0..8 {
            if !sync_with(rest, &rt).await {
                break;
            }
        }
    }
}

fn rules_of(role: &Value) -> Vec<PolicyRule> {
    role.get("rules")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default()
}

/// The rules `role`'s aggregation rule gives it from `all`, or None when it has none.
fn aggregated(role: &Value, all: &[Value]) -> Option<Vec<PolicyRule>> {
    let selectors = role
        .pointer("/aggregationRule/clusterRoleSelectors")?
        .as_array()?;
    let name = super::str_at(role, "/metadata/name");
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in selectors {
        // A selector that cannot be parsed picks nothing (upstream's sync fails on it).
        let Some(selector) = LabelSelector::from_object(selector) else {
            continue;
        };
        for other in all {
            if super::str_at(other, "/metadata/name") == name {
                continue;
            }
            let labels = other
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            if !selector.matches(&labels) {
                continue;
            }
            for rule in rules_of(other) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    Some(rules)
}

/// One pass over every aggregated ClusterRole; whether it wrote anything.
async fn sync_with(rest: &Rest, rt: &ResourceType) -> bool {
    let Ok(list) = rest.list(rt, None, &ListOptions::default()).await else {
        return false;
    };
    let mut wrote = false;
    // Listed in name order, the order upstream aggregates in.
    let all: Vec<Value> = list.items.iter().map(|o| o.value()).collect();
    for role in &all {
        let Some(rules) = aggregated(role, &all) else {
            continue;
        };
        if rules == rules_of(role) {
            continue;
        }
        let mut updated = role.clone();
        updated["rules"] = json!(rules);
        let name = super::str_at(role, "/metadata/name").to_string();
        match rest
            .update(
                rt,
                None,
                &name,
                updated,
                &super::write_options(MANAGER),
                None,
            )
            .await
        {
            Ok(_) => wrote = true,
            // A conflict means the role changed meanwhile: its event brings another pass.
            Err(e) => tracing::debug!(role = name, error = %e, "aggregating a ClusterRole"),
        }
    }
    wrote
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_collects_selected_rules_once_in_name_order() {
        let role = |name: &str, labels: Value, rules: Value| json!({"metadata": {"name": name, "labels": labels}, "rules": rules});
        let get = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]});
        let list = json!({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]});
        let mut view = role("view", json!({}), json!([]));
        view["aggregationRule"] =
            json!({"clusterRoleSelectors": [{"matchLabels": {"agg": "view"}}]});
        let all = vec![
            role("b", json!({"agg": "view"}), json!([list, get])),
            role("a", json!({"agg": "view"}), json!([get])),
            role("c", json!({"agg": "edit"}), json!([{"verbs": ["*"]}])),
            view.clone(),
        ];
        let rules = aggregated(&view, &all).expect("aggregated");
        let verbs: Vec<&str> = rules.iter().map(|r| r.verbs[0].as_str()).collect();
        // In list order (the store lists by name), each rule once.
        assert_eq!(verbs, ["list", "get"]);
        assert_eq!(aggregated(&all[0], &all), None);
    }
}
