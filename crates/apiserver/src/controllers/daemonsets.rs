//! The simulated DaemonSet controller (upstream's `pkg/controller/daemon`), on with the
//! simulated workloads; the pods it makes are bound and run by the simulated scheduler and
//! kubelet of `workloads.rs`.
//!
//! - **Which nodes**: every Node that is not being deleted whose labels match the template's
//!   `nodeSelector` and required node affinity, and whose `NoSchedule`/`NoExecute` taints the
//!   pod tolerates. A node whose labels stop matching, or with a `NoExecute` taint not
//!   tolerated, loses its pod; a new `NoSchedule` taint keeps a pod already there (upstream's
//!   `shouldContinueRunning`). Pods on nodes that no longer exist are deleted (what the pod
//!   garbage collector does in a cluster).
//! - **Pods** (`<set>-` generated names): the template with the labels
//!   `controller-revision-hash` (the revision's hash) and `pod-template-generation`, upstream's
//!   automatic tolerations (`node.kubernetes.io/not-ready` and `unreachable` NoExecute;
//!   `disk-pressure`, `memory-pressure`, `pid-pressure`, `unschedulable` NoSchedule;
//!   `network-unavailable` NoSchedule for host-network pods), and a required node affinity
//!   `matchFields metadata.name In [node]` that replaces the template's required terms (upstream's
//!   `ReplaceDaemonSetPodNodeNameNodeAffinity`): the scheduler binds it to its node. One pod per
//!   node: extra ones and failed ones are deleted.
//! - **Updates**: revisions as `revisions.rs` keeps them; `RollingUpdate` deletes outdated pods
//!   (unavailable ones first) while at most `maxUnavailable` (1; a percentage of the desired
//!   pods, rounded up) are unavailable, and the next pass makes the node's new pod; with
//!   `maxSurge` it makes the new pod beside the old one on at most that many nodes at a time
//!   and deletes the old one once the new one is available; `OnDelete` replaces only pods
//!   someone deleted.
//! - **Status**: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
//!   numberReady, numberAvailable (ready for `minReadySeconds`), updatedNumberScheduled,
//!   numberUnavailable, observedGeneration (and collisionCount after a revision name
//!   collision); so `kubectl rollout status|history|undo daemonset/x` work.
//! - **Events** as upstream's: `SuccessfulCreate` ("Created pod: x"), `SuccessfulDelete`
//!   ("Deleted pod: x").
//!
//! Not simulated: slow-start batches, adoption of pods by label.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::revisions::{self, HASH_LABEL};
use super::scheduler::{selects, tolerates};
use super::statefulsets::{available_in, running_and_ready};
use super::{deleting, key_of, str_at as s, write_options};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const MANAGER: &str = "kubeforge-daemonset-controller";
/// The pod label with the DaemonSet's generation the pod was made at.
const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

type Key = (String, String);
type Step = Result<(), crate::status::ApiError>;

struct Types {
    sets: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    nodes: Arc<ResourceType>,
    revisions: Arc<ResourceType>,
    events: EventRecorder,
}

fn opts() -> WriteOptions {
    write_options(MANAGER)
}

/// Runs the DaemonSet controller until the store closes.
pub async fn run(rest: Rest) {
    let r = rest.catalog.snapshot();
    let (Some(sets), Some(pods), Some(nodes), Some(revisions)) = (
        r.find("apps", "v1", "daemonsets"),
        r.find("", "v1", "pods"),
        r.find("", "v1", "nodes"),
        r.find("apps", "v1", "controllerrevisions"),
    ) else {
        return;
    };
    drop(r);
    let t = Types {
        sets,
        pods,
        nodes,
        revisions,
        events: EventRecorder::new("daemonset-controller"),
    };
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<Key>();
    let all = |rest: &Rest, t: &Types| {
        let (rest, sets) = (rest.clone(), t.sets.clone());
        async move {
            rest.list(&sets, None, &ListOptions::default())
                .await
                .map(|l| l.items.iter().map(|o| key_of(&o.value())).collect())
                .unwrap_or_else(|_| Vec::new())
        }
    };
    let mut changes = Changes::all(&rest);
    loop {
        let mut dirty = BTreeSet::new();
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => dirty.extend(all(&rest, &t).await),
                Some(Change::Events(events)) => {
                    let mut nodes_changed = false;
                    for e in events {
                        if e.key.resource == t.sets.storage_key {
                            dirty.insert((e.key.namespace.clone(), e.key.name.clone()));
                        } else if e.key.resource == t.nodes.storage_key {
                            nodes_changed = true;
                        } else if (e.key.resource == t.pods.storage_key
                            || e.key.resource == t.revisions.storage_key)
                            && let Some(owner) = super::owned::controller_named(&e.object.json, "DaemonSet")
                        {
                            dirty.insert((e.key.namespace.clone(), owner));
                        }
                    }
                    if nodes_changed {
                        dirty.extend(all(&rest, &t).await);
                    }
                }
            },
            Some(key) = wake_rx.recv() => { dirty.insert(key); }
        }
        reconcile(&rest, &t, &wake_tx, dirty).await;
    }
}

async fn reconcile(
    rest: &Rest,
    t: &Types,
    wake: &mpsc::UnboundedSender<Key>,
    dirty: BTreeSet<Key>,
) {
    for (ns, name) in dirty {
        if let Err(e) = sync(rest, t, wake, &ns, &name).await {
            tracing::debug!(namespace = ns, daemonset = name, error = %e, "simulating daemonset");
        }
    }
}

/// The tolerations upstream's `AddOrUpdateDaemonPodTolerations` adds: (key, effect).
const AUTOMATIC_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
/// Added for host-network pods only.
const NETWORK_UNAVAILABLE: (&str, &str) = ("node.kubernetes.io/network-unavailable", "NoSchedule");

/// `spec` with the DaemonSet pods' automatic tolerations (each added unless an equal one is
/// there).
fn add_tolerations(spec: &mut Value) {
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    let mut tolerations: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted = AUTOMATIC_TOLERATIONS
        .iter()
        .chain(host_network.then_some(&NETWORK_UNAVAILABLE));
    for (key, effect) in wanted {
        let t = json!({"key": key, "operator": "Exists", "effect": effect});
        if !tolerations.iter().any(|have| {
            s(have, "/key") == *key
                && s(have, "/effect") == *effect
                && s(have, "/operator") == "Exists"
                && s(have, "/value").is_empty()
        }) {
            tolerations.push(t);
        }
    }
    spec["tolerations"] = json!(tolerations);
}

/// `spec`'s affinity with upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required
/// node selector becomes the one term `matchFields metadata.name In [node]`.
fn target_node(spec: &mut Value, node: &str) {
    let term = json!({"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": [node]}]}]});
    if !spec.get("affinity").is_some_and(Value::is_object) {
        spec["affinity"] = json!({});
    }
    if !spec["affinity"]
        .get("nodeAffinity")
        .is_some_and(Value::is_object)
    {
        spec["affinity"]["nodeAffinity"] = json!({});
    }
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = term;
}

/// Upstream's `NodeShouldRunDaemonPod` for pod spec `spec` (with the automatic tolerations):
/// (should run a pod there, should keep a pod already there).
fn should_run(spec: &Value, node: &Value) -> (bool, bool) {
    if deleting(node) || !selects(spec, node) {
        return (false, false);
    }
    let tolerations: Vec<&Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let untolerated = |effect: &str| {
        node.pointer("/spec/taints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|taint| s(taint, "/effect") == effect)
            .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    let no_execute = untolerated("NoExecute");
    (!no_execute && !untolerated("NoSchedule"), !no_execute)
}

/// The node pod `p` is on, or is meant for (its required `metadata.name` term) while unbound.
fn node_of(p: &Value) -> String {
    let bound = s(p, "/spec/nodeName");
    if !bound.is_empty() {
        return bound.to_string();
    }
    super::scheduler::required_node_name(p)
        .unwrap_or_default()
        .to_string()
}

/// `field` of the rolling update resolved against `desired` (a percentage rounded up, as
/// upstream's `GetScaledValueFromIntOrPercent`), `default` when unset.
fn scaled(set: &Value, field: &str, desired: i64, default: i64) -> i64 {
    let pointer = format!("/spec/updateStrategy/rollingUpdate/{field}");
    match set.pointer(&pointer) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(p)) => p
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(default, |p| (p * desired + 99) / 100),
        _ => default,
    }
}

/// `maxUnavailable` resolved against `desired`, at least 1 (upstream's fallback when both
/// it and maxSurge are 0).
fn max_unavailable(set: &Value, desired: i64) -> i64 {
    scaled(set, "maxUnavailable", desired, 1).max(1)
}

/// `maxSurge` resolved against `desired` (0: no surge).
fn max_surge(set: &Value, desired: i64) -> i64 {
    scaled(set, "maxSurge", desired, 0).max(0)
}

struct Ctx<'a> {
    rest: &'a Rest,
    t: &'a Types,
    set: &'a Value,
    ns: &'a str,
}

impl Ctx<'_> {
    fn event(&self, reason: &str, message: String) {
        self.t.events.normal(
            self.rest,
            self.set,
            ("apps/v1", "DaemonSet"),
            reason,
            message,
        );
    }

    async fn create_pod(&self, node: &str, hash: &str) -> Step {
        let set = self.set;
        let name = s(set, "/metadata/name");
        let template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut meta = json!({"generateName": format!("{name}-"), "namespace": self.ns});
        for field in ["labels", "annotations", "finalizers"] {
            if let Some(v) = template
                .pointer(&format!("/metadata/{field}"))
                .filter(|v| !v.is_null())
            {
                meta[field] = v.clone();
            }
        }
        if !meta.get("labels").is_some_and(Value::is_object) {
            meta["labels"] = json!({});
        }
        meta["labels"][HASH_LABEL] = json!(hash);
        let generation = set
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        meta["labels"][TEMPLATE_GENERATION_LABEL] = json!(generation.to_string());
        meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet",
            "name": name, "uid": s(set, "/metadata/uid"), "controller": true,
            "blockOwnerDeletion": true}]);
        let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
        if !spec.is_object() {
            spec = json!({});
        }
        add_tolerations(&mut spec);
        target_node(&mut spec, node);
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
        match self
            .rest
            .create(&self.t.pods, Some(self.ns), pod, &opts())
            .await
        {
            Ok(created) => {
                let pod_name = s(&created.object, "/metadata/name");
                self.event("SuccessfulCreate", format!("Created pod: {pod_name}"));
                Ok(())
            }
            Err(e) => {
                self.t.events.warning(
                    self.rest,
                    set,
                    ("apps/v1", "DaemonSet"),
                    "FailedCreate",
                    format!("Error creating: {}", e.message),
                );
                Err(e)
            }
        }
    }

    async fn delete_pod(&self, pod: &Value) -> Step {
        let name = s(pod, "/metadata/name");
        let del = DeleteOptions {
            uid: Some(s(pod, "/metadata/uid").to_string()),
            ..DeleteOptions::default()
        };
        match self
            .rest
            .delete(&self.t.pods, Some(self.ns), name, &del)
            .await
        {
            Ok(_) => {
                self.event("SuccessfulDelete", format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

async fn sync(
    rest: &Rest,
    t: &Types,
    wake: &mpsc::UnboundedSender<Key>,
    ns: &str,
    name: &str,
) -> Step {
    let Ok(set) = rest.get_value(&t.sets, Some(ns), name) else {
        return Ok(());
    };
    if deleting(&set) {
        return Ok(());
    }
    let uid = s(&set, "/metadata/uid").to_string();
    let pods: Vec<Value> = rest
        .list(&t.pods, Some(ns), &ListOptions::default())
        .await?
        .items
        .iter()
        .map(|o| o.value())
        .filter(|p| super::owned::controller_uid(p).as_deref() == Some(uid.as_str()))
        .collect();
    let nodes: Vec<Value> = rest
        .list(&t.nodes, None, &ListOptions::default())
        .await?
        .items
        .iter()
        .map(|o| o.value())
        .collect();
    let owned = revisions::owned(rest, &t.revisions, &set).await;
    let synced = revisions::sync(rest, &t.revisions, &set, "DaemonSet", owned, MANAGER).await?;
    let hash = s(&synced.update, &format!("/metadata/labels/{HASH_LABEL}")).to_string();
    let generation = set
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .to_string();
    let updated = |p: &Value| {
        let labels = p.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        match label(HASH_LABEL) {
            Some(h) => h == hash,
            None => label(TEMPLATE_GENERATION_LABEL) == Some(generation.as_str()),
        }
    };
    let min_ready = set
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut spec = set
        .pointer("/spec/template/spec")
        .cloned()
        .unwrap_or(json!({}));
    if !spec.is_object() {
        spec = json!({});
    }
    add_tolerations(&mut spec);

    // Pods by node, oldest first; terminating ones apart.
    let mut by_node: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in pods.iter().filter(|p| !deleting(p)) {
        by_node.entry(node_of(p)).or_default().push(p);
    }
    for list in by_node.values_mut() {
        list.sort_by(|a, b| {
            (s(a, "/metadata/creationTimestamp"), s(a, "/metadata/name"))
                .cmp(&(s(b, "/metadata/creationTimestamp"), s(b, "/metadata/name")))
        });
    }
    let node_names: HashSet<&str> = nodes.iter().map(|n| s(n, "/metadata/name")).collect();

    // Status, from the pods as they are now.
    let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut up_to_date) =
        (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
    let mut next_wake: Option<Duration> = None;
    let mut to_create: Vec<String> = Vec::new();
    let mut to_delete: Vec<&Value> = Vec::new();
    // Per node that should run a pod: its pod (the oldest), if any.
    let mut scheduled: Vec<(String, Vec<&Value>)> = Vec::new();
    let surge = if s(&set, "/spec/updateStrategy/type") == "OnDelete" {
        0
    } else {
        let nodes_selected = nodes.iter().filter(|n| should_run(&spec, n).0).count() as i64;
        max_surge(&set, nodes_selected)
    };
    for node in &nodes {
        let node_name = s(node, "/metadata/name").to_string();
        let (run, keep) = should_run(&spec, node);
        let on_node = by_node.get(&node_name).cloned().unwrap_or_default();
        if run {
            desired += 1;
            if let Some(p) = on_node.first() {
                current += 1;
                if running_and_ready(p) {
                    ready += 1;
                    match available_in(p, min_ready) {
                        Some(d) if d.is_zero() => available += 1,
                        Some(d) => next_wake = Some(next_wake.map_or(d, |w: Duration| w.min(d))),
                        None => {}
                    }
                }
                if updated(p) {
                    up_to_date += 1;
                }
            }
        } else if !on_node.is_empty() {
            misscheduled += 1;
        }
        if run && on_node.is_empty() {
            to_create.push(node_name.clone());
        }
        if keep {
            // Failed pods go (to be made again); one pod per node.
            let (failed, live): (Vec<&Value>, Vec<&Value>) = on_node
                .iter()
                .partition(|p| s(p, "/status/phase") == "Failed");
            to_delete.extend(failed);
            if surge > 0 {
                // A surge update may run the oldest new pod beside the oldest old one.
                let new = live.iter().find(|p| updated(p));
                let old = live.iter().find(|p| !updated(p));
                to_delete.extend(live.iter().filter(|p| {
                    let uid = s(p, "/metadata/uid");
                    [new, old]
                        .iter()
                        .all(|k| k.is_none_or(|k| s(k, "/metadata/uid") != uid))
                }));
            } else {
                to_delete.extend(live.iter().skip(1));
            }
            if run {
                scheduled.push((node_name, live));
            }
        } else {
            to_delete.extend(on_node);
        }
    }
    for (node, on_node) in &by_node {
        if !node.is_empty() && !node_names.contains(node.as_str()) {
            to_delete.extend(on_node);
        }
    }
    let mut status = json!({
        "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired, "numberReady": ready,
        "observedGeneration": set.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "updatedNumberScheduled": up_to_date, "numberAvailable": available,
        "numberUnavailable": desired - available,
    });
    if synced.collision_count != 0 {
        status["collisionCount"] = json!(synced.collision_count);
    }
    if let Some(map) = status.as_object_mut() {
        // Go's `omitempty` on the optional counts.
        map.retain(|k, v| {
            !matches!(
                k.as_str(),
                "updatedNumberScheduled" | "numberAvailable" | "numberUnavailable"
            ) || v.as_i64() != Some(0)
        });
    }
    if set.get("status") != Some(&status) {
        let mut body = set.clone();
        body["status"] = status;
        rest.update(&t.sets, Some(ns), name, body, &opts(), Some("status"))
            .await?;
    }
    if let Some(d) = next_wake {
        let (wake, key) = (wake.clone(), (ns.to_string(), name.to_string()));
        tokio::spawn(async move {
            tokio::time::sleep(d + Duration::from_millis(10)).await;
            let _ = wake.send(key);
        });
    }
    let mut live: HashSet<String> = [s(&synced.update, "/metadata/name").to_string()].into();
    let pod_hashes: HashSet<&str> = pods
        .iter()
        .map(|p| s(p, &format!("/metadata/labels/{HASH_LABEL}")))
        .collect();
    live.extend(
        synced
            .revisions
            .iter()
            .filter(|r| pod_hashes.contains(s(r, &format!("/metadata/labels/{HASH_LABEL}"))))
            .map(|r| s(r, "/metadata/name").to_string()),
    );
    revisions::truncate(rest, &t.revisions, &set, &synced.revisions, &live).await?;

    let ctx = Ctx {
        rest,
        t,
        set: &set,
        ns,
    };
    for node in &to_create {
        ctx.create_pod(node, &hash).await?;
    }
    for p in &to_delete {
        ctx.delete_pod(p).await?;
    }
    // As upstream, the rolling update waits for a pass that made no other change.
    if !to_create.is_empty() || !to_delete.is_empty() {
        return Ok(());
    }
    if s(&set, "/spec/updateStrategy/type") == "OnDelete" {
        return Ok(());
    }
    let is_available = |p: &Value| available_in(p, min_ready) == Some(Duration::ZERO);
    if surge > 0 {
        // Upstream's surge update: a new pod next to the old one on at most maxSurge nodes at
        // a time (at once where the old one is unavailable), the old one deleted once the new
        // one is available.
        let (mut surging, mut allowed, mut candidates, mut old_to_delete) =
            (0i64, Vec::new(), Vec::new(), Vec::new());
        for (node, live) in &scheduled {
            let new: Vec<&&Value> = live.iter().filter(|p| updated(p)).collect();
            let old: Vec<&&Value> = live.iter().filter(|p| !updated(p)).collect();
            if new.len() > 1 || old.len() > 1 {
                surging += 1;
                continue;
            }
            match (new.first(), old.first()) {
                (_, None) => {}
                (None, Some(old)) => {
                    if !is_available(old) {
                        allowed.push(node.clone());
                    } else if surging < surge {
                        surging += 1;
                        allowed.push(node.clone());
                    } else {
                        candidates.push(node.clone());
                    }
                }
                (Some(new), Some(old)) => {
                    if is_available(new) {
                        old_to_delete.push(**old);
                    } else {
                        surging += 1;
                    }
                }
            }
        }
        let remaining = (surge - surging).max(0) as usize;
        for node in allowed.iter().chain(candidates.iter().take(remaining)) {
            ctx.create_pod(node, &hash).await?;
        }
        for p in old_to_delete {
            ctx.delete_pod(p).await?;
        }
        return Ok(());
    }
    let max_unavailable = max_unavailable(&set, desired);
    let terminating: HashSet<String> = pods.iter().filter(|p| deleting(p)).map(node_of).collect();
    let mut unavailable = scheduled
        .iter()
        .filter(|(node, live)| {
            terminating.contains(node) || live.first().is_none_or(|p| !is_available(p))
        })
        .count() as i64;
    let outdated: Vec<&Value> = scheduled
        .iter()
        .filter_map(|(_, live)| live.first().copied().filter(|p| !updated(p)))
        .collect();
    // Unavailable outdated pods go at once; available ones while the budget allows.
    for p in outdated.iter().filter(|p| !is_available(p)) {
        ctx.delete_pod(p).await?;
    }
    for p in outdated.iter().filter(|p| is_available(p)) {
        if unavailable >= max_unavailable {
            break;
        }
        ctx.delete_pod(p).await?;
        unavailable += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}})
    }

    #[test]
    fn eligibility_follows_selectors_affinity_and_taints() {
        let mut spec = json!({"containers": []});
        add_tolerations(&mut spec);
        let plain = node("a", json!({"type": "kwok"}), json!([]));
        assert_eq!(should_run(&spec, &plain), (true, true));
        let no_schedule = node(
            "b",
            json!({}),
            json!([{"key": "k", "value": "v", "effect": "NoSchedule"}]),
        );
        assert_eq!(should_run(&spec, &no_schedule), (false, true));
        let no_execute = node("c", json!({}), json!([{"key": "k", "effect": "NoExecute"}]));
        assert_eq!(should_run(&spec, &no_execute), (false, false));
        let not_ready = node(
            "d",
            json!({}),
            json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
        );
        assert_eq!(should_run(&spec, &not_ready), (true, true), "tolerated");
        let mut selective = spec.clone();
        selective["nodeSelector"] = json!({"disk": "ssd"});
        assert_eq!(should_run(&selective, &plain), (false, false));
        let ssd = node("e", json!({"disk": "ssd"}), json!([]));
        assert_eq!(should_run(&selective, &ssd), (true, true));
        let mut affine = spec.clone();
        affine["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "type", "operator": "In", "values": ["kwok"]}]}]}}});
        assert_eq!(should_run(&affine, &plain), (true, true));
        assert_eq!(should_run(&affine, &ssd), (false, false));
    }

    #[test]
    fn pods_are_targeted_at_their_node() {
        let mut spec = json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "type", "operator": "In", "values": ["kwok"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": []}}});
        target_node(&mut spec, "n1");
        assert_eq!(
            spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]})
        );
        assert!(
            spec["affinity"]["nodeAffinity"]
                .get("preferredDuringSchedulingIgnoredDuringExecution")
                .is_some()
        );
        let mut host = json!({"hostNetwork": true,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]});
        add_tolerations(&mut host);
        let tolerations = host["tolerations"].as_array().cloned().unwrap_or_default();
        assert_eq!(tolerations.len(), 7);
        assert!(
            tolerations
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/network-unavailable")
        );
    }
}
