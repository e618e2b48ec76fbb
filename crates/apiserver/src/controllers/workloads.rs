//! Simulated workloads (kwok-style): Deployments become ready without a kubelet.
//!
//! - A node `kubeforge-node` exists and is Ready.
//! - Deployments get an owned ReplicaSet per pod template (`<name>-<pod-template-hash>`); the
//!   current one is scaled to the desired replicas and older ones to zero, and the Deployment's
//!   status (replicas, updated/ready/available replicas, observedGeneration, conditions
//!   Available and Progressing, revision annotation) follows, so `kubectl rollout status` completes.
//! - Revisions as upstream's deployment controller keeps them (`sync.go`, `deployment_util.go`):
//!   the ReplicaSet whose template equals the Deployment's (ignoring `pod-template-hash`) is the
//!   new one, reused when a rollback brings its template back; it gets revision max(old) + 1
//!   (`deployment.kubernetes.io/revision`), its earlier revisions listed in
//!   `deployment.kubernetes.io/revision-history`, the Deployment's other annotations, and
//!   `desired-replicas`/`max-replicas` (replicas, replicas + maxSurge) when scaled; the
//!   Deployment's revision annotation is the new ReplicaSet's. Once a rollout is complete, old
//!   ReplicaSets scaled to zero beyond `spec.revisionHistoryLimit` (10 when unset, the API's
//!   default) are deleted, oldest revision first. So `kubectl rollout history`, `rollout undo
//!   [--to-revision]` and `rollout status --revision` work as against a cluster.
//! - ReplicaSets get owned Pods (created or deleted to match replicas), with status.
//! - Pods without a node are bound to the node their required node affinity names with a
//!   `matchFields` term `metadata.name In [node]` if that Node exists (DaemonSet pods), else to
//!   `kubeforge-node`; pods on any Node labelled `type: kwok` are marked Running and Ready (the
//!   kubelet's part), with an IP.
//! - A deleted pod on such a node (deleted gracefully: Terminating, with a deletionTimestamp) has its
//!   containers stopped after a short simulated delay (the builder's `pod_termination_delay`,
//!   at most the grace period): its status shows them terminated, then the kubelet's part ends
//!   with a delete with grace period 0, which removes it.
//! - The deployment and replicaset controllers' events (`ScalingReplicaSet`, `SuccessfulCreate`,
//!   `SuccessfulDelete`) are recorded as upstream's are (spam-filtered per object, see
//!   `events.rs`), so `kubectl describe` shows them.
//!
//! Everything is level-driven from the change stream: an event marks the affected objects dirty,
//! and each dirty object is reconciled against the current state.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::owned::{Key, OwnedIndex, controller_uid};
use super::scheduler::Placement;
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, PatchType, Rest, WriteOptions};
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::nodes::NODE_NAME;
/// How long the simulated kubelet takes, by default, to stop a deleted pod's containers.
pub const TERMINATION_DELAY: Duration = Duration::from_secs(1);
const MANAGER: &str = "kubeforge-workloads";

struct Types {
    deployments: Arc<ResourceType>,
    replicasets: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    nodes: Arc<ResourceType>,
    /// The deployment controller's events.
    deployment_events: EventRecorder,
    /// The replicaset controller's events.
    replicaset_events: EventRecorder,
    /// The scheduler's events.
    scheduler_events: EventRecorder,
    /// Pods per node, for the scheduler.
    placement: Mutex<Placement>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        deployments: r.find("apps", "v1", "deployments")?,
        replicasets: r.find("apps", "v1", "replicasets")?,
        pods: r.find("", "v1", "pods")?,
        nodes: r.find("", "v1", "nodes")?,
        deployment_events: EventRecorder::new("deployment-controller"),
        replicaset_events: EventRecorder::new("replicaset-controller"),
        scheduler_events: EventRecorder::new("default-scheduler"),
        placement: Mutex::default(),
    })
}

impl Types {
    /// The scheduler's view of where pods are.
    fn placement(&self) -> std::sync::MutexGuard<'_, Placement> {
        self.placement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pod `key` is on `node` (`None` or "": unbound or gone).
    fn place(&self, key: &Key, node: Option<&str>) {
        self.placement()
            .observe(key, node.filter(|n| !n.is_empty()));
    }
}

fn opts() -> WriteOptions {
    super::write_options(MANAGER)
}

use super::str_at as s;

fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

fn owner_ref(kind: &str, api_version: &str, owner: &Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": s(owner, "/metadata/name"), "uid": s(owner, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true})
}

/// A stable, DNS-safe hash of a pod template (FNV-1a over its JSON).
fn template_hash(template: &Value) -> String {
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    for _ in 0..10 {
        out.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
    }
    out
}

/// The current objects of `rt` that `index` says `owner` controls.
fn owned(rest: &Rest, rt: &ResourceType, index: &OwnedIndex, owner: &str) -> Vec<Value> {
    index
        .owned_by(owner)
        .into_iter()
        .filter_map(|(ns, name)| rest.get_value(rt, Some(&ns), &name).ok())
        .collect()
}

/// The ReplicaSets and Pods each controller owns.
#[derive(Default)]
struct Owned {
    replicasets: OwnedIndex,
    pods: OwnedIndex,
}

/// The simulated kubelet's state: pod IPs handed out, and the pods (by uid) it is terminating.
struct Kubelet {
    ip: AtomicU32,
    termination_delay: Duration,
    terminating: Arc<Mutex<HashSet<String>>>,
}

/// Runs the simulation until the store closes; deleted pods take `termination_delay` to stop.
pub async fn run(rest: Rest, termination_delay: Duration) {
    let Some(t) = types(&rest) else { return };
    let ip = Kubelet {
        ip: AtomicU32::new(2),
        termination_delay,
        terminating: Arc::default(),
    };
    let mut index = Owned::default();
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let mut dirty = Dirty::default();
        match change {
            Change::Resync { .. } => {
                index = Owned::default();
                // Relisted from scratch: where pods are is learnt again from the list.
                *t.placement() = Placement::default();
                for (rt, set, owned) in [
                    (&t.deployments, &mut dirty.deployments, None),
                    (
                        &t.replicasets,
                        &mut dirty.replicasets,
                        Some(&mut index.replicasets),
                    ),
                    (&t.pods, &mut dirty.pods, Some(&mut index.pods)),
                ] {
                    if let Ok(list) = rest.list(rt, None, &ListOptions::default()).await {
                        let mut owned = owned;
                        for o in list.items {
                            let v = o.value();
                            let key: Key = (
                                s(&v, "/metadata/namespace").to_string(),
                                s(&v, "/metadata/name").to_string(),
                            );
                            if let Some(owned) = owned.as_deref_mut() {
                                owned.set(key.clone(), controller_uid(&v));
                            }
                            if rt.storage_key == t.pods.storage_key {
                                t.place(&key, Some(s(&v, "/spec/nodeName")));
                            }
                            set.insert(key);
                        }
                    }
                }
            }
            Change::Events(events) => {
                let mut nodes_changed = false;
                for e in events {
                    let key = (e.key.namespace.clone(), e.key.name.clone());
                    let v = e.object.value();
                    let owner = v
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .and_then(|a| {
                            a.iter().find(|r| {
                                r.get("controller").and_then(Value::as_bool) == Some(true)
                            })
                        })
                        .map(|r| {
                            (
                                e.key.namespace.clone(),
                                s(r, "/name").to_string(),
                                s(r, "/kind").to_string(),
                            )
                        });
                    let gone = matches!(e.event_type, EventType::Deleted);
                    if e.key.resource == t.deployments.storage_key {
                        dirty.deployments.insert(key);
                    } else if e.key.resource == t.replicasets.storage_key {
                        index.replicasets.update(&key, gone, &v);
                        dirty.replicasets.insert(key);
                        if let Some((ns, name, kind)) = owner
                            && kind == "Deployment"
                        {
                            dirty.deployments.insert((ns, name));
                        }
                    } else if e.key.resource == t.nodes.storage_key {
                        if !gone {
                            super::nodes::adopt(&rest, &v).await;
                        }
                        // A node came, went, or changed (cordoned, tainted, relabelled): pods
                        // waiting for one are scheduled again (looked for once per batch).
                        nodes_changed = true;
                    } else if e.key.resource == t.pods.storage_key {
                        t.place(&key, (!gone).then(|| s(&v, "/spec/nodeName")));
                        index.pods.update(&key, gone, &v);
                        dirty.pods.insert(key);
                        if let Some((ns, name, kind)) = owner
                            && kind == "ReplicaSet"
                        {
                            dirty.replicasets.insert((ns, name));
                        }
                    }
                }
                if nodes_changed {
                    for p in rest.store.current(&t.pods.storage_key) {
                        let p = p.value();
                        if s(&p, "/spec/nodeName").is_empty() && !deleting(&p) {
                            dirty.pods.insert((
                                s(&p, "/metadata/namespace").to_string(),
                                s(&p, "/metadata/name").to_string(),
                            ));
                        }
                    }
                }
            }
        }
        reconcile(&rest, &t, &ip, &index, dirty).await;
    }
}

#[derive(Default)]
struct Dirty {
    deployments: BTreeSet<(String, String)>,
    replicasets: BTreeSet<(String, String)>,
    pods: BTreeSet<(String, String)>,
}

async fn reconcile(rest: &Rest, t: &Types, ip: &Kubelet, index: &Owned, dirty: Dirty) {
    for (ns, name) in dirty.deployments {
        if let Err(e) = deployment(rest, t, index, &ns, &name).await {
            tracing::debug!(namespace = ns, deployment = name, error = %e, "simulating deployment");
        }
    }
    for (ns, name) in dirty.replicasets {
        if let Err(e) = replicaset(rest, t, index, &ns, &name).await {
            tracing::debug!(namespace = ns, replicaset = name, error = %e, "simulating replicaset");
        }
    }
    for (ns, name) in dirty.pods {
        if let Err(e) = pod(rest, t, ip, &ns, &name).await {
            tracing::debug!(namespace = ns, pod = name, error = %e, "simulating kubelet");
        }
    }
}

type Step = Result<(), crate::status::ApiError>;

/// The annotations the deployment controller keeps.
const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Deployment annotations never copied to its ReplicaSets (upstream's `annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: &[&str] = &[
    crate::rest::apply::LAST_APPLIED,
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
/// How long `revision-history` may grow (upstream's `maxRevHistoryLengthInChars`).
const MAX_REVISION_HISTORY_CHARS: usize = 2000;
/// `spec.revisionHistoryLimit` when unset (the API's default; this server does not default it).
const DEFAULT_REVISION_HISTORY_LIMIT: i64 = 10;

/// The revision of ReplicaSet `rs` (0 without a valid one).
fn revision(rs: &Value) -> i64 {
    annotations(rs)
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn annotations(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    v.pointer("/metadata/annotations")
        .and_then(Value::as_object)
}

/// `value` (an int or a percentage of `total`) resolved as upstream's
/// `GetScaledValueFromIntOrPercent`.
fn scaled(value: Option<&Value>, default: &str, total: i64, round_up: bool) -> i64 {
    let value = value.cloned().unwrap_or_else(|| json!(default));
    match &value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(p) => match p.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) {
            Some(pct) if round_up => (pct * total + 99) / 100,
            Some(pct) => pct * total / 100,
            None => p.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// maxSurge of Deployment `d` resolved against `replicas` (0 for `Recreate`).
fn max_surge(d: &Value, replicas: i64) -> i64 {
    if s(d, "/spec/strategy/type") == "Recreate" {
        return 0;
    }
    scaled(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        "25%",
        replicas,
        true,
    )
}

/// A pod template as upstream's `EqualIgnoreHash` compares it: without the `pod-template-hash`
/// label, and with nulls and empty maps and lists (semantically absent) left out.
fn template_key(template: &Value) -> Value {
    fn normalize(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> = m
                    .iter()
                    .filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            Value::Array(items) => (!items.is_empty()).then(|| {
                Value::Array(
                    items
                        .iter()
                        .map(|i| normalize(i).unwrap_or(Value::Null))
                        .collect(),
                )
            }),
            other => Some(other.clone()),
        }
    }
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.shift_remove("pod-template-hash");
    }
    normalize(&t).unwrap_or(Value::Null)
}

/// Upstream's `SetNewReplicaSetAnnotations` on the annotations of the new ReplicaSet: the
/// Deployment's annotations copied, the revision raised to `new_revision` (the earlier one
/// appended to the revision history: a rollback), and for a ReplicaSet about to be created the
/// replicas annotations. Returns whether anything changed.
fn set_new_rs_annotations(
    d: &Value,
    rs: &mut serde_json::Map<String, Value>,
    new_revision: i64,
    exists: bool,
    replicas: (i64, i64),
) -> bool {
    let mut changed = false;
    for (k, v) in annotations(d).into_iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&k.as_str()) || rs.get(k) == Some(v) {
            continue;
        }
        rs.insert(k.clone(), v.clone());
        changed = true;
    }
    let old = rs.get(REVISION).and_then(Value::as_str).map(str::to_string);
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(r) => match r.parse::<i64>() {
            Ok(r) => r,
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        rs.insert(REVISION.into(), json!(new_revision.to_string()));
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = rs
                .get(REVISION_HISTORY)
                .and_then(Value::as_str)
                .unwrap_or("");
            if history.is_empty() {
                rs.insert(REVISION_HISTORY.into(), json!(old));
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REVISION_HISTORY_CHARS {
                    revisions.drain(..start);
                    revisions.push(&old);
                    rs.insert(REVISION_HISTORY.into(), json!(revisions.join(",")));
                }
            }
        }
    }
    if !exists {
        changed |= set_replicas_annotations(rs, replicas);
    }
    changed
}

/// Upstream's `SetReplicasAnnotations`: `desired-replicas` and `max-replicas`.
fn set_replicas_annotations(
    rs: &mut serde_json::Map<String, Value>,
    (desired, max): (i64, i64),
) -> bool {
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = json!(value.to_string());
        if rs.get(key) != Some(&value) {
            rs.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

async fn deployment(rest: &Rest, t: &Types, index: &Owned, ns: &str, name: &str) -> Step {
    let Ok(mut d) = rest.get_value(&t.deployments, Some(ns), name) else {
        return Ok(());
    };
    if deleting(&d) {
        return Ok(());
    }
    let uid = s(&d, "/metadata/uid").to_string();
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let replicas_annotations = (desired, desired + max_surge(&d, desired));
    let min_ready = d.pointer("/spec/minReadySeconds").cloned();
    let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = template_hash(&template);
    let owned: Vec<Value> = owned(rest, &t.replicasets, &index.replicasets, &uid)
        .into_iter()
        .filter(|rs| controller_uid(rs).as_deref() == Some(uid.as_str()) && !deleting(rs))
        .collect();
    // The new ReplicaSet: the oldest whose template is the Deployment's (upstream's
    // FindNewReplicaSet), whatever hash its name carries (a rollback brings one back).
    let wanted = template_key(&template);
    let current = owned
        .iter()
        .filter(|rs| template_key(rs.pointer("/spec/template").unwrap_or(&Value::Null)) == wanted)
        .min_by(|a, b| {
            (s(a, "/metadata/creationTimestamp"), s(a, "/metadata/name"))
                .cmp(&(s(b, "/metadata/creationTimestamp"), s(b, "/metadata/name")))
        });
    let old: Vec<&Value> = owned
        .iter()
        .filter(|rs| current.is_none_or(|c| s(c, "/metadata/uid") != s(rs, "/metadata/uid")))
        .collect();
    let new_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0) + 1;
    let new_rs_name = current
        .map(|rs| s(rs, "/metadata/name").to_string())
        .unwrap_or_else(|| format!("{name}-{hash}"));
    let current_revision = match current {
        None => {
            let mut tpl = template.clone();
            tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(json!({}));
            labels["pod-template-hash"] = json!(hash);
            let mut rs_annotations = serde_json::Map::new();
            set_new_rs_annotations(
                &d,
                &mut rs_annotations,
                new_revision,
                false,
                replicas_annotations,
            );
            let mut rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": new_rs_name, "namespace": ns, "labels": labels,
                    "annotations": rs_annotations,
                    "ownerReferences": [owner_ref("Deployment", "apps/v1", &d)]},
                "spec": {"replicas": desired, "selector": selector, "template": tpl},
            });
            if let Some(m) = &min_ready {
                rs["spec"]["minReadySeconds"] = m.clone();
            }
            match rest.create(&t.replicasets, Some(ns), rs, &opts()).await {
                Ok(_) => {
                    let message =
                        format!("Scaled up replica set {new_rs_name} from 0 to {desired}");
                    scaling_event(rest, t, &d, message);
                }
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
            new_revision
        }
        Some(rs) => {
            let mut rs_annotations = annotations(rs).cloned().unwrap_or_default();
            let changed = set_new_rs_annotations(
                &d,
                &mut rs_annotations,
                new_revision,
                true,
                replicas_annotations,
            );
            if changed || rs.pointer("/spec/minReadySeconds") != min_ready.as_ref() {
                let patch = json!({"metadata": {"annotations": rs_annotations},
                    "spec": {"minReadySeconds": min_ready.clone().unwrap_or(Value::Null)}});
                rest.patch(
                    &t.replicasets,
                    Some(ns),
                    s(rs, "/metadata/name"),
                    PatchType::Merge,
                    patch.to_string().as_bytes(),
                    &opts(),
                    None,
                )
                .await?;
            }
            if rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(desired) {
                scale_rs(rest, t, &d, rs, desired, replicas_annotations).await?;
            }
            rs_annotations
                .get(REVISION)
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok())
                .unwrap_or(new_revision)
        }
    };
    for rs in &old {
        if rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(0) {
            scale_rs(rest, t, &d, rs, 0, replicas_annotations).await?;
        }
    }
    // The Deployment's revision is its new ReplicaSet's (set before the status, as upstream's
    // getNewReplicaSet does, so a finished rollout shows its revision).
    let rev = current_revision.to_string();
    if s(
        &d,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
    ) != rev
    {
        let patch =
            json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": rev}}});
        d = rest
            .patch(
                &t.deployments,
                Some(ns),
                name,
                PatchType::Merge,
                patch.to_string().as_bytes(),
                &opts(),
                None,
            )
            .await?
            .object;
    }
    // Status from the owned ReplicaSets.
    let sum = |p: &str| {
        owned
            .iter()
            .map(|rs| rs.pointer(p).and_then(Value::as_i64).unwrap_or(0))
            .sum::<i64>()
    };
    let updated = current
        .and_then(|rs| rs.pointer("/status/replicas").and_then(Value::as_i64))
        .unwrap_or(0);
    let replicas = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let complete = updated == desired && replicas == desired && available == desired;
    let now = crate::rest::now();
    let old_conditions = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let condition = |type_: &str, status: bool, reason: &str, message: String| {
        let status_s = if status { "True" } else { "False" };
        let since = old_conditions
            .iter()
            .find(|c| s(c, "/type") == type_ && s(c, "/status") == status_s)
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or(json!(now));
        json!({"type": type_, "status": status_s, "reason": reason, "message": message, "lastUpdateTime": since, "lastTransitionTime": since})
    };
    let available_ok = available >= desired;
    let conditions = vec![
        if available_ok {
            condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        },
        if complete {
            condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet {new_rs_name:?} has successfully progressed."),
            )
        } else {
            condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                format!("ReplicaSet {new_rs_name:?} is progressing."),
            )
        },
    ];
    let mut status = json!({
        "observedGeneration": d.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
        "conditions": conditions,
    });
    if replicas - available > 0 {
        status["unavailableReplicas"] = json!(replicas - available);
    }
    let mut map = status.as_object().cloned().unwrap_or_default();
    map.retain(|k, v| k == "conditions" || k == "observedGeneration" || v.as_i64() != Some(0));
    let status = Value::Object(map);
    if d.get("status") != Some(&status) {
        let mut body = d.clone();
        body["status"] = status;
        rest.update(
            &t.deployments,
            Some(ns),
            name,
            body,
            &opts(),
            Some("status"),
        )
        .await?;
    }
    if complete {
        cleanup(rest, t, &d, &old).await?;
    }
    Ok(())
}

/// Upstream's `cleanupDeployment`: old ReplicaSets beyond the Deployment's
/// `revisionHistoryLimit` are deleted, oldest revision first, those scaled to zero and settled
/// only.
async fn cleanup(rest: &Rest, t: &Types, d: &Value, old: &[&Value]) -> Step {
    let limit = d
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
        .max(0);
    let excess = old.len() as i64 - limit;
    if excess <= 0 {
        return Ok(());
    }
    let mut by_revision: Vec<&Value> = old.to_vec();
    by_revision.sort_by(|a, b| {
        (
            revision(a),
            s(a, "/metadata/creationTimestamp"),
            s(a, "/metadata/name"),
        )
            .cmp(&(
                revision(b),
                s(b, "/metadata/creationTimestamp"),
                s(b, "/metadata/name"),
            ))
    });
    let int = |rs: &Value, p: &str| rs.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    for rs in by_revision.into_iter().take(excess as usize) {
        if int(rs, "/status/replicas") != 0
            || int(rs, "/spec/replicas") != 0
            || int(rs, "/metadata/generation") > int(rs, "/status/observedGeneration")
        {
            continue;
        }
        match rest
            .delete(
                &t.replicasets,
                Some(s(rs, "/metadata/namespace")),
                s(rs, "/metadata/name"),
                &DeleteOptions::default(),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Records the deployment controller's `ScalingReplicaSet` event on Deployment `d`.
fn scaling_event(rest: &Rest, t: &Types, d: &Value, message: String) {
    let kind = ("apps/v1", "Deployment");
    t.deployment_events
        .normal(rest, d, kind, "ScalingReplicaSet", message);
}

/// Scales ReplicaSet `rs` of Deployment `d` to `replicas`, recording the event; as upstream's
/// `scaleReplicaSet`, the ReplicaSet's replicas annotations become the Deployment's
/// (`annotations`: its replicas, and replicas + maxSurge).
async fn scale_rs(
    rest: &Rest,
    t: &Types,
    d: &Value,
    rs: &Value,
    replicas: i64,
    (desired, max): (i64, i64),
) -> Step {
    let (ns, name) = (s(rs, "/metadata/namespace"), s(rs, "/metadata/name"));
    let from = rs
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let patch = json!({"spec": {"replicas": replicas}, "metadata": {"annotations": {
        (DESIRED_REPLICAS): desired.to_string(), (MAX_REPLICAS): max.to_string()}}});
    rest.patch(
        &t.replicasets,
        Some(ns),
        name,
        PatchType::Merge,
        patch.to_string().as_bytes(),
        &opts(),
        None,
    )
    .await?;
    let direction = if replicas > from { "up" } else { "down" };
    let message = format!("Scaled {direction} replica set {name} from {from} to {replicas}");
    scaling_event(rest, t, d, message);
    Ok(())
}

/// Records the replicaset controller's event `reason` on ReplicaSet `rs`.
fn replica_set_event(rest: &Rest, t: &Types, rs: &Value, reason: &str, message: String) {
    let kind = ("apps/v1", "ReplicaSet");
    t.replicaset_events.normal(rest, rs, kind, reason, message);
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
        })
}

async fn replicaset(rest: &Rest, t: &Types, index: &Owned, ns: &str, name: &str) -> Step {
    let Ok(rs) = rest.get_value(&t.replicasets, Some(ns), name) else {
        return Ok(());
    };
    if deleting(&rs) {
        return Ok(());
    }
    let uid = s(&rs, "/metadata/uid").to_string();
    let desired = rs
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0);
    let mut pods: Vec<Value> = owned(rest, &t.pods, &index.pods, &uid)
        .into_iter()
        .filter(|p| controller_uid(p).as_deref() == Some(uid.as_str()) && !deleting(p))
        .collect();
    let have = pods.len() as i64;
    if have < desired {
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        for _ in have..desired {
            let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
            meta["generateName"] = json!(format!("{name}-"));
            meta["namespace"] = json!(ns);
            meta["ownerReferences"] = json!([owner_ref("ReplicaSet", "apps/v1", &rs)]);
            let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
            // Scheduled as it is created (one write, not a create and a binding); a pod no node
            // fits is created unbound, and waits for the scheduler below.
            let node = super::nodes::schedule(rest, &spec, &t.placement()).ok();
            if let Some(node) = &node {
                spec["nodeName"] = json!(node);
            }
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
            let created = rest.create(&t.pods, Some(ns), pod, &opts()).await?;
            let pod_name = s(&created.object, "/metadata/name").to_string();
            t.place(&(ns.to_string(), pod_name.clone()), node.as_deref());
            replica_set_event(
                rest,
                t,
                &rs,
                "SuccessfulCreate",
                format!("Created pod: {pod_name}"),
            );
        }
    } else if have > desired {
        // Delete not-ready pods first, then the youngest.
        pods.sort_by_key(|p| {
            (
                pod_ready(p),
                std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_string()),
            )
        });
        for p in pods.iter().take((have - desired) as usize) {
            match rest
                .delete(
                    &t.pods,
                    Some(ns),
                    s(p, "/metadata/name"),
                    &DeleteOptions::default(),
                )
                .await
            {
                Ok(_) => {
                    let message = format!("Deleted pod: {}", s(p, "/metadata/name"));
                    replica_set_event(rest, t, &rs, "SuccessfulDelete", message);
                }
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        pods.drain(..(have - desired) as usize);
    }
    let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
    let mut status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready,
        "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1))});
    if let Some(map) = status.as_object_mut() {
        map.retain(|k, v| k == "replicas" || k == "observedGeneration" || v.as_i64() != Some(0));
    }
    if rs.get("status") != Some(&status) {
        let mut body = rs.clone();
        body["status"] = status;
        rest.update(
            &t.replicasets,
            Some(ns),
            name,
            body,
            &opts(),
            Some("status"),
        )
        .await?;
    }
    Ok(())
}

async fn pod(rest: &Rest, t: &Types, kubelet: &Kubelet, ns: &str, name: &str) -> Step {
    let Ok(p) = rest.get_value(&t.pods, Some(ns), name) else {
        return Ok(());
    };
    if deleting(&p) {
        if super::nodes::simulated(rest, s(&p, "/spec/nodeName")) {
            terminate(rest, t, kubelet, p);
        }
        return Ok(());
    }
    if s(&p, "/spec/nodeName").is_empty() {
        return schedule(rest, t, &p).await;
    }
    if !super::nodes::simulated(rest, s(&p, "/spec/nodeName")) {
        return Ok(());
    }
    // Running: ephemeral containers added and resizes are carried out at once.
    if s(&p, "/status/phase") == "Running" {
        let Some(status) = running_status(&p) else {
            return Ok(());
        };
        let mut body = p.clone();
        body["status"] = status;
        return rest
            .update(&t.pods, Some(ns), name, body, &opts(), Some("status"))
            .await
            .map(|_| ());
    }
    // Ended (a Job's pods end: `jobs.rs`): nothing to start.
    if matches!(s(&p, "/status/phase"), "Succeeded" | "Failed") {
        return Ok(());
    }
    let now = crate::rest::now();
    let n = kubelet.ip.fetch_add(1, Ordering::Relaxed);
    let pod_ip = format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 2);
    let containers = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let mut status = json!({"name": s(c, "/name"), "image": s(c, "/image"), "imageID": format!("simulated://{}", s(c, "/image")), "ready": true, "started": true, "restartCount": 0,
                "containerID": format!("kubeforge://{}", uuid::Uuid::new_v4()), "state": {"running": {"startedAt": now}}});
            report_resources(&mut status, c);
            status
        })
        .collect();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let mut body = p.clone();
    body["status"] = json!({
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": now, "qosClass": crate::registry::core::pods::qos_class(&p),
        "containerStatuses": statuses,
    });
    rest.update(&t.pods, Some(ns), name, body, &opts(), Some("status"))
        .await
        .map(|_| ())
}

/// The resources a 1.33 kubelet reports a running container has (`resources`, which tells the
/// API server the node resizes in place, and `allocatedResources`): the cpu and memory of its
/// spec.
fn report_resources(status: &mut Value, container: &Value) {
    let mut resources = serde_json::Map::new();
    for which in ["requests", "limits"] {
        let given = container
            .pointer(&format!("/resources/{which}"))
            .and_then(Value::as_object);
        let list: serde_json::Map<String, Value> = given
            .into_iter()
            .flatten()
            .filter(|(r, _)| matches!(r.as_str(), "cpu" | "memory"))
            .map(|(r, q)| (r.clone(), q.clone()))
            .collect();
        if !list.is_empty() {
            resources.insert(which.into(), Value::Object(list));
        }
    }
    match resources.get("requests") {
        Some(requests) => status["allocatedResources"] = requests.clone(),
        None => {
            if let Some(m) = status.as_object_mut() {
                m.remove("allocatedResources");
            }
        }
    }
    status["resources"] = Value::Object(resources);
}

/// The status of running pod `p` once the kubelet has caught up with its spec, if that changes
/// it: each ephemeral container started (reported in `ephemeralContainerStatuses`), and each
/// container's resources as resized (`pods/resize`).
fn running_status(p: &Value) -> Option<Value> {
    let mut status = p.get("status").cloned().unwrap_or(json!({}));
    let now = crate::rest::now();
    let specs = |list: &str| {
        p.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut ephemeral: Vec<Value> = status
        .get("ephemeralContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in specs("ephemeralContainers") {
        if ephemeral.iter().any(|e| s(e, "/name") == s(&c, "/name")) {
            continue;
        }
        ephemeral.push(json!({"name": s(&c, "/name"), "image": s(&c, "/image"), "imageID": format!("simulated://{}", s(&c, "/image")),
            "ready": false, "restartCount": 0, "containerID": format!("kubeforge://{}", uuid::Uuid::new_v4()),
            "state": {"running": {"startedAt": now}}}));
    }
    if !ephemeral.is_empty() {
        status["ephemeralContainerStatuses"] = json!(ephemeral);
    }
    let containers = specs("containers");
    if let Some(statuses) = status
        .get_mut("containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for cs in statuses.iter_mut() {
            if let Some(c) = containers.iter().find(|c| s(c, "/name") == s(cs, "/name")) {
                report_resources(cs, c);
            }
        }
    }
    (p.get("status") != Some(&status)).then_some(status)
}

/// The scheduler's part for unbound pod `p`: bound to the node that fits (pod updates may not
/// set `nodeName`), or marked unschedulable with upstream's condition and event.
async fn schedule(rest: &Rest, t: &Types, p: &Value) -> Step {
    let (ns, name) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"));
    let spec = p.get("spec").cloned().unwrap_or(json!({}));
    let placed = super::nodes::schedule(rest, &spec, &t.placement());
    match placed {
        Ok(node) => {
            let mut bound = p.clone();
            bound["spec"]["nodeName"] = json!(node);
            rest.update(&t.pods, Some(ns), name, bound, &opts(), Some("binding"))
                .await?;
            t.place(&(ns.to_string(), name.to_string()), Some(&node));
            Ok(())
        }
        // Gated, or another scheduler's: left unbound.
        Err(message) if message.is_empty() => Ok(()),
        Err(message) => {
            let conditions = p
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let current = conditions.iter().find(|c| s(c, "/type") == "PodScheduled");
            if current.is_some_and(|c| s(c, "/status") == "False" && s(c, "/message") == message) {
                return Ok(());
            }
            t.scheduler_events
                .warning(rest, p, ("v1", "Pod"), "FailedScheduling", message.clone());
            let mut conditions: Vec<Value> = conditions
                .into_iter()
                .filter(|c| s(c, "/type") != "PodScheduled")
                .collect();
            conditions.push(json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                "lastTransitionTime": crate::rest::now(), "reason": "Unschedulable", "message": message}));
            let mut body = p.clone();
            body["status"]["phase"] = json!("Pending");
            body["status"]["conditions"] = json!(conditions);
            rest.update(&t.pods, Some(ns), name, body, &opts(), Some("status"))
                .await
                .map(|_| ())
        }
    }
}

/// The kubelet's part of a graceful deletion, once per pod: after the simulated delay (at most
/// the grace period), the containers are reported terminated, then the pod is deleted with
/// grace period 0 (guarded by its uid, as the kubelet's status manager does).
fn terminate(rest: &Rest, t: &Types, kubelet: &Kubelet, p: Value) {
    let uid = s(&p, "/metadata/uid").to_string();
    if !kubelet
        .terminating
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(uid.clone())
    {
        return;
    }
    let grace = p
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    let delay = kubelet
        .termination_delay
        .min(Duration::from_secs(grace.unsigned_abs()));
    let (rest, pods, terminating) = (rest.clone(), t.pods.clone(), kubelet.terminating.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let (ns, name) = (s(&p, "/metadata/namespace"), s(&p, "/metadata/name"));
        if let Err(e) = stop_containers(&rest, &pods, ns, name, &uid).await {
            tracing::debug!(namespace = ns, pod = name, error = %e, "stopping containers");
        }
        let del = DeleteOptions {
            uid: Some(uid.clone()),
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        };
        match rest.delete(&pods, Some(ns), name, &del).await {
            Ok(_) => {}
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::debug!(namespace = ns, pod = name, error = %e, "removing pod"),
        }
        terminating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&uid);
    });
}

/// Reports the pod's containers terminated (exit code 0) and the pod no longer ready; a pod
/// whose containers all stopped is in a terminal phase.
async fn stop_containers(
    rest: &Rest,
    pods: &ResourceType,
    ns: &str,
    name: &str,
    uid: &str,
) -> Step {
    let Ok(current) = rest.get_value(pods, Some(ns), name) else {
        return Ok(());
    };
    if s(&current, "/metadata/uid") != uid {
        return Ok(());
    }
    let now = crate::rest::now();
    let mut body = current.clone();
    let statuses: Vec<Value> = current
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            let started = c
                .pointer("/state/running/startedAt")
                .cloned()
                .unwrap_or(json!(now));
            let id = c.get("containerID").cloned().unwrap_or(Value::Null);
            c["ready"] = json!(false);
            c["started"] = json!(false);
            c["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now, "containerID": id}});
            c
        })
        .collect();
    let conditions: Vec<Value> = current
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            let stops = matches!(
                s(&c, "/type"),
                "Ready" | "ContainersReady" | "PodReadyToStartContainers"
            );
            if stops && s(&c, "/status") != "False" {
                c["status"] = json!("False");
                c["lastTransitionTime"] = json!(now);
                if s(&c, "/type") != "PodReadyToStartContainers" {
                    c["reason"] = json!("PodCompleted");
                }
            }
            c
        })
        .collect();
    let status = body.get_mut("status").and_then(Value::as_object_mut);
    let Some(status) = status else {
        return Ok(());
    };
    status.insert("phase".into(), json!("Succeeded"));
    if !statuses.is_empty() {
        status.insert("containerStatuses".into(), json!(statuses));
    }
    if !conditions.is_empty() {
        status.insert("conditions".into(), json!(conditions));
    }
    rest.update(pods, Some(ns), name, body, &opts(), Some("status"))
        .await
        .map(|_| ())
}
