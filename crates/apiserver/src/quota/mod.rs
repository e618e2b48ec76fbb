//! Resource quota accounting, as kube's `pkg/quota/v1`: resource lists (`ResourceList`, with
//! upstream's `Add`, `Subtract`, `Mask`, `LessThanOrEqual` and the admission error's
//! `prettyPrint`), the scopes a ResourceQuota selects objects by, the evaluators that say what an
//! object uses ([`evaluator`]), and the usage of a quota's namespace
//! ([`calculate_usage`], upstream's `CalculateUsage`). The ResourceQuota admission plugin
//! (`admission/resource_quota.rs`) charges requests against it; the resourcequota controller
//! (`controllers/resourcequota.rs`) keeps `status.used` from it.

pub mod evaluator;

use crate::quantity::Quantity;
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest};
use crate::status::ApiError;
use evaluator::Evaluator;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Amounts by resource name (upstream's `ResourceList`), in name order.
pub type ResourceList = BTreeMap<String, Quantity>;

/// The resource list at `pointer` in `v` (entries that are not quantities are left out).
pub fn list_at(v: &Value, pointer: &str) -> ResourceList {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, q)| Some((k.clone(), Quantity::parse(q.as_str()?)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// `list` as JSON, each quantity in its canonical form.
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, q)| (k.clone(), Value::String(q.to_string())))
            .collect::<Map<_, _>>(),
    )
}

/// `a + b`: every name of either, summed where both have it (upstream's `quota.Add`).
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        out.entry(k.clone())
            .and_modify(|mine| *mine = mine.add(q))
            .or_insert(*q);
    }
    out
}

/// `a - b` over the names of `a`, names only in `b` negated (upstream's `quota.Subtract`).
pub fn subtract(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        out.entry(k.clone())
            .and_modify(|mine| *mine = mine.sub(q))
            .or_insert_with(|| Quantity::zero(q.format()).sub(q));
    }
    out
}

/// The entries of `list` named in `names` (upstream's `quota.Mask`).
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|n| list.get(n).map(|q| (n.clone(), *q)))
        .collect()
}

/// The names in `a` whose amount exceeds `b`'s (names `b` lacks are not limited).
pub fn exceeded(a: &ResourceList, b: &ResourceList) -> Vec<String> {
    a.iter()
        .filter(|(k, q)| b.get(*k).is_some_and(|limit| *q > limit))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The admission errors' `name=value,name=value`, sorted by name (upstream's `prettyPrint`).
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, q)| format!("{k}={q}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One scope requirement of a quota (upstream's `ScopedResourceSelectorRequirement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSelector {
    /// `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort`, `PriorityClass`,
    /// `CrossNamespacePodAffinity`.
    pub scope: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// The values of `In`/`NotIn`.
    pub values: Vec<String>,
}

/// The scope requirements of `quota`: each of `spec.scopes` as `Exists`, then
/// `spec.scopeSelector.matchExpressions` (upstream's `getScopeSelectorsFromQuota`).
pub fn scope_selectors(quota: &Value) -> Vec<ScopeSelector> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out: Vec<ScopeSelector> = quota
        .pointer("/spec/scopes")
        .map(strings)
        .unwrap_or_default()
        .into_iter()
        .map(|scope| ScopeSelector {
            scope,
            operator: "Exists".into(),
            values: Vec::new(),
        })
        .collect();
    if let Some(exprs) = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
    {
        out.extend(exprs.iter().map(|e| ScopeSelector {
            scope: crate::controllers::str_at(e, "/scopeName").to_string(),
            operator: crate::controllers::str_at(e, "/operator").to_string(),
            values: e.get("values").map(strings).unwrap_or_default(),
        }));
    }
    out
}

/// Whether `quota` applies to `obj` of `evaluator`'s resource: it limits one of the resources
/// the evaluator counts (in `status.hard`, as admission reads it, or `spec.hard` for the
/// controller) and `obj` is in every scope (upstream's `generic.Matches`).
pub fn matches(evaluator: &Evaluator, hard: &ResourceList, quota: &Value, obj: &Value) -> bool {
    !evaluator.matching_resources(hard.keys()).is_empty()
        && scope_selectors(quota)
            .iter()
            .all(|s| evaluator.matches_scope(s, obj))
}

/// What the objects of `namespace` use of the resources `hard` names, for a quota with the
/// scopes of `quota` (upstream's `CalculateUsage`): each evaluator that counts one of them lists
/// its resource and adds up the objects in the quota's scopes. Names no evaluator counts are
/// left out.
pub async fn calculate_usage(
    rest: &Rest,
    namespace: &str,
    quota: &Value,
    hard: &ResourceList,
) -> Result<ResourceList, ApiError> {
    let catalog = rest.catalog.snapshot();
    let scopes = scope_selectors(quota);
    // The evaluators that count a name of `hard`, each with the names it counts.
    let mut evaluators: BTreeMap<(String, String), (std::sync::Arc<ResourceType>, Evaluator)> =
        BTreeMap::new();
    for name in hard.keys() {
        for (group, plural) in evaluator::resources_counting(name) {
            if let Some(rt) = catalog.any_version(&group, &plural) {
                evaluators
                    .entry((group.clone(), plural.clone()))
                    .or_insert_with(|| (rt, Evaluator::for_resource(&group, &plural)));
            }
        }
    }
    let mut used = ResourceList::new();
    let mut matched: BTreeSet<String> = BTreeSet::new();
    for (rt, evaluator) in evaluators.values() {
        let names = evaluator.matching_resources(hard.keys());
        if names.is_empty() {
            continue;
        }
        let mut stats: ResourceList = names
            .iter()
            .map(|n| (n.clone(), Quantity::zero(Default::default())))
            .collect();
        let list = rest
            .list(rt, Some(namespace), &ListOptions::default())
            .await?;
        for item in list.items {
            let obj = item.value();
            if scopes.iter().all(|s| evaluator.matches_scope(s, &obj)) {
                stats = add(&stats, &evaluator.usage(&obj));
            }
        }
        used = add(&used, &stats);
        matched.extend(names);
    }
    Ok(mask(&used, &matched))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn lists_add_subtract_and_compare() {
        let a = list(&[("cpu", "100m"), ("memory", "256Mi")]);
        let b = list(&[("cpu", "500m"), ("pods", "1")]);
        assert_eq!(pretty_print(&add(&a, &b)), "cpu=600m,memory=256Mi,pods=1");
        assert_eq!(
            pretty_print(&subtract(&a, &b)),
            "cpu=-400m,memory=256Mi,pods=-1"
        );
        assert_eq!(
            exceeded(&add(&a, &b), &list(&[("cpu", "500m"), ("memory", "1Gi")])),
            vec!["cpu".to_string()]
        );
        let names = ["cpu".to_string()];
        assert_eq!(pretty_print(&mask(&a, &names)), "cpu=100m");
    }
}
