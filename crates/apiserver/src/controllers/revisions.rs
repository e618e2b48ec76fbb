//! ControllerRevision history, shared by the simulated StatefulSet and DaemonSet controllers
//! (upstream's `pkg/controller/history` and the two controllers' use of it).
//!
//! - A revision snapshots its owner's pod template as the patch upstream stores in `data`:
//!   `{"spec":{"template":{…,"$patch":"replace"}}}`, serialized as Go's `encoding/json` does
//!   (keys sorted), so `kubectl rollout undo` can apply it as a strategic merge patch and
//!   `kubectl rollout history --revision` can show it.
//! - It is named `<owner>-<hash>`: the hash is upstream's `HashControllerRevision` (32-bit FNV-1
//!   of the data, then of the collision count when there is one, its decimal digits mapped to
//!   `rand.SafeEncodeString`'s alphabet); the hash is also its `controller-revision-hash` label,
//!   beside the template's labels (kubectl finds an owner's revisions by the owner's selector).
//!   The owner's annotations are copied, and it is controlled by its owner.
//! - The update revision is the one whose data equals the owner's current template: the latest
//!   revision reused as it is, an earlier one (a rollback) given the next revision number, or
//!   else a new revision `max + 1`. A name taken by different data raises the collision count.
//! - Revisions beyond `spec.revisionHistoryLimit` (10 when unset) that no pod uses and that are
//!   neither the current nor the update revision are deleted, oldest first.

use super::owned::controller_uid;
use super::str_at as s;
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, PatchType, Rest, WriteOptions};
use crate::status::ApiError;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The label with a revision's hash (on revisions, and on the pods made from them).
pub(crate) const HASH_LABEL: &str = "controller-revision-hash";
/// `spec.revisionHistoryLimit` when unset.
const DEFAULT_HISTORY_LIMIT: i64 = 10;

/// Go's `encoding/json` rendering of `v`: object keys sorted, `<`, `>` and `&` escaped.
pub(crate) fn go_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(&Value::String(k.clone()), out);
                    out.push(':');
                    if let Some(v) = m.get(k) {
                        write(v, out);
                    }
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::String(_) => {
                let text = v.to_string();
                out.push_str(
                    &text
                        .replace('<', "\\u003c")
                        .replace('>', "\\u003e")
                        .replace('&', "\\u0026"),
                );
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The patch a revision of `owner` stores: its pod template, replacing the whole template.
pub(crate) fn patch_of(owner: &Value) -> Value {
    let mut template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The pod template revision `revision` holds (its data without the `$patch` directive).
pub(crate) fn template_of(revision: &Value) -> Value {
    let mut template = revision
        .pointer("/data/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    if let Some(t) = template.as_object_mut() {
        t.shift_remove("$patch");
    }
    template
}

/// Upstream's `HashControllerRevision` of `data` with collision count `probe`.
pub(crate) fn hash(data: &Value, probe: Option<i64>) -> String {
    // 32-bit FNV-1 (Go's `fnv.New32`).
    let mut h: u32 = 0x811c_9dc5;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    };
    write(go_json(data).as_bytes());
    if let Some(probe) = probe {
        write(probe.to_string().as_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// Upstream's `ControllerRevisionName`: the owner's name (cut to 223 characters) and the hash.
fn revision_name(owner: &str, hash: &str) -> String {
    let prefix: String = owner.chars().take(223).collect();
    format!("{prefix}-{hash}")
}

/// The revision number of `revision`.
pub(crate) fn number(revision: &Value) -> i64 {
    revision
        .get("revision")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The revisions `owner` controls, oldest first (upstream's `SortControllerRevisions`).
pub(crate) async fn owned(rest: &Rest, rt: &ResourceType, owner: &Value) -> Vec<Value> {
    let (ns, uid) = (s(owner, "/metadata/namespace"), s(owner, "/metadata/uid"));
    let Ok(list) = rest.list(rt, Some(ns), &ListOptions::default()).await else {
        return Vec::new();
    };
    let mut revisions: Vec<Value> = list
        .items
        .iter()
        .map(|o| o.value())
        .filter(|r| controller_uid(r).as_deref() == Some(uid) && !super::deleting(r))
        .collect();
    revisions.sort_by(|a, b| {
        (
            number(a),
            s(a, "/metadata/creationTimestamp"),
            s(a, "/metadata/name"),
        )
            .cmp(&(
                number(b),
                s(b, "/metadata/creationTimestamp"),
                s(b, "/metadata/name"),
            ))
    });
    revisions
}

/// What [`sync`] found or made.
pub(crate) struct Synced {
    /// The revision of the owner's current template.
    pub update: Value,
    /// Every revision the owner controls after the sync, oldest first.
    pub revisions: Vec<Value>,
    /// The collision count, when a name collision raised it.
    pub collision_count: i64,
}

/// Finds or makes the revision of `owner`'s current template (see the module doc);
/// `kind` is the owner's kind (`StatefulSet`, `DaemonSet`), `revisions` what [`owned`] returned.
pub(crate) async fn sync(
    rest: &Rest,
    rt: &ResourceType,
    owner: &Value,
    kind: &str,
    mut revisions: Vec<Value>,
    manager: &str,
) -> Result<Synced, ApiError> {
    let opts = WriteOptions {
        field_manager: manager.into(),
        ..WriteOptions::default()
    };
    let ns = s(owner, "/metadata/namespace");
    let data = patch_of(owner);
    let mut collision_count = owner
        .pointer("/status/collisionCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let next = revisions.last().map(number).unwrap_or(0) + 1;
    let equal = revisions.iter().rposition(|r| r.get("data") == Some(&data));
    if let Some(i) = equal {
        if i + 1 == revisions.len() {
            let update = revisions[i].clone();
            return Ok(Synced {
                update,
                revisions,
                collision_count,
            });
        }
        // A rollback: the equal revision becomes the latest.
        let name = s(&revisions[i], "/metadata/name").to_string();
        let patch = json!({"revision": next});
        let written = rest
            .patch(
                rt,
                Some(ns),
                &name,
                PatchType::Merge,
                patch.to_string().as_bytes(),
                &opts,
                None,
            )
            .await?
            .object;
        revisions.remove(i);
        revisions.push(written.clone());
        return Ok(Synced {
            update: written,
            revisions,
            collision_count,
        });
    }
    let mut labels = owner
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    let annotations = owner
        .pointer("/metadata/annotations")
        .cloned()
        .filter(Value::is_object);
    let owner_name = s(owner, "/metadata/name");
    // Upstream probes at most until a free name or an equal revision turns up.
    for _ in 0..16 {
        let probe = (collision_count != 0).then_some(collision_count);
        let hash = hash(&data, probe);
        let name = revision_name(owner_name, &hash);
        labels[HASH_LABEL] = json!(hash);
        let mut metadata = json!({"name": name, "namespace": ns, "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner_name,
                "uid": s(owner, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true}]});
        if let Some(a) = &annotations {
            metadata["annotations"] = a.clone();
        }
        let revision = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": metadata, "data": data, "revision": next});
        match rest.create(rt, Some(ns), revision, &opts).await {
            Ok(created) => {
                revisions.push(created.object.clone());
                return Ok(Synced {
                    update: created.object,
                    revisions,
                    collision_count,
                });
            }
            Err(e) if e.code == 409 => {
                if let Ok(existing) = rest.get_value(rt, Some(ns), &name)
                    && existing.get("data") == Some(&data)
                    && controller_uid(&existing).as_deref() == Some(s(owner, "/metadata/uid"))
                {
                    revisions.push(existing.clone());
                    return Ok(Synced {
                        update: existing,
                        revisions,
                        collision_count,
                    });
                }
                collision_count += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::internal(format!(
        "no free ControllerRevision name for {kind} {ns}/{owner_name}"
    )))
}

/// Deletes the oldest revisions of `owner` beyond its `spec.revisionHistoryLimit`, keeping
/// those named in `live` (the current and update revisions, and those pods use).
pub(crate) async fn truncate(
    rest: &Rest,
    rt: &ResourceType,
    owner: &Value,
    revisions: &[Value],
    live: &HashSet<String>,
) -> Result<(), ApiError> {
    let limit = owner
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_HISTORY_LIMIT)
        .max(0);
    let history: Vec<&Value> = revisions
        .iter()
        .filter(|r| !live.contains(s(r, "/metadata/name")))
        .collect();
    let excess = history.len() as i64 - limit;
    for r in history.into_iter().take(excess.max(0) as usize) {
        match rest
            .delete(
                rt,
                Some(s(r, "/metadata/namespace")),
                s(r, "/metadata/name"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_the_template_as_a_replacing_patch_in_go_key_order() {
        let owner = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a<b"}]},
            "metadata": {"labels": {"app": "web"}}}}});
        let data = patch_of(&owner);
        assert_eq!(
            go_json(&data),
            r#"{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"a\u003cb","name":"c"}]}}}}"#
        );
        assert_eq!(
            template_of(&json!({"data": data})),
            owner["spec"]["template"]
        );
    }

    #[test]
    fn hashes_use_the_safe_alphabet_and_change_with_the_probe() {
        let data = json!({"spec": {"template": {"$patch": "replace"}}});
        let (a, b) = (hash(&data, None), hash(&data, Some(1)));
        assert_ne!(a, b);
        for h in [&a, &b] {
            assert!(!h.is_empty() && h.len() <= 10, "{h}");
            assert!(
                h.bytes()
                    .all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c))
            );
        }
        assert_eq!(revision_name("web", &a), format!("web-{a}"));
    }
}
