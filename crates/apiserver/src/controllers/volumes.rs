//! The persistent volume controllers (kube-controller-manager's, simulated, with a provisioner
//! in the place of a storage driver):
//! - **binding**: a pending PersistentVolumeClaim is bound to the smallest Available
//!   PersistentVolume of its class that fits it (capacity, access modes, volume mode, selector),
//!   or to the volume that names it in `claimRef`; both then report `Bound`, with the annotations
//!   upstream's binder writes;
//! - **provisioning**: a claim of a StorageClass whose provisioner is [`PROVISIONER`] gets a new
//!   volume `pvc-<claim uid>` (a hostPath under [`VOLUME_ROOT`]), at once for `Immediate` classes
//!   and, for `WaitForFirstConsumer` ones, once a pod that uses the claim is on a node;
//! - **reclaiming**: a volume whose claim is gone is `Released`, then deleted (policy `Delete`),
//!   kept (`Retain`) or made `Available` again (`Recycle`);
//! - **protection**: a deleted claim keeps `kubernetes.io/pvc-protection` while a pod that has
//!   not ended uses it, a deleted volume keeps `kubernetes.io/pv-protection` while it is bound
//!   (the finalizers come from the StorageObjectInUseProtection admission plugin);
//! - with simulated workloads, the StorageClass [`DEFAULT_CLASS_NAME`] (provisioner
//!   [`PROVISIONER`], `Immediate`, reclaim `Delete`), marked default, exists when the server
//!   starts, so claims that name no class are provisioned and bound as on a cluster with a
//!   default class. Without simulation there is no default class: claims bind to the volumes
//!   users create, and the protection finalizers still go when they should.
//!
//! Level-driven from the store's change stream, like the other controllers: a change marks the
//! claims and volumes it may affect, and each is reconciled against the current state.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::{deleting, str_at as s};
use crate::admission::storage_object_in_use_protection::{PV_PROTECTION, PVC_PROTECTION};
use crate::quantity::parse_quantity;
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, PatchType, Rest};
use crate::status::ApiError;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The provisioner of the simulated storage.
pub const PROVISIONER: &str = "kubeforge.io/simulated";
/// The default StorageClass the server creates.
pub const DEFAULT_CLASS_NAME: &str = "standard";
/// Where the simulated volumes' hostPaths point (nothing is created there).
pub const VOLUME_ROOT: &str = "/var/lib/kubeforge/volumes";
/// The field manager of the binder's writes.
const MANAGER: &str = "persistentvolume-binder-controller";

struct Types {
    claims: Arc<ResourceType>,
    volumes: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    classes: Arc<ResourceType>,
    events: EventRecorder,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        claims: r.find("", "v1", "persistentvolumeclaims")?,
        volumes: r.find("", "v1", "persistentvolumes")?,
        pods: r.find("", "v1", "pods")?,
        classes: r.find("storage.k8s.io", "v1", "storageclasses")?,
        events: EventRecorder::new("persistentvolume-controller"),
    })
}

type Step = Result<(), ApiError>;

/// What a batch of changes asks to look at again.
#[derive(Default)]
struct Dirty {
    claims: BTreeSet<(String, String)>,
    volumes: BTreeSet<String>,
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else { return };
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let mut dirty = Dirty::default();
        match change {
            Change::Resync { .. } => {
                all_claims(&rest, &t, &mut dirty);
                for v in rest.store.current(&t.volumes.storage_key) {
                    dirty
                        .volumes
                        .insert(s(&v.value(), "/metadata/name").to_string());
                }
            }
            Change::Events(events) => {
                for e in events {
                    // Only the objects this controller reads are parsed (every write passes here).
                    let is_pod = e.key.resource == t.pods.storage_key;
                    let read = e.key.resource == t.claims.storage_key
                        || e.key.resource == t.volumes.storage_key
                        || (is_pod && mentions_claims(&e.object.json));
                    let v = if read { e.object.value() } else { Value::Null };
                    if e.key.resource == t.claims.storage_key {
                        dirty
                            .claims
                            .insert((e.key.namespace.clone(), e.key.name.clone()));
                        if !s(&v, "/spec/volumeName").is_empty() {
                            dirty.volumes.insert(s(&v, "/spec/volumeName").to_string());
                        }
                    } else if e.key.resource == t.volumes.storage_key {
                        dirty.volumes.insert(e.key.name.clone());
                        if !s(&v, "/spec/claimRef/name").is_empty() {
                            dirty.claims.insert((
                                s(&v, "/spec/claimRef/namespace").to_string(),
                                s(&v, "/spec/claimRef/name").to_string(),
                            ));
                        }
                    } else if is_pod {
                        for claim in claims_of(&v) {
                            dirty.claims.insert((e.key.namespace.clone(), claim));
                        }
                    } else if e.key.resource == t.classes.storage_key {
                        all_claims(&rest, &t, &mut dirty);
                    }
                }
            }
        }
        reconcile(&rest, &t, dirty).await;
    }
}

/// Whether a stored pod's JSON can name a claim (a byte search, cheaper than parsing it).
fn mentions_claims(json: &[u8]) -> bool {
    json.windows(b"persistentVolumeClaim".len())
        .any(|w| w == b"persistentVolumeClaim")
}

fn all_claims(rest: &Rest, t: &Types, dirty: &mut Dirty) {
    for c in rest.store.current(&t.claims.storage_key) {
        let v = c.value();
        dirty.claims.insert((
            s(&v, "/metadata/namespace").to_string(),
            s(&v, "/metadata/name").to_string(),
        ));
    }
}

async fn reconcile(rest: &Rest, t: &Types, dirty: Dirty) {
    for (ns, name) in dirty.claims {
        if let Err(e) = claim(rest, t, &ns, &name).await {
            tracing::debug!(namespace = ns, claim = name, error = %e, "reconciling claim");
        }
    }
    for name in dirty.volumes {
        if let Err(e) = volume(rest, t, &name).await {
            tracing::debug!(volume = name, error = %e, "reconciling volume");
        }
    }
}

/// The claims a pod's volumes name.
fn claims_of(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName"))
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// Creates the default StorageClass unless a default one exists (the server's start does this
/// when it simulates workloads, before it serves).
pub(crate) async fn ensure_default_class(rest: &Rest) {
    let Some(t) = types(rest) else { return };
    if crate::admission::default_storage_class::default_class(rest).is_some()
        || rest.get(&t.classes, None, DEFAULT_CLASS_NAME).is_ok()
    {
        return;
    }
    let class = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS_NAME, "annotations": {
            crate::registry::storage::storageclasses::DEFAULT_CLASS: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    });
    match rest
        .create(&t.classes, None, class, &super::write_options(MANAGER))
        .await
    {
        Ok(_) => {}
        Err(e) if e.code == 409 => {}
        Err(e) => tracing::warn!(error = %e, "creating the default StorageClass"),
    }
}

/// Merge-patches `patch` into `name` (its status when `status`).
async fn patch(
    rest: &Rest,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    patch: Value,
    status: bool,
) -> Step {
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    rest.patch(
        rt,
        ns,
        name,
        PatchType::Merge,
        &body,
        &super::write_options(MANAGER),
        status.then_some("status"),
    )
    .await
    .map(|_| ())
}

/// Sets the status phase of `name`.
async fn set_phase(
    rest: &Rest,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    phase: &str,
) -> Step {
    patch(
        rest,
        rt,
        ns,
        name,
        json!({"status": {"phase": phase}}),
        true,
    )
    .await
}

/// Removes `finalizer` from the object, if it has it.
async fn drop_finalizer(
    rest: &Rest,
    rt: &ResourceType,
    ns: Option<&str>,
    obj: &Value,
    finalizer: &str,
) -> Step {
    let finalizers = crate::rest::finalizers(obj);
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let body = json!({"metadata": {"finalizers": kept, "resourceVersion": s(obj, "/metadata/resourceVersion")}});
    patch(rest, rt, ns, s(obj, "/metadata/name"), body, false).await
}

/// Whether a pod that has not ended uses claim `name` of `ns`.
fn in_use(rest: &Rest, t: &Types, ns: &str, name: &str) -> bool {
    rest.store.current(&t.pods.storage_key).iter().any(|p| {
        let p = p.value();
        s(&p, "/metadata/namespace") == ns
            && !matches!(s(&p, "/status/phase"), "Succeeded" | "Failed")
            && claims_of(&p).iter().any(|c| c == name)
    })
}

/// The node of a scheduled pod that uses claim `name` of `ns` (WaitForFirstConsumer).
fn consumer_node(rest: &Rest, t: &Types, ns: &str, name: &str) -> Option<String> {
    rest.store
        .current(&t.pods.storage_key)
        .iter()
        .find_map(|p| {
            let p = p.value();
            let node = s(&p, "/spec/nodeName");
            (s(&p, "/metadata/namespace") == ns
                && !node.is_empty()
                && claims_of(&p).iter().any(|c| c == name))
            .then(|| node.to_string())
        })
}

fn annotation<'a>(v: &'a Value, key: &str) -> &'a str {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

async fn claim(rest: &Rest, t: &Types, ns: &str, name: &str) -> Step {
    let Ok(c) = rest.get_value(&t.claims, Some(ns), name) else {
        return Ok(());
    };
    if deleting(&c) {
        if !in_use(rest, t, ns, name) {
            drop_finalizer(rest, &t.claims, Some(ns), &c, PVC_PROTECTION).await?;
        }
        return Ok(());
    }
    let volume_name = s(&c, "/spec/volumeName");
    if !volume_name.is_empty() {
        return claim_bound_to(rest, t, &c, volume_name).await;
    }
    // A volume pre-bound to this claim (by name, or by uid after provisioning) wins.
    let volumes: Vec<Value> = rest
        .store
        .current(&t.volumes.storage_key)
        .iter()
        .map(|v| v.value())
        .filter(|v| !deleting(v))
        .collect();
    let uid = s(&c, "/metadata/uid");
    let names_me = |v: &Value| {
        let ref_uid = s(v, "/spec/claimRef/uid");
        s(v, "/spec/claimRef/namespace") == ns
            && s(v, "/spec/claimRef/name") == name
            && (ref_uid.is_empty() || ref_uid == uid)
    };
    let class = s(&c, "/spec/storageClassName").to_string();
    let chosen = volumes.iter().find(|v| names_me(v)).or_else(|| {
        volumes
            .iter()
            .filter(|v| {
                s(v, "/spec/claimRef/name").is_empty() && s(v, "/status/phase") == "Available"
            })
            .filter(|v| fits(&c, v, &class, true))
            .min_by_key(|v| capacity(v))
    });
    if let Some(v) = chosen {
        return bind(rest, t, &c, v).await;
    }
    // Nothing to bind to: provision, if the class is ours.
    let storage_class = (!class.is_empty())
        .then(|| rest.get_value(&t.classes, None, &class).ok())
        .flatten();
    match storage_class {
        Some(sc) if s(&sc, "/provisioner") == PROVISIONER => {
            let selected = if s(&sc, "/volumeBindingMode") == "WaitForFirstConsumer" {
                match consumer_node(rest, t, ns, name) {
                    Some(node) => Some(node),
                    None => {
                        t.events.normal(
                            rest,
                            &c,
                            ("v1", "PersistentVolumeClaim"),
                            "WaitForFirstConsumer",
                            "waiting for first consumer to be created before binding".into(),
                        );
                        return Ok(());
                    }
                }
            } else {
                None
            };
            provision(rest, t, &c, &sc, selected).await
        }
        Some(sc) => {
            t.events.normal(
                rest,
                &c,
                ("v1", "PersistentVolumeClaim"),
                "ExternalProvisioning",
                format!(
                    "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                    s(&sc, "/provisioner")
                ),
            );
            Ok(())
        }
        None => {
            let message = if class.is_empty() {
                "no persistent volumes available for this claim and no storage class is set".into()
            } else {
                format!("storageclass.storage.k8s.io {class:?} not found")
            };
            t.events.warning(
                rest,
                &c,
                ("v1", "PersistentVolumeClaim"),
                if class.is_empty() {
                    "FailedBinding"
                } else {
                    "ProvisioningFailed"
                },
                message,
            );
            Ok(())
        }
    }
}

/// A volume's storage capacity in billionths of a byte (0 when unset).
fn capacity(v: &Value) -> i128 {
    v.pointer("/spec/capacity/storage")
        .and_then(Value::as_str)
        .and_then(parse_quantity)
        .unwrap_or(0)
}

/// Whether volume `v` can serve claim `c` of class `class` (its label selector too when
/// `with_selector`: a volume the claim names is not chosen by selector).
fn fits(c: &Value, v: &Value, class: &str, with_selector: bool) -> bool {
    let request = c
        .pointer("/spec/resources/requests/storage")
        .and_then(Value::as_str)
        .and_then(parse_quantity)
        .unwrap_or(0);
    let modes = |x: &Value, p: &str| -> BTreeSet<String> {
        x.pointer(p)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let mode = |x: &Value| match s(x, "/spec/volumeMode") {
        "" => "Filesystem".to_string(),
        m => m.to_string(),
    };
    let selector_matches = !with_selector
        || match c.pointer("/spec/selector") {
            None | Some(Value::Null) => true,
            Some(sel) => crate::selector::LabelSelector::from_object(sel).is_some_and(|sel| {
                let labels = v
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                sel.matches(&labels)
            }),
        };
    s(v, "/spec/storageClassName") == class
        && capacity(v) >= request
        && modes(c, "/spec/accessModes").is_subset(&modes(v, "/spec/accessModes"))
        && mode(c) == mode(v)
        && selector_matches
}

/// Binds claim `c` and volume `v` to each other: the volume first (its `claimRef`), then the
/// claim, as upstream's binder orders the writes.
async fn bind(rest: &Rest, t: &Types, c: &Value, v: &Value) -> Step {
    let (ns, name, uid) = (
        s(c, "/metadata/namespace"),
        s(c, "/metadata/name"),
        s(c, "/metadata/uid"),
    );
    let volume = s(v, "/metadata/name");
    if s(v, "/spec/claimRef/uid") != uid {
        let claim_ref = json!({"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid,
            "apiVersion": "v1", "resourceVersion": s(c, "/metadata/resourceVersion")});
        let mut body = json!({"metadata": {"resourceVersion": s(v, "/metadata/resourceVersion"),
            "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"claimRef": claim_ref}});
        if !s(v, "/spec/claimRef/name").is_empty() {
            // Pre-bound by its creator: the annotation says the controller did not choose it.
            body["metadata"]["annotations"] = json!({});
        }
        patch(rest, &t.volumes, None, volume, body, false).await?;
    }
    let mut annotations = json!({"pv.kubernetes.io/bind-completed": "yes"});
    if s(v, "/spec/claimRef/name").is_empty() {
        annotations["pv.kubernetes.io/bound-by-controller"] = json!("yes");
    }
    let body = json!({"metadata": {"resourceVersion": s(c, "/metadata/resourceVersion"), "annotations": annotations},
        "spec": {"volumeName": volume}});
    patch(rest, &t.claims, Some(ns), name, body, false).await?;
    t.events.normal(
        rest,
        v,
        ("v1", "PersistentVolume"),
        "Bound",
        format!("Volume bound to claim {ns}/{name}"),
    );
    Ok(())
}

/// A claim that names its volume: both report `Bound` when the volume names the claim back;
/// the claim is `Lost` when its volume is gone.
async fn claim_bound_to(rest: &Rest, t: &Types, c: &Value, volume_name: &str) -> Step {
    let (ns, name) = (s(c, "/metadata/namespace"), s(c, "/metadata/name"));
    let Ok(v) = rest.get_value(&t.volumes, None, volume_name) else {
        if s(c, "/status/phase") == "Bound" {
            t.events.warning(
                rest,
                c,
                ("v1", "PersistentVolumeClaim"),
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!".into(),
            );
            set_phase(rest, &t.claims, Some(ns), name, "Lost").await?;
        }
        return Ok(());
    };
    if s(&v, "/spec/claimRef/uid") != s(c, "/metadata/uid") {
        // The claim asks for a volume by name: bind it if it is free (or reserved for this
        // claim by name) and fits, as upstream's `checkVolumeSatisfyClaim` requires.
        let free = s(&v, "/spec/claimRef/name").is_empty();
        let reserved = s(&v, "/spec/claimRef/namespace") == ns
            && s(&v, "/spec/claimRef/name") == name
            && s(&v, "/spec/claimRef/uid").is_empty();
        if (free || reserved) && !deleting(&v) {
            let class = s(c, "/spec/storageClassName");
            if fits(c, &v, class, false) {
                return bind(rest, t, c, &v).await;
            }
            t.events.warning(
                rest,
                c,
                ("v1", "PersistentVolumeClaim"),
                "VolumeMismatch",
                "Cannot bind to requested volume \"".to_string()
                    + volume_name
                    + "\": the volume does not satisfy the claim (class, size, access modes or volume mode)",
            );
        }
        return Ok(());
    }
    if s(&v, "/status/phase") != "Bound" {
        set_phase(rest, &t.volumes, None, volume_name, "Bound").await?;
    }
    let want = json!({
        "phase": "Bound",
        "accessModes": v.pointer("/spec/accessModes").cloned().unwrap_or(json!([])),
        "capacity": v.pointer("/spec/capacity").cloned().unwrap_or(json!({})),
    });
    let current = c.get("status").cloned().unwrap_or(json!({}));
    if ["phase", "accessModes", "capacity"]
        .iter()
        .any(|k| current.get(*k) != want.get(*k))
    {
        patch(
            rest,
            &t.claims,
            Some(ns),
            name,
            json!({"status": want}),
            true,
        )
        .await?;
    }
    if annotation(c, "pv.kubernetes.io/bind-completed").is_empty() {
        let body = json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}});
        patch(rest, &t.claims, Some(ns), name, body, false).await?;
    }
    Ok(())
}

/// Creates the volume for claim `c` of class `sc` (pre-bound to the claim), on `node` for a
/// `WaitForFirstConsumer` class.
async fn provision(rest: &Rest, t: &Types, c: &Value, sc: &Value, node: Option<String>) -> Step {
    let (ns, name, uid) = (
        s(c, "/metadata/namespace"),
        s(c, "/metadata/name"),
        s(c, "/metadata/uid"),
    );
    let volume_name = format!("pvc-{uid}");
    // The claim learns who provisions it (and, for WaitForFirstConsumer, where).
    let mut annotations = json!({
        "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER,
        "volume.kubernetes.io/storage-provisioner": PROVISIONER,
    });
    if let Some(node) = &node {
        annotations["volume.kubernetes.io/selected-node"] = json!(node);
    }
    if annotation(c, "volume.kubernetes.io/storage-provisioner").is_empty()
        || (node.is_some() && annotation(c, "volume.kubernetes.io/selected-node").is_empty())
    {
        patch(
            rest,
            &t.claims,
            Some(ns),
            name,
            json!({"metadata": {"annotations": annotations}}),
            false,
        )
        .await?;
    }
    let mut spec = json!({
        "capacity": {"storage": c.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("0"))},
        "accessModes": c.pointer("/spec/accessModes").cloned().unwrap_or(json!([])),
        "persistentVolumeReclaimPolicy": match s(sc, "/reclaimPolicy") { "" => "Delete", p => p },
        "storageClassName": s(sc, "/metadata/name"),
        "volumeMode": match s(c, "/spec/volumeMode") { "" => "Filesystem", m => m },
        "hostPath": {"path": format!("{VOLUME_ROOT}/{volume_name}"), "type": "DirectoryOrCreate"},
        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid,
            "apiVersion": "v1", "resourceVersion": s(c, "/metadata/resourceVersion")},
    });
    if let Some(options) = sc.get("mountOptions").filter(|o| !o.is_null()) {
        spec["mountOptions"] = options.clone();
    }
    if let Some(node) = &node {
        spec["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
    }
    let body = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume_name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": spec,
    });
    match rest
        .create(&t.volumes, None, body, &super::write_options(MANAGER))
        .await
    {
        Ok(_) => {
            t.events.normal(
                rest,
                c,
                ("v1", "PersistentVolumeClaim"),
                "ProvisioningSucceeded",
                format!("Successfully provisioned volume {volume_name}"),
            );
            Ok(())
        }
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the claim volume `v`'s `claimRef` names (by uid, when it has one) exists.
fn claim_present(rest: &Rest, t: &Types, v: &Value) -> bool {
    let uid = s(v, "/spec/claimRef/uid");
    rest.get_value(
        &t.claims,
        Some(s(v, "/spec/claimRef/namespace")),
        s(v, "/spec/claimRef/name"),
    )
    .is_ok_and(|c| uid.is_empty() || s(&c, "/metadata/uid") == uid)
}

async fn volume(rest: &Rest, t: &Types, name: &str) -> Step {
    let Ok(v) = rest.get_value(&t.volumes, None, name) else {
        return Ok(());
    };
    let phase = s(&v, "/status/phase");
    let claim_name = s(&v, "/spec/claimRef/name");
    if deleting(&v) {
        // Kept while bound; a bound volume whose claim went is released first.
        if phase != "Bound" {
            drop_finalizer(rest, &t.volumes, None, &v, PV_PROTECTION).await?;
        } else if !claim_name.is_empty() && !claim_present(rest, t, &v) {
            set_phase(rest, &t.volumes, None, name, "Released").await?;
        }
        return Ok(());
    }
    if claim_name.is_empty() {
        if phase != "Available" {
            set_phase(rest, &t.volumes, None, name, "Available").await?;
        }
        return Ok(());
    }
    // Reserved by name for a claim (no uid yet): Available until that claim binds it, whether
    // or not the claim exists yet, as upstream's binder treats a uid-less claimRef.
    if s(&v, "/spec/claimRef/uid").is_empty() {
        if phase != "Available" {
            set_phase(rest, &t.volumes, None, name, "Available").await?;
        }
        return Ok(());
    }
    if claim_present(rest, t, &v) {
        // Pre-bound, waiting for its claim: Available until the claim side binds.
        if phase == "Pending" {
            set_phase(rest, &t.volumes, None, name, "Available").await?;
        }
        return Ok(());
    }
    // The claim is gone: release, then reclaim.
    if phase != "Released" && phase != "Failed" {
        set_phase(rest, &t.volumes, None, name, "Released").await?;
        return Ok(());
    }
    match s(&v, "/spec/persistentVolumeReclaimPolicy") {
        "Delete" if phase == "Released" => {
            let opts = DeleteOptions {
                uid: Some(s(&v, "/metadata/uid").to_string()),
                ..DeleteOptions::default()
            };
            match rest.delete(&t.volumes, None, name, &opts).await {
                Ok(_) => Ok(()),
                Err(e) if e.code == 404 || e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
        "Recycle" if phase == "Released" => {
            let body = json!({"metadata": {"resourceVersion": s(&v, "/metadata/resourceVersion")}, "spec": {"claimRef": null}});
            patch(rest, &t.volumes, None, name, body, false).await
        }
        _ => Ok(()),
    }
}
