//! The disruption controller (kube-controller-manager's, `pkg/controller/disruption`): keeps
//! every PodDisruptionBudget's status, which the eviction subresource decides by.
//!
//! For a budget, the pods of its namespace its selector selects are counted: `expectedPods`
//! (the number of pods for an integer `minAvailable`; otherwise the sum of the scales of the
//! pods' controllers — a ReplicaSet owned by a Deployment counts as the Deployment, any other
//! controller with a scale subresource by its `spec.replicas`), `desiredHealthy` (from
//! `minAvailable`, or `expectedPods` less `maxUnavailable`, percentages rounded up),
//! `currentHealthy` (Ready pods, neither being deleted nor recorded in `disruptedPods`),
//! `disruptionsAllowed` (`currentHealthy - desiredHealthy`, 0 while no pod is expected),
//! `observedGeneration`, and condition `DisruptionAllowed` (True `SufficientPods`, False
//! `InsufficientPods`). Entries of `disruptedPods` (written by the eviction subresource) are
//! dropped when their pod is gone or being deleted, or two minutes after the eviction (the pod
//! was not deleted after all); the budget is looked at again when the next entry expires. A
//! budget whose expected count cannot be computed (a pod's controller is not found, an invalid
//! percentage) gets `disruptionsAllowed: 0` and condition False `SyncFailed` with the error.
//! The status is written only when it changes.
//!
//! Level-driven from the store's change stream: a budget's own change reconciles it; a Pod
//! change that matters to budgets (labels, readiness, deletion, owners) reconciles the budgets
//! of its namespace that select it before or after (found in the controller's map of
//! selectors); a change of a workload's `spec.replicas` reconciles the budgets of its namespace.
//! Not done: upstream's Events (`NoPods`, `UnmanagedPods`, `CalculateExpectedPodCountFailed`).

use super::changes::{Change, Changes};
use super::{deleting, key_of, str_at as s, type_for, write_options};
use crate::registry::policy::poddisruptionbudgets::{
    DISRUPTION_ALLOWED, labels_of, pod_ready, selects, set_condition, status_int,
    update_disruption_allowed,
};
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest};
use crate::status::ApiError;
use crate::storage::EventType;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of the status this controller writes.
const MANAGER: &str = "kube-controller-manager";

/// How long an eviction's entry in `disruptedPods` waits for its pod to be deleted (upstream's
/// `DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a status write that lost a race is retried in one reconcile.
const WRITE_ATTEMPTS: usize = 5;

type Key = (String, String);

struct Types {
    pdbs: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    /// The storage keys of the workloads whose scale budgets count (apps and core).
    workloads: Vec<Arc<str>>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    let workloads = [
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("", "replicationcontrollers"),
    ]
    .iter()
    .filter_map(|(g, p)| r.find(g, "v1", p).map(|t| t.storage_key.clone()))
    .collect();
    Some(Types {
        pdbs: r.find("policy", "v1", "poddisruptionbudgets")?,
        pods: r.find("", "v1", "pods")?,
        workloads,
    })
}

/// What of a Pod budgets depend on.
fn pod_view(pod: &Value) -> Value {
    json!([
        pod.pointer("/metadata/labels"),
        pod_ready(pod),
        pod.pointer("/metadata/deletionTimestamp"),
        pod.pointer("/metadata/ownerReferences"),
    ])
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else { return };
    // Every budget, by namespace and name, with the budget as last seen (its selector).
    let mut budgets: BTreeMap<Key, Value> = BTreeMap::new();
    let mut rechecks: BTreeMap<Key, tokio::time::Instant> = BTreeMap::new();
    let mut dirty: BTreeSet<Key> = BTreeSet::new();
    let mut changes = Changes::all(&rest);
    loop {
        reconcile_all(&rest, &t, std::mem::take(&mut dirty), &mut rechecks).await;
        let wake = super::sleep_until(rechecks.values().min().copied());
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => {
                    budgets.clear();
                    rechecks.clear();
                    if let Ok(list) = rest.list(&t.pdbs, None, &ListOptions::default()).await {
                        for o in list.items {
                            let v = o.value();
                            budgets.insert(key_of(&v), v);
                        }
                    }
                    dirty = budgets.keys().cloned().collect();
                }
                Some(Change::Events(events)) => {
                    for e in events {
                        let key = (e.key.namespace.clone(), e.key.name.clone());
                        let gone = e.event_type == EventType::Deleted;
                        if e.key.resource == t.pdbs.storage_key {
                            if gone {
                                budgets.remove(&key);
                                rechecks.remove(&key);
                            } else {
                                budgets.insert(key.clone(), e.object.value());
                                dirty.insert(key);
                            }
                        } else if e.key.resource == t.pods.storage_key {
                            let now = e.object.value();
                            let before = e.prev.as_ref().map(|p| p.value());
                            if !gone && before.as_ref().map(pod_view) == Some(pod_view(&now)) {
                                continue;
                            }
                            for pod in std::iter::once(&now).chain(before.as_ref()) {
                                let labels = labels_of(pod);
                                dirty.extend(
                                    in_namespace(&budgets, &key.0)
                                        .filter(|(_, pdb)| selects(pdb, &labels))
                                        .map(|(k, _)| k.clone()),
                                );
                            }
                        } else if t.workloads.contains(&e.key.resource) {
                            let replicas = |v: &Value| v.pointer("/spec/replicas").cloned();
                            let now = e.object.value();
                            let before = e.prev.as_ref().map(|p| p.value());
                            if !gone
                                && before.as_ref().map(replicas) == Some(replicas(&now))
                            {
                                continue;
                            }
                            dirty.extend(in_namespace(&budgets, &key.0).map(|(k, _)| k.clone()));
                        }
                    }
                }
            },
            _ = wake => {
                let now = tokio::time::Instant::now();
                let due: Vec<Key> = rechecks
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in due {
                    rechecks.remove(&k);
                    dirty.insert(k);
                }
            }
        }
    }
}

/// The budgets of namespace `ns`.
fn in_namespace<'a>(
    budgets: &'a BTreeMap<Key, Value>,
    ns: &'a str,
) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
    budgets
        .range((ns.to_string(), String::new())..)
        .take_while(move |((n, _), _)| n == ns)
}

async fn reconcile_all(
    rest: &Rest,
    t: &Types,
    dirty: BTreeSet<Key>,
    rechecks: &mut BTreeMap<Key, tokio::time::Instant>,
) {
    for key in dirty {
        match reconcile(rest, t, &key.0, &key.1).await {
            Ok(Some(after)) => {
                rechecks.insert(key, tokio::time::Instant::now() + after);
            }
            Ok(None) => {
                rechecks.remove(&key);
            }
            Err(e) => {
                tracing::debug!(namespace = key.0, pdb = key.1, error = %e, "syncing disruption budget");
            }
        }
    }
}

/// Brings one budget's status up to date; returns when it must be looked at again (the next
/// `disruptedPods` entry to expire).
async fn reconcile(
    rest: &Rest,
    t: &Types,
    ns: &str,
    name: &str,
) -> Result<Option<Duration>, ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let pdb = match rest.get_value(&t.pdbs, Some(ns), name) {
            Ok(p) => p,
            Err(e) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        let pods: Vec<Value> = rest
            .list(&t.pods, Some(ns), &ListOptions::default())
            .await?
            .items
            .iter()
            .map(|o| o.value())
            .filter(|p| selects(&pdb, &labels_of(p)))
            .collect();
        let (status, recheck) = match expected_counts(rest, &pdb, &pods) {
            Ok((expected, desired)) => {
                let now = jiff::Timestamp::now();
                let (disrupted, recheck) = disrupted_pods(&pdb, &pods, now);
                let healthy = pods
                    .iter()
                    .filter(|p| !deleting(p) && !disrupted.contains_key(s(p, "/metadata/name")))
                    .filter(|p| pod_ready(p))
                    .count() as i64;
                (
                    computed_status(&pdb, healthy, desired, expected, disrupted),
                    recheck,
                )
            }
            Err(message) => (failed_status(&pdb, &message), None),
        };
        if pdb.get("status") == Some(&status) {
            return Ok(recheck);
        }
        let mut updated = pdb.clone();
        updated["status"] = status;
        match rest
            .update(
                &t.pdbs,
                Some(ns),
                name,
                updated,
                &write_options(MANAGER),
                Some("status"),
            )
            .await
        {
            Ok(_) => return Ok(recheck),
            Err(e) if e.code == 409 => continue,
            Err(e) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        "policy",
        "poddisruptionbudgets",
        name,
        "too many concurrent writers",
    ))
}

/// `(expectedPods, desiredHealthy)` (upstream's `getExpectedPodCount`), or the error a sync
/// fails with.
fn expected_counts(rest: &Rest, pdb: &Value, pods: &[Value]) -> Result<(i64, i64), String> {
    if let Some(max) = pdb.pointer("/spec/maxUnavailable").filter(|v| !v.is_null()) {
        let expected = expected_scale(rest, pods)?;
        let max = scaled(max, expected)?;
        return Ok((expected, (expected - max).max(0)));
    }
    match pdb.pointer("/spec/minAvailable") {
        Some(Value::Number(n)) => Ok((pods.len() as i64, n.as_i64().unwrap_or(0))),
        Some(v @ Value::String(_)) => {
            let expected = expected_scale(rest, pods)?;
            Ok((expected, scaled(v, expected)?))
        }
        _ => Ok((0, 0)),
    }
}

/// apimachinery's `GetScaledValueFromIntOrPercent(v, total, roundUp=true)`.
fn scaled(v: &Value, total: i64) -> Result<i64, String> {
    match v {
        Value::Number(n) => Ok(n.as_i64().unwrap_or(0)),
        Value::String(text) => {
            let Some(number) = text.strip_suffix('%') else {
                return Err(
                    "invalid value for IntOrString: invalid type: string is not a percentage"
                        .into(),
                );
            };
            let percent: i64 = number.parse().map_err(|_| {
                format!("invalid value {text:?}: strconv.Atoi: parsing {number:?}: invalid syntax")
            })?;
            Ok(percent
                .saturating_mul(total)
                .saturating_add(99)
                .div_euclid(100))
        }
        _ => Err("invalid value for IntOrString: invalid type: neither int nor string".into()),
    }
}

/// The controller reference of `obj`: (apiVersion, kind, name, uid).
fn controller_ref(obj: &Value) -> Option<(String, String, String, String)> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            (
                s(r, "/apiVersion").to_string(),
                s(r, "/kind").to_string(),
                s(r, "/name").to_string(),
                s(r, "/uid").to_string(),
            )
        })
}

/// The sum of the scales of the pods' controllers (upstream's `getExpectedScale`); pods without
/// a controller are left out (upstream warns about them).
fn expected_scale(rest: &Rest, pods: &[Value]) -> Result<i64, String> {
    let mut scales: BTreeMap<String, i64> = BTreeMap::new();
    for pod in pods {
        let Some(owner) = controller_ref(pod) else {
            continue;
        };
        if scales.contains_key(&owner.3) {
            continue;
        }
        let ns = s(pod, "/metadata/namespace");
        match controller_scale(rest, ns, &owner) {
            Some((uid, scale)) => {
                scales.insert(uid, scale);
            }
            None => {
                return Err(format!(
                    "found no controllers for pod {:?}",
                    s(pod, "/metadata/name")
                ));
            }
        }
    }
    Ok(scales.values().sum())
}

/// The uid and scale of the controller `owner` names (in namespace `ns`), as upstream's
/// finders look: a ReplicaSet controlled by a Deployment is the Deployment; any resource with
/// a scale subresource is its `spec.replicas`.
fn controller_scale(
    rest: &Rest,
    ns: &str,
    owner: &(String, String, String, String),
) -> Option<(String, i64)> {
    let (api_version, kind, name, uid) = owner;
    let rt = type_for(rest, api_version, kind)?;
    let obj = rest.get_value(&rt, Some(ns), name).ok()?;
    if s(&obj, "/metadata/uid") != uid {
        return None;
    }
    if rt.group == "apps"
        && kind == "ReplicaSet"
        && let Some(parent) = controller_ref(&obj).filter(|p| p.1 == "Deployment")
    {
        return controller_scale(rest, ns, &parent);
    }
    let paths = rt.scale.as_ref()?;
    let pointer: String = paths
        .spec_replicas
        .trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, seg| format!("{acc}/{seg}"));
    // Built-in workloads default `spec.replicas` to 1; a custom resource's unset scale is 0.
    let unset = if rt.group == "apps" || rt.group.is_empty() {
        1
    } else {
        0
    };
    let replicas = obj
        .pointer(&pointer)
        .and_then(Value::as_i64)
        .unwrap_or(unset);
    Some((uid.clone(), replicas))
}

/// The entries of `disruptedPods` still waiting for their pod's deletion (upstream's
/// `buildDisruptedPodMap`), and when the first of them expires.
fn disrupted_pods(
    pdb: &Value,
    pods: &[Value],
    now: jiff::Timestamp,
) -> (Map<String, Value>, Option<Duration>) {
    let mut kept = Map::new();
    let mut recheck: Option<Duration> = None;
    let Some(recorded) = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
    else {
        return (kept, None);
    };
    for pod in pods {
        if deleting(pod) {
            continue;
        }
        let name = s(pod, "/metadata/name");
        let Some(at) = recorded.get(name) else {
            continue;
        };
        let Some(when) = at.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
            continue;
        };
        // A time so late that adding the timeout overflows is kept without a recheck.
        let timeout = jiff::SignedDuration::try_from(DELETION_TIMEOUT).unwrap_or_default();
        let Ok(expires) = when.checked_add(timeout) else {
            kept.insert(name.to_string(), at.clone());
            continue;
        };
        if expires < now {
            continue;
        }
        let left = Duration::try_from(expires.duration_since(now)).unwrap_or_default();
        recheck = Some(recheck.map_or(left, |r| r.min(left)));
        kept.insert(name.to_string(), at.clone());
    }
    (kept, recheck)
}

/// The status `updatePdbStatus` writes, keeping the stored one when nothing it compares
/// changed (so that nothing is written).
fn computed_status(
    pdb: &Value,
    healthy: i64,
    desired: i64,
    expected: i64,
    disrupted: Map<String, Value>,
) -> Value {
    let allowed = if expected <= 0 || healthy - desired <= 0 {
        0
    } else {
        healthy - desired
    };
    let generation = pdb
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let old = pdb.get("status").cloned().unwrap_or_else(|| json!({}));
    let old_disrupted = old
        .get("disruptedPods")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let unchanged = status_int(pdb, "currentHealthy") == healthy
        && status_int(pdb, "desiredHealthy") == desired
        && status_int(pdb, "expectedPods") == expected
        && status_int(pdb, "disruptionsAllowed") == allowed
        && old_disrupted == disrupted
        && status_int(pdb, "observedGeneration") == generation
        && conditions_up_to_date(pdb, generation);
    if unchanged {
        return old;
    }
    let mut status = json!({
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
    });
    if !disrupted.is_empty() {
        status["disruptedPods"] = Value::Object(disrupted);
    }
    if let Some(c) = old.get("conditions") {
        status["conditions"] = c.clone();
    }
    update_disruption_allowed(&mut status);
    status
}

/// Upstream's `ConditionsAreUpToDate`.
fn conditions_up_to_date(pdb: &Value, generation: i64) -> bool {
    let Some(c) = pdb
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| s(c, "/type") == DISRUPTION_ALLOWED))
    else {
        return false;
    };
    if status_int(pdb, "observedGeneration") != generation {
        return false;
    }
    if status_int(pdb, "disruptionsAllowed") > 0 {
        s(c, "/status") == "True" && s(c, "/reason") == "SufficientPods"
    } else {
        s(c, "/status") == "False" && s(c, "/reason") == "InsufficientPods"
    }
}

/// Upstream's `failSafe`: no disruption allowed, condition False `SyncFailed` with the error.
fn failed_status(pdb: &Value, message: &str) -> Value {
    let mut status = pdb.get("status").cloned().unwrap_or_else(|| json!({}));
    if !status.is_object() {
        status = json!({});
    }
    status["disruptionsAllowed"] = json!(0);
    let observed = status_int(pdb, "observedGeneration");
    set_condition(
        &mut status,
        DISRUPTION_ALLOWED,
        "False",
        "SyncFailed",
        message,
        observed,
    );
    // Setting a condition that is already so changes only nothing but its time; keep the
    // stored status then, so that nothing is written.
    if let Some(old) = pdb.get("status")
        && same_but_times(old, &status)
    {
        return old.clone();
    }
    status
}

/// Whether two statuses differ at most in condition transition times.
fn same_but_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(m) = c.as_object_mut() {
                    m.remove("lastTransitionTime");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Ok(2));
        assert_eq!(scaled(&json!("34%"), 3), Ok(2));
        assert_eq!(scaled(&json!("0%"), 3), Ok(0));
        assert_eq!(scaled(&json!(2), 5), Ok(2));
        assert!(scaled(&json!("x"), 3).is_err());
        assert!(scaled(&json!("a%"), 3).is_err());
    }

    #[test]
    fn disrupted_pods_expire_after_two_minutes() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().expect("time");
        let pdb = json!({"status": {"disruptedPods": {
            "old": "2026-01-01T00:07:00Z",
            "recent": "2026-01-01T00:09:00Z",
            "late": "9999-12-31T23:59:59Z",
            "deleted": "2026-01-01T00:09:30Z",
            "gone": "2026-01-01T00:09:30Z",
        }}});
        let pod = |name: &str| json!({"metadata": {"name": name}});
        let mut deleted = pod("deleted");
        deleted["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:09:40Z");
        let pods = [pod("old"), pod("recent"), pod("late"), deleted];
        let (kept, recheck) = disrupted_pods(&pdb, &pods, now);
        // "late" is past what a timestamp holds here: no panic, whatever is kept of it.
        assert!(kept.contains_key("recent"));
        for dropped in ["old", "deleted", "gone"] {
            assert!(!kept.contains_key(dropped), "{dropped} kept: {kept:?}");
        }
        assert_eq!(recheck, Some(Duration::from_secs(60)));
    }

    #[test]
    fn status_is_kept_when_nothing_changed() {
        let pdb = json!({"metadata": {"generation": 1}, "status": {}});
        let first = computed_status(&pdb, 3, 2, 3, Map::new());
        assert_eq!(first["disruptionsAllowed"], json!(1));
        assert_eq!(first["conditions"][0]["reason"], json!("SufficientPods"));
        let again = json!({"metadata": {"generation": 1}, "status": first.clone()});
        assert_eq!(computed_status(&again, 3, 2, 3, Map::new()), first);
        let none = computed_status(&pdb, 3, 2, 0, Map::new());
        assert_eq!(none["disruptionsAllowed"], json!(0));
        assert_eq!(none["conditions"][0]["reason"], json!("InsufficientPods"));
    }
}
