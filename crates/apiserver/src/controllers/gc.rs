//! Garbage collection of ownerReferences, as kube-controller-manager's garbage collector does it.
//!
//! - **Background**: a dependent whose owners are all gone is deleted; references to owners that
//!   are gone (while others remain) are removed.
//! - **Foreground**: an owner deleted with `propagationPolicy: Foreground` carries the
//!   `foregroundDeletion` finalizer; its dependents are deleted (in foreground too), and the
//!   finalizer is removed once no dependent with `blockOwnerDeletion: true` remains.
//! - **Orphan**: an owner deleted with `propagationPolicy: Orphan` carries the `orphan` finalizer;
//!   the owner is removed from its dependents' ownerReferences, then the finalizer is removed.
//!
//! The controller keeps a graph of owner → dependents built from a full list at start (so it works
//! across restarts) and updated from the change stream. Only the objects it may have to act on
//! are in it — those that have owners, and those being deleted with its finalizers — so a
//! cluster of plain objects (a million ConfigMaps) costs it nothing but the list.

use super::changes::{Change, Changes};
use super::{all_types, type_for, type_of_key};
use crate::rest::{
    DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, PatchType, Rest, WriteOptions,
    finalizers,
};
use crate::storage::{EventType, ObjectKey, ReadAt, StoredObject};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};

const MANAGER: &str = "generic-garbage-collector";

#[derive(Debug, Clone)]
struct Node {
    key: ObjectKey,
    owners: Vec<String>,
}

/// What the collector needs to know of an object. Every change of every object passes through
/// the collector, so this is read without building the whole object.
#[derive(Debug, Default)]
struct Meta {
    uid: String,
    /// The uids of its owners.
    owners: Vec<String>,
    /// Whether it has ownerReferences at all (with or without uids).
    has_refs: bool,
    deleting: bool,
    /// Whether it carries the orphan or foreground finalizer.
    gc_finalizer: bool,
}

impl Meta {
    fn of(obj: &StoredObject) -> Meta {
        #[derive(serde::Deserialize)]
        struct Doc {
            metadata: Option<Fields>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields {
            uid: Option<String>,
            owner_references: Option<Vec<Ref>>,
            deletion_timestamp: Option<serde::de::IgnoredAny>,
            finalizers: Option<Vec<String>>,
        }
        #[derive(serde::Deserialize)]
        struct Ref {
            uid: Option<String>,
        }
        let is_gc = |f: &str| f == ORPHAN_FINALIZER || f == FOREGROUND_FINALIZER;
        match serde_json::from_slice::<Doc>(&obj.json) {
            Ok(doc) => {
                let Some(m) = doc.metadata else {
                    return Meta::default();
                };
                let refs = m.owner_references.unwrap_or_default();
                Meta {
                    uid: m.uid.unwrap_or_default(),
                    has_refs: !refs.is_empty(),
                    owners: refs.into_iter().filter_map(|r| r.uid).collect(),
                    deleting: m.deletion_timestamp.is_some(),
                    gc_finalizer: m.finalizers.iter().flatten().any(|f| is_gc(f)),
                }
            }
            // An odd shape (say, a non-string uid): read it the long way, as `handle` will.
            Err(_) => {
                let v = obj.value();
                let refs = owner_refs(&v);
                Meta {
                    uid: uid(&v),
                    has_refs: !refs.is_empty(),
                    owners: refs
                        .iter()
                        .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                        .collect(),
                    deleting: is_deleting(&v),
                    gc_finalizer: finalizers(&v).iter().any(|f| is_gc(f)),
                }
            }
        }
    }

    /// Whether [`handle`] has anything to do for the object: it is being deleted with the orphan
    /// or foreground finalizer, or it is a live dependent whose owners must be checked.
    fn needs_handling(&self) -> bool {
        (self.deleting && self.gc_finalizer) || (self.has_refs && !self.deleting)
    }

    /// Whether the object belongs in the [`Graph`]: it has owners (an owner deleted in the
    /// foreground counts its dependents, deleting or not), or [`handle`] has something to do
    /// for it. Anything else is neither found through the graph nor acted on.
    fn in_graph(&self) -> bool {
        !self.owners.is_empty() || self.needs_handling()
    }
}

/// The objects the collector may have to act on, by uid, and each owner's dependents. An
/// object that owns nothing is not a node: its uid appears only as the owner of its
/// dependents, and it is read by key when a change concerns it.
#[derive(Default)]
struct Graph {
    /// The objects with owners or with something for [`handle`] to do (see [`Meta::in_graph`]).
    nodes: HashMap<String, Node>,
    /// Owner uid → its dependents' uids.
    dependents: HashMap<String, HashSet<String>>,
    /// The uid of each node, by key.
    by_key: HashMap<ObjectKey, String>,
}

fn uid(v: &Value) -> String {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn owner_refs(v: &Value) -> Vec<Value> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl Graph {
    fn remove(&mut self, key: &ObjectKey) -> Option<String> {
        let u = self.by_key.remove(key)?;
        if let Some(node) = self.nodes.remove(&u) {
            for o in node.owners {
                if let Some(d) = self.dependents.get_mut(&o) {
                    d.remove(&u);
                    if d.is_empty() {
                        self.dependents.remove(&o);
                    }
                }
            }
        }
        Some(u)
    }

    fn upsert(&mut self, key: &ObjectKey, meta: &Meta) {
        self.remove(key);
        let u = meta.uid.clone();
        if u.is_empty() || !meta.in_graph() {
            return;
        }
        let owners = meta.owners.clone();
        for o in &owners {
            self.dependents
                .entry(o.clone())
                .or_default()
                .insert(u.clone());
        }
        self.by_key.insert(key.clone(), u.clone());
        self.nodes.insert(
            u,
            Node {
                key: key.clone(),
                owners,
            },
        );
    }
}

/// Runs the garbage collector until the store closes.
pub async fn run(rest: Rest) {
    let mut graph = Graph::default();
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let mut todo: BTreeSet<String> = BTreeSet::new();
        // What the events already told about the objects they carry, by uid.
        let mut seen = HashMap::new();
        match change {
            Change::Resync { from } => {
                graph = Graph::default();
                for rt in all_types(&rest) {
                    resync(
                        &rest,
                        &rt.storage_key,
                        from,
                        &mut graph,
                        &mut todo,
                        &mut seen,
                    )
                    .await;
                }
            }
            Change::Events(events) => {
                for event in events {
                    let meta = Meta::of(&event.object);
                    match event.event_type {
                        EventType::Deleted => {
                            graph.remove(&event.key);
                            // Its dependents may now be orphans; owners waiting in foreground
                            // re-check.
                            if let Some(deps) = graph.dependents.get(&meta.uid) {
                                todo.extend(deps.iter().cloned());
                            }
                            todo.extend(meta.owners.iter().cloned());
                        }
                        _ => {
                            graph.upsert(&event.key, &meta);
                            seen.insert(
                                meta.uid.clone(),
                                (event.object.resource_version, meta.needs_handling()),
                            );
                            todo.insert(meta.uid.clone());
                            todo.extend(meta.owners.iter().cloned());
                        }
                    }
                }
            }
        }
        process(&rest, &graph, todo, &seen).await;
    }
}

/// How many objects a resync reads at a time.
const RESYNC_PAGE: usize = 1000;

/// Puts the objects of `resource` into `graph`, and those that need handling into `todo` (with
/// what was read of them in `seen`). Read a page at a time, not at one revision: each page is
/// at least as new as `from`, and every change after `from` follows as an event anyway, so
/// the graph ends up at the latest state either way (what is read twice is handled twice,
/// harmlessly), while a large collection is never copied whole.
async fn resync(
    rest: &Rest,
    resource: &std::sync::Arc<str>,
    from: u64,
    graph: &mut Graph,
    todo: &mut BTreeSet<String>,
    seen: &mut HashMap<String, (u64, bool)>,
) {
    let mut after: Option<(String, String)> = None;
    loop {
        let start = after.as_ref().map(|(ns, n)| (ns.as_str(), n.as_str()));
        let Ok(page) = rest
            .store
            .page(
                resource,
                None,
                ReadAt::NotOlderThan(from),
                start,
                RESYNC_PAGE,
                |_, _, _| true,
            )
            .await
        else {
            return;
        };
        for (key, obj) in &page.items {
            let meta = Meta::of(obj);
            if meta.needs_handling() {
                seen.insert(meta.uid.clone(), (obj.resource_version, true));
                todo.insert(meta.uid.clone());
            }
            graph.upsert(key, &meta);
        }
        match page.items.last() {
            Some((last, _)) if page.more => {
                after = Some((last.namespace.clone(), last.name.clone()));
            }
            _ => return,
        }
        // A large collection does not hold the runtime thread for the whole resync.
        tokio::task::yield_now().await;
    }
}

/// Handles the objects of `todo` that need it. `seen` has, by uid, the resourceVersion and
/// `needs_handling` of objects the current events carried, so that an object still at that
/// version is not read again.
async fn process(
    rest: &Rest,
    graph: &Graph,
    todo: BTreeSet<String>,
    seen: &HashMap<String, (u64, bool)>,
) {
    for u in todo {
        let Some(node) = graph.nodes.get(&u) else {
            continue;
        };
        let Some(obj) = rest.store.get(&node.key) else {
            continue;
        };
        // Most objects own nothing and are owned by nothing: skip parsing them whole.
        let needs_handling = match seen.get(&u) {
            Some(&(rv, needs)) if rv == obj.resource_version => needs,
            _ => Meta::of(&obj).needs_handling(),
        };
        if !needs_handling {
            continue;
        }
        let value = obj.value();
        if let Err(e) = handle(rest, graph, &node.key, &value).await {
            tracing::debug!(object = %node.key.encode(), error = %e, "garbage collection step failed; will retry on the next change");
        }
    }
}

fn is_deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

fn ns_of(key: &ObjectKey) -> Option<&str> {
    if key.namespace.is_empty() {
        None
    } else {
        Some(key.namespace.as_str())
    }
}

async fn handle(
    rest: &Rest,
    graph: &Graph,
    key: &ObjectKey,
    value: &Value,
) -> Result<(), crate::status::ApiError> {
    let Some(rt) = type_of_key(rest, &key.resource) else {
        return Ok(());
    };
    let opts = WriteOptions {
        field_manager: MANAGER.into(),
        ..WriteOptions::default()
    };
    let u = uid(value);
    let fins = finalizers(value);
    if is_deleting(value) && fins.iter().any(|f| f == ORPHAN_FINALIZER) {
        for dep in graph.dependents.get(&u).into_iter().flatten() {
            let Some(node) = graph.nodes.get(dep) else {
                continue;
            };
            let Some(drt) = type_of_key(rest, &node.key.resource) else {
                continue;
            };
            let Some(current) = rest.store.get(&node.key) else {
                continue;
            };
            let refs: Vec<Value> = owner_refs(&current.value())
                .into_iter()
                .filter(|r| r.get("uid").and_then(Value::as_str) != Some(u.as_str()))
                .collect();
            let refs = if refs.is_empty() {
                Value::Null
            } else {
                Value::Array(refs)
            };
            let patch = json!({"metadata": {"ownerReferences": refs}});
            rest.patch(
                &drt,
                ns_of(&node.key),
                &node.key.name,
                PatchType::Merge,
                patch.to_string().as_bytes(),
                &opts,
                None,
            )
            .await?;
        }
        remove_finalizer(rest, &rt, key, value, ORPHAN_FINALIZER, &opts).await?;
        return Ok(());
    }
    if is_deleting(value) && fins.iter().any(|f| f == FOREGROUND_FINALIZER) {
        let mut blocking = 0;
        for dep in graph.dependents.get(&u).into_iter().flatten() {
            let Some(node) = graph.nodes.get(dep) else {
                continue;
            };
            let Some(drt) = type_of_key(rest, &node.key.resource) else {
                continue;
            };
            let Some(current) = rest.store.get(&node.key) else {
                continue;
            };
            let dv = current.value();
            let blocks = owner_refs(&dv).iter().any(|r| {
                r.get("uid").and_then(Value::as_str) == Some(u.as_str())
                    && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
            });
            if blocks {
                blocking += 1;
            }
            if !is_deleting(&dv) {
                let del = DeleteOptions {
                    propagation_policy: Some("Foreground".into()),
                    ..DeleteOptions::default()
                };
                match rest
                    .delete(&drt, ns_of(&node.key), &node.key.name, &del)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if blocking == 0 {
            remove_finalizer(rest, &rt, key, value, FOREGROUND_FINALIZER, &opts).await?;
        }
        return Ok(());
    }
    // A dependent: check its owners.
    let refs = owner_refs(value);
    if refs.is_empty() || is_deleting(value) {
        return Ok(());
    }
    let mut absent = Vec::new();
    let mut foreground_owner = false;
    for r in &refs {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let Some(ort) = type_for(rest, s("apiVersion"), s("kind")) else {
            continue;
        };
        let ns = if ort.namespaced {
            key.namespace.as_str()
        } else {
            ""
        };
        let okey = ObjectKey::new(ort.storage_key.clone(), ns, s("name"));
        match rest.store.get(&okey).map(|o| o.value()) {
            Some(owner) if uid(&owner) == s("uid") => {
                if is_deleting(&owner)
                    && finalizers(&owner).iter().any(|f| f == FOREGROUND_FINALIZER)
                {
                    foreground_owner = true;
                }
            }
            _ => absent.push(s("uid").to_string()),
        }
    }
    if absent.len() == refs.len() || foreground_owner {
        let policy = if foreground_owner {
            "Foreground"
        } else {
            "Background"
        };
        let del = DeleteOptions {
            propagation_policy: Some(policy.into()),
            uid: Some(uid(value)),
            ..DeleteOptions::default()
        };
        match rest.delete(&rt, ns_of(key), &key.name, &del).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    } else if !absent.is_empty() {
        let keep: Vec<Value> = refs
            .into_iter()
            .filter(|r| {
                !absent
                    .iter()
                    .any(|a| r.get("uid").and_then(Value::as_str) == Some(a.as_str()))
            })
            .collect();
        let patch = json!({"metadata": {"ownerReferences": keep}});
        rest.patch(
            &rt,
            ns_of(key),
            &key.name,
            PatchType::Merge,
            patch.to_string().as_bytes(),
            &opts,
            None,
        )
        .await
        .map(|_| ())
    } else {
        Ok(())
    }
}

async fn remove_finalizer(
    rest: &Rest,
    rt: &crate::resource::ResourceType,
    key: &ObjectKey,
    value: &Value,
    finalizer: &str,
    opts: &WriteOptions,
) -> Result<(), crate::status::ApiError> {
    let rest_fins: Vec<String> = finalizers(value)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    let rv = value
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    let patch = json!({"metadata": {"finalizers": rest_fins, "resourceVersion": rv}});
    match rest
        .patch(
            rt,
            ns_of(key),
            &key.name,
            PatchType::Merge,
            patch.to_string().as_bytes(),
            opts,
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
