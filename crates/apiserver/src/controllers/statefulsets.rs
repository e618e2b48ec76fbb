//! The simulated StatefulSet controller (upstream's `pkg/controller/statefulset`), on with the
//! simulated workloads; the pods it makes are bound and run by the simulated kubelet of
//! `workloads.rs`.
//!
//! - **Identity**: pod `<set>-<ordinal>` for each ordinal from `spec.ordinals.start` (0), with
//!   the labels `controller-revision-hash` (the revision's name), `statefulset.kubernetes.io/
//!   pod-name` and `apps.kubernetes.io/pod-index`, `spec.hostname` (the pod's name) and
//!   `spec.subdomain` (`spec.serviceName`), controlled by the set.
//! - **Storage**: before a pod, a PersistentVolumeClaim `<template>-<set>-<ordinal>` for each of
//!   `volumeClaimTemplates` (labels: the template's and the selector's `matchLabels`), and the
//!   pod's volume of that name points at it. `persistentVolumeClaimRetentionPolicy` as upstream
//!   applies it, with owner references the garbage collector follows: `whenDeleted: Delete`
//!   makes the set an owner of its claims, `whenScaled: Delete` makes a condemned pod the owner
//!   of its claims before it is deleted. Claims are not waited for (binding is not simulated
//!   here).
//! - **Pod management**: `OrderedReady` creates ordinal i only once 0…i-1 are Running and Ready,
//!   and scales down from the highest ordinal, one pod at a time, waiting for each deletion to
//!   finish (nothing is removed while a pod is unhealthy); `Parallel` creates and deletes
//!   without waiting. Failed or succeeded pods are deleted and made again.
//! - **Updates**: revisions as `revisions.rs` keeps them; `RollingUpdate` replaces pods whose
//!   revision is not the update revision from the highest ordinal down to `partition`, at most
//!   `maxUnavailable` (1) unavailable at a time (pods below the partition are made from the
//!   current revision); `OnDelete` replaces only pods someone deleted. A rolling update that
//!   reached every pod makes the update revision current.
//! - **Status**: replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas
//!   (ready for `minReadySeconds`), currentRevision, updateRevision, observedGeneration,
//!   collisionCount; so `kubectl rollout status|history|undo statefulset/x` work.
//! - **Events** as upstream's: `SuccessfulCreate` ("create Pod web-0 in StatefulSet web
//!   successful", "create Claim www-web-0 Pod web-0 in StatefulSet web success"),
//!   `SuccessfulDelete` ("delete Pod web-2 in StatefulSet web successful").
//!
//! Not simulated: `status.conditions`; adoption and release of pods by label; the
//! `MaxUnavailableStatefulSet` feature gate is taken as on (`maxUnavailable` is honoured, 1 when
//! unset, which is upstream's behaviour with the gate off).

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::revisions::{self, HASH_LABEL};
use super::{deleting, key_of, str_at as s, write_options};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, PatchType, Rest, WriteOptions};

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const MANAGER: &str = "kubeforge-statefulset-controller";
/// The pod label with the pod's name.
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The pod label with the pod's ordinal.
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

type Key = (String, String);
type Step = Result<(), crate::status::ApiError>;

struct Types {
    sets: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    claims: Arc<ResourceType>,
    revisions: Arc<ResourceType>,
    events: EventRecorder,
}

fn opts() -> WriteOptions {
    write_options(MANAGER)
}

/// Runs the StatefulSet controller until the store closes.
pub async fn run(rest: Rest) {
    let r = rest.catalog.snapshot();
    let (Some(sets), Some(pods), Some(claims), Some(revisions)) = (
        r.find("apps", "v1", "statefulsets"),
        r.find("", "v1", "pods"),
        r.find("", "v1", "persistentvolumeclaims"),
        r.find("apps", "v1", "controllerrevisions"),
    ) else {
        return;
    };
    drop(r);
    let t = Types {
        sets,
        pods,
        claims,
        revisions,
        events: EventRecorder::new("statefulset-controller"),
    };
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<Key>();
    let mut changes = Changes::all(&rest);
    loop {
        let mut dirty = BTreeSet::new();
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => {
                    if let Ok(list) = rest.list(&t.sets, None, &ListOptions::default()).await {
                        dirty.extend(list.items.iter().map(|o| key_of(&o.value())));
                    }
                }
                Some(Change::Events(events)) => {
                    for e in events {
                        if e.key.resource == t.sets.storage_key {
                            dirty.insert((e.key.namespace.clone(), e.key.name.clone()));
                        } else if (e.key.resource == t.pods.storage_key
                            || e.key.resource == t.revisions.storage_key)
                            && let Some(owner) = super::owned::controller_named(&e.object.json, "StatefulSet")
                        {
                            dirty.insert((e.key.namespace.clone(), owner));
                        }
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
            tracing::debug!(namespace = ns, statefulset = name, error = %e, "simulating statefulset");
        }
    }
}

/// Whether pod `p` is Running with a `Ready` condition that holds.
pub(crate) fn running_and_ready(p: &Value) -> bool {
    s(p, "/status/phase") == "Running" && ready_since(p).is_some()
}

/// When pod `p`'s `Ready` condition last became true, if it holds.
fn ready_since(p: &Value) -> Option<String> {
    p.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
        .map(|c| s(c, "/lastTransitionTime").to_string())
}

/// How long until pod `p`, ready, has been ready for `min_ready` seconds (zero: available now);
/// `None` when it is not ready.
pub(crate) fn available_in(p: &Value, min_ready: i64) -> Option<Duration> {
    if !running_and_ready(p) || deleting(p) {
        return None;
    }
    if min_ready <= 0 {
        return Some(Duration::ZERO);
    }
    let since: jiff::Timestamp = ready_since(p)?.parse().ok()?;
    let at = since
        .checked_add(jiff::SignedDuration::from_secs(min_ready))
        .ok()?;
    let left = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

/// The ordinal in pod name `pod` of set `set` (`web-3` → 3).
fn ordinal(set: &str, pod: &str) -> Option<i64> {
    let n = pod.strip_prefix(set)?.strip_prefix('-')?;
    if n.is_empty() || (n.len() > 1 && n.starts_with('0')) || !n.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    n.parse().ok()
}

/// The retention policy of `set`: (whenDeleted, whenScaled) deletes.
fn retention(set: &Value) -> (bool, bool) {
    let p = |f: &str| {
        s(
            set,
            &format!("/spec/persistentVolumeClaimRetentionPolicy/{f}"),
        ) == "Delete"
    };
    (p("whenDeleted"), p("whenScaled"))
}

/// An owner reference as the claim retention policy sets them (no controller).
fn plain_ref(api_version: &str, kind: &str, owner: &Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": s(owner, "/metadata/name"),
        "uid": s(owner, "/metadata/uid")})
}

/// The owner references claim `claim` should have under `set`'s retention policy, for pod
/// `pod` (`scaled_down`: the pod is condemned).
fn claim_refs(claim: &Value, set: &Value, pod: Option<&Value>, scaled_down: bool) -> Vec<Value> {
    let (when_deleted, when_scaled) = retention(set);
    let set_uid = s(set, "/metadata/uid");
    let pod_uid = pod.map(|p| s(p, "/metadata/uid")).unwrap_or("");
    let mut refs: Vec<Value> = claim
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            let uid = s(r, "/uid");
            uid != set_uid && (pod_uid.is_empty() || uid != pod_uid)
        })
        .collect();
    let set_owns = when_deleted && !(when_scaled && scaled_down);
    let pod_owns = when_scaled && scaled_down;
    if set_owns {
        refs.push(plain_ref("apps/v1", "StatefulSet", set));
    }
    if let Some(pod) = pod.filter(|_| pod_owns) {
        refs.push(plain_ref("v1", "Pod", pod));
    }
    refs
}

/// The claims a pod of `set` with `ordinal` uses: (template, claim name).
fn claims_of(set: &Value, ordinal: i64) -> Vec<(Value, String)> {
    let set_name = s(set, "/metadata/name");
    set.pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|tpl| {
            let name = format!("{}-{set_name}-{ordinal}", s(tpl, "/metadata/name"));
            (tpl.clone(), name)
        })
        .collect()
}

/// Upstream's `newStatefulSetPod` for `ordinal`, from `template` at revision `revision`.
fn new_pod(set: &Value, template: &Value, revision: &str, ordinal: i64) -> Value {
    let set_name = s(set, "/metadata/name");
    let name = format!("{set_name}-{ordinal}");
    let mut meta = json!({"name": name, "namespace": s(set, "/metadata/namespace")});
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
    meta["labels"][POD_NAME_LABEL] = json!(name);
    meta["labels"][POD_INDEX_LABEL] = json!(ordinal.to_string());
    meta["labels"][HASH_LABEL] = json!(revision);
    meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet",
        "name": set_name, "uid": s(set, "/metadata/uid"), "controller": true,
        "blockOwnerDeletion": true}]);
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    if !spec.is_object() {
        spec = json!({});
    }
    spec["hostname"] = json!(name);
    let service = s(set, "/spec/serviceName");
    if !service.is_empty() {
        spec["subdomain"] = json!(service);
    }
    // Upstream's `updateStorage`: each claim template's volume points at the pod's claim.
    let claims = claims_of(set, ordinal);
    if !claims.is_empty() {
        let mut volumes: Vec<Value> = spec
            .get("volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let claimed: HashSet<&str> = claims
            .iter()
            .map(|(tpl, _)| s(tpl, "/metadata/name"))
            .collect();
        volumes.retain(|v| !claimed.contains(s(v, "/name")));
        for (tpl, claim) in &claims {
            volumes.push(json!({"name": s(tpl, "/metadata/name"),
                "persistentVolumeClaim": {"claimName": claim}}));
        }
        spec["volumes"] = json!(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
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
            ("apps/v1", "StatefulSet"),
            reason,
            message,
        );
    }

    /// Creates the missing claims of the pod for `ordinal`, then the pod.
    async fn create_pod(&self, pod: Value, ordinal: i64) -> Step {
        let pod_name = s(&pod, "/metadata/name").to_string();
        let set_name = s(self.set, "/metadata/name");
        for (tpl, claim) in claims_of(self.set, ordinal) {
            if self.rest.get(&self.t.claims, Some(self.ns), &claim).is_ok() {
                continue;
            }
            let mut labels = tpl
                .pointer("/metadata/labels")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(json!({}));
            for (k, v) in self
                .set
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                labels[k] = v.clone();
            }
            let mut meta = json!({"name": claim, "namespace": self.ns, "labels": labels});
            if let Some(a) = tpl
                .pointer("/metadata/annotations")
                .filter(|a| a.is_object())
            {
                meta["annotations"] = a.clone();
            }
            let refs = claim_refs(&json!({}), self.set, None, false);
            if !refs.is_empty() {
                meta["ownerReferences"] = json!(refs);
            }
            let body = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": meta, "spec": tpl.get("spec").cloned().unwrap_or(json!({}))});
            match self
                .rest
                .create(&self.t.claims, Some(self.ns), body, &opts())
                .await
            {
                Ok(_) => self.event(
                    "SuccessfulCreate",
                    format!(
                        "create Claim {claim} Pod {pod_name} in StatefulSet {set_name} success"
                    ),
                ),
                Err(e) if e.code == 409 => {}
                Err(e) => {
                    self.t.events.warning(
                        self.rest,
                        self.set,
                        ("apps/v1", "StatefulSet"),
                        "FailedCreate",
                        format!(
                            "create Claim {claim} for Pod {pod_name} in StatefulSet {set_name} failed error: {}",
                            e.message
                        ),
                    );
                    return Err(e);
                }
            }
        }
        match self
            .rest
            .create(&self.t.pods, Some(self.ns), pod, &opts())
            .await
        {
            Ok(_) => {
                self.event(
                    "SuccessfulCreate",
                    format!("create Pod {pod_name} in StatefulSet {set_name} successful"),
                );
                Ok(())
            }
            // The previous pod of this name is still being removed.
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => {
                self.t.events.warning(
                    self.rest,
                    self.set,
                    ("apps/v1", "StatefulSet"),
                    "FailedCreate",
                    format!(
                        "create Pod {pod_name} in StatefulSet {set_name} failed error: {}",
                        e.message
                    ),
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
                let set_name = s(self.set, "/metadata/name");
                self.event(
                    "SuccessfulDelete",
                    format!("delete Pod {name} in StatefulSet {set_name} successful"),
                );
                Ok(())
            }
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The claims of `pod` (ordinal `ordinal`) get the owner references the retention policy
    /// asks for (`scaled_down`: before a condemned pod goes), as upstream's
    /// `updateClaimOwnerRefForSetAndPod` on every sync, so a changed policy reaches claims made
    /// earlier.
    async fn claim_owners(&self, pod: &Value, ordinal: i64, scaled_down: bool) -> Step {
        for (_, claim) in claims_of(self.set, ordinal) {
            let Ok(current) = self.rest.get_value(&self.t.claims, Some(self.ns), &claim) else {
                continue;
            };
            let refs = claim_refs(&current, self.set, Some(pod), scaled_down);
            let old = current
                .pointer("/metadata/ownerReferences")
                .cloned()
                .unwrap_or(json!([]));
            if json!(refs) == old {
                continue;
            }
            let patch = json!({"metadata": {"ownerReferences": refs}});
            self.rest
                .patch(
                    &self.t.claims,
                    Some(self.ns),
                    &claim,
                    PatchType::Merge,
                    patch.to_string().as_bytes(),
                    &opts(),
                    None,
                )
                .await?;
        }
        Ok(())
    }
}

/// `maxUnavailable` of a rolling update resolved against `replicas` (at least 1).
fn max_unavailable(set: &Value, replicas: i64) -> i64 {
    let v = set.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable");
    let n = match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
        Some(Value::String(p)) => p
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(1, |p| p * replicas / 100),
        _ => 1,
    };
    n.max(1)
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
    let pods: Vec<Value> = match rest.list(&t.pods, Some(ns), &ListOptions::default()).await {
        Ok(list) => list
            .items
            .iter()
            .map(|o| o.value())
            .filter(|p| super::owned::controller_uid(p).as_deref() == Some(uid.as_str()))
            .collect(),
        Err(e) => return Err(e),
    };
    let owned = revisions::owned(rest, &t.revisions, &set).await;
    let synced = revisions::sync(rest, &t.revisions, &set, "StatefulSet", owned, MANAGER).await?;
    let update_rev = s(&synced.update, "/metadata/name").to_string();
    let current = synced
        .revisions
        .iter()
        .find(|r| {
            let c = s(&set, "/status/currentRevision");
            !c.is_empty() && s(r, "/metadata/name") == c
        })
        .unwrap_or(&synced.update)
        .clone();
    let current_rev = s(&current, "/metadata/name").to_string();
    let current_template = revisions::template_of(&current);
    let update_template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));

    let replicas = set
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0);
    let start = set
        .pointer("/spec/ordinals/start")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    let rolling = s(&set, "/spec/updateStrategy/type") != "OnDelete";
    let partition = set
        .pointer("/spec/updateStrategy/rollingUpdate/partition")
        .and_then(Value::as_i64);
    let min_ready = set
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let monotonic = s(&set, "/spec/podManagementPolicy") != "Parallel";
    let status_current_replicas = set
        .pointer("/status/currentReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);

    // The slots (ordinal → pod) and the condemned pods (highest ordinal first).
    let mut slots: BTreeMap<i64, &Value> = BTreeMap::new();
    let mut condemned: Vec<(i64, &Value)> = Vec::new();
    for p in &pods {
        match ordinal(name, s(p, "/metadata/name")) {
            Some(o) if o >= start && o < start + replicas => {
                slots.insert(o, p);
            }
            Some(o) => condemned.push((o, p)),
            None => condemned.push((-1, p)),
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));

    // Status, from the pods as they are now.
    let mut status = json!({
        "observedGeneration": set.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": 0, "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
        "availableReplicas": 0,
        "currentRevision": current_rev, "updateRevision": update_rev,
        "collisionCount": synced.collision_count,
    });
    let (mut n_replicas, mut n_ready, mut n_current, mut n_updated, mut n_available) =
        (0, 0, 0, 0, 0);
    let mut next_wake: Option<Duration> = None;
    for p in &pods {
        n_replicas += 1;
        if running_and_ready(p) {
            n_ready += 1;
            match available_in(p, min_ready) {
                Some(d) if d.is_zero() => n_available += 1,
                Some(d) => next_wake = Some(next_wake.map_or(d, |w: Duration| w.min(d))),
                None => {}
            }
        }
        if !deleting(p) {
            let rev = s(p, &format!("/metadata/labels/{HASH_LABEL}"));
            if rev == current_rev {
                n_current += 1;
            }
            if rev == update_rev {
                n_updated += 1;
            }
        }
    }
    if rolling && n_updated == replicas && n_ready == replicas && n_replicas == replicas {
        // Upstream's `completeRollingUpdate`.
        status["currentRevision"] = json!(update_rev);
        n_current = n_updated;
    }
    status["replicas"] = json!(n_replicas);
    status["readyReplicas"] = json!(n_ready);
    status["currentReplicas"] = json!(n_current);
    status["updatedReplicas"] = json!(n_updated);
    status["availableReplicas"] = json!(n_available);
    if let Some(map) = status.as_object_mut() {
        // Zero counts are omitted, as Go's `omitempty` does (replicas is always written).
        map.retain(|k, v| {
            !matches!(
                k.as_str(),
                "readyReplicas" | "currentReplicas" | "updatedReplicas"
            ) || v.as_i64() != Some(0)
        });
    }
    if set.get("status") != Some(&status) {
        let mut body = set.clone();
        body["status"] = status.clone();
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
    let mut live: HashSet<String> = [current_rev.clone(), update_rev.clone()].into();
    live.extend(
        pods.iter()
            .map(|p| s(p, &format!("/metadata/labels/{HASH_LABEL}")).to_string()),
    );
    revisions::truncate(rest, &t.revisions, &set, &synced.revisions, &live).await?;

    let ctx = Ctx {
        rest,
        t,
        set: &set,
        ns,
    };
    for (ord, p) in slots.iter() {
        if !deleting(p) {
            ctx.claim_owners(p, *ord, false).await?;
        }
    }
    // Failed or succeeded pods are deleted, to be made again.
    for (_, p) in slots.iter() {
        if matches!(s(p, "/status/phase"), "Failed" | "Succeeded") && !deleting(p) {
            ctx.delete_pod(p).await?;
            if monotonic {
                return Ok(());
            }
        }
    }
    // Missing pods are made; OrderedReady waits for each to be Running and Ready.
    for ord in start..start + replicas {
        match slots.get(&ord) {
            None => {
                let from_current = rolling
                    && match partition {
                        Some(p) => ord - start < p,
                        None => ord - start < status_current_replicas,
                    };
                let pod = if from_current {
                    new_pod(&set, &current_template, &current_rev, ord)
                } else {
                    new_pod(&set, &update_template, &update_rev, ord)
                };
                ctx.create_pod(pod, ord).await?;
                if monotonic {
                    return Ok(());
                }
            }
            Some(p) if monotonic && (deleting(p) || !running_and_ready(p)) => return Ok(()),
            Some(_) => {}
        }
    }
    // Condemned pods go, highest ordinal first; OrderedReady one at a time, each deletion
    // finished before the next, and none while a pod is unhealthy.
    for (ord, p) in &condemned {
        if deleting(p) {
            if monotonic {
                return Ok(());
            }
            continue;
        }
        if monotonic && (!running_and_ready(p) && condemned.iter().any(|(o, _)| o > ord)) {
            return Ok(());
        }
        ctx.claim_owners(p, *ord, true).await?;
        ctx.delete_pod(p).await?;
        if monotonic {
            return Ok(());
        }
    }
    if !rolling {
        return Ok(());
    }
    // The rolling update: from the highest ordinal down to the partition.
    let floor = start + partition.unwrap_or(0).max(0);
    let max_unavailable = max_unavailable(&set, replicas);
    let mut unavailable = (floor..start + replicas)
        .filter(|o| {
            slots
                .get(o)
                .is_none_or(|p| deleting(p) || available_in(p, min_ready) != Some(Duration::ZERO))
        })
        .count() as i64;
    for ord in (floor..start + replicas).rev() {
        let Some(p) = slots.get(&ord) else { continue };
        let rev = s(p, &format!("/metadata/labels/{HASH_LABEL}"));
        if rev == update_rev || deleting(p) {
            continue;
        }
        let healthy = available_in(p, min_ready) == Some(Duration::ZERO);
        if healthy && unavailable >= max_unavailable {
            break;
        }
        ctx.delete_pod(p).await?;
        if healthy {
            unavailable += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_are_read_from_names_of_the_set_only() {
        assert_eq!(ordinal("web", "web-0"), Some(0));
        assert_eq!(ordinal("web", "web-12"), Some(12));
        assert_eq!(ordinal("web", "web-01"), None);
        assert_eq!(ordinal("web", "web-x"), None);
        assert_eq!(ordinal("web", "webby-1"), None);
        assert_eq!(ordinal("web", "web-"), None);
    }

    #[test]
    fn claims_follow_the_retention_policy() {
        let set = |deleted: &str, scaled: &str| {
            json!({"metadata": {"name": "web", "uid": "s"}, "spec": {
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": deleted, "whenScaled": scaled}}})
        };
        let pod = json!({"metadata": {"name": "web-1", "uid": "p"}});
        let uids = |refs: Vec<Value>| -> Vec<String> {
            refs.iter().map(|r| s(r, "/uid").to_string()).collect()
        };
        let claim = json!({});
        assert!(claim_refs(&claim, &set("Retain", "Retain"), Some(&pod), true).is_empty());
        assert_eq!(
            uids(claim_refs(
                &claim,
                &set("Delete", "Retain"),
                Some(&pod),
                true
            )),
            ["s"]
        );
        assert_eq!(
            uids(claim_refs(
                &claim,
                &set("Retain", "Delete"),
                Some(&pod),
                true
            )),
            ["p"]
        );
        assert_eq!(
            uids(claim_refs(
                &claim,
                &set("Delete", "Delete"),
                Some(&pod),
                false
            )),
            ["s"]
        );
        assert_eq!(
            uids(claim_refs(
                &claim,
                &set("Delete", "Delete"),
                Some(&pod),
                true
            )),
            ["p"]
        );
    }

    #[test]
    fn pods_get_identity_and_storage() {
        let set = json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u"}, "spec": {
            "serviceName": "nginx",
            "volumeClaimTemplates": [{"metadata": {"name": "www"}}]}});
        let template = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}],
                "volumes": [{"name": "www", "emptyDir": {}}, {"name": "other", "emptyDir": {}}]}});
        let pod = new_pod(&set, &template, "web-abc", 2);
        assert_eq!(pod["metadata"]["name"], "web-2");
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"app": "web", POD_NAME_LABEL: "web-2", POD_INDEX_LABEL: "2", HASH_LABEL: "web-abc"})
        );
        assert_eq!(pod["spec"]["hostname"], "web-2");
        assert_eq!(pod["spec"]["subdomain"], "nginx");
        assert_eq!(
            pod["spec"]["volumes"],
            json!([{"name": "other", "emptyDir": {}},
                {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}}])
        );
    }
}
