//! The CRD controller: what apiextensions-apiserver does when CRDs come and go.
//!
//! It watches CustomResourceDefinitions in the store and
//! - accepts names (or reports a conflict with another CRD or a built-in resource in
//!   `NamesAccepted`), then serves the CRD's versions and marks it `Established`;
//! - when a CRD is being deleted, deletes all its objects and then removes the
//!   `customresourcecleanup.apiextensions.k8s.io` finalizer, so the CRD goes away;
//! - re-reads every CRD on start, so a restarted server serves what it served before.

use super::{CLEANUP_FINALIZER, served_types};
use crate::controllers::changes::Changes;
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn names_of(crd: &Value) -> (String, String, String) {
    let s = |p: &str| {
        crd.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        s("/spec/group"),
        s("/spec/names/plural"),
        s("/spec/names/kind"),
    )
}

fn condition(type_: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": type_, "status": if status { "True" } else { "False" }, "lastTransitionTime": now, "reason": reason, "message": message})
}

/// How often a CRD whose objects are still being deleted is looked at again.
const CLEANUP_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a user's write of a CRD waits for this server to serve what it says.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until this server serves the CRDs as of resourceVersion `revision` (their resources,
/// versions and conversion webhook), so that a request after a CRD write is answered by what
/// the write said, on every storage medium: on etcd, the controller learns of the write from
/// etcd's watch and re-reads the CRDs only after the write is acknowledged. (The CRD controller's
/// own status writes do not wait: it is the one that would have to act.)
pub fn settled(rest: &Rest, revision: u64) -> futures::future::BoxFuture<'_, ()> {
    Box::pin(async move {
        if !rest.catalog.wait_for_custom(revision, SETTLE).await {
            tracing::warn!(
                revision,
                "the served CRDs did not reach the write's resourceVersion in time"
            );
        }
    })
}

/// Runs the controller until the store closes.
pub async fn run(rest: Rest) {
    let Some(crd_type) =
        rest.catalog
            .snapshot()
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return;
    };
    let mut changes = Changes::new(&rest, Some(crd_type.storage_key.clone()));
    let mut pending = false;
    loop {
        // A CRD waiting for its objects' finalizers is retried: those objects' changes are not
        // CRD events (upstream's finalizer controller requeues the same way).
        let next = if pending {
            match tokio::time::timeout(CLEANUP_RETRY, changes.next()).await {
                Ok(next) => next,
                Err(_) => {
                    pending = sync(&rest, &crd_type).await;
                    continue;
                }
            }
        } else {
            changes.next().await
        };
        // A resync and a change alike: every CRD is brought in line.
        if next.is_none() {
            return;
        }
        pending = sync(&rest, &crd_type).await;
    }
}

/// Brings the catalog and every CRD's status in line with the stored CRDs. Returns whether a
/// deleted CRD still waits for some of its objects to go.
pub async fn sync(rest: &Rest, crd_type: &ResourceType) -> bool {
    let Ok(list) = rest.list(crd_type, None, &ListOptions::default()).await else {
        return false;
    };
    let crds: Vec<Value> = list.items.iter().map(|o| o.value()).collect();
    let revision = list.resource_version;
    // Decide names: oldest CRD wins a conflict (by creation, then name).
    let mut ordered: Vec<&Value> = crds.iter().collect();
    ordered.sort_by_key(|c| {
        (
            c.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            c.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    });
    let mut taken_plural: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut taken_kind: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut custom: Vec<ResourceType> = Vec::new();
    let now = crate::rest::now();
    let mut statuses: Vec<(&Value, Vec<Value>, bool)> = Vec::new();
    for crd in ordered {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (group, plural, kind) = names_of(crd);
        let conflict = if rest.catalog.is_builtin(&group, &plural)
            || taken_plural
                .get(&(group.clone(), plural.clone()))
                .is_some_and(|o| *o != name)
        {
            Some(("PluralConflict", format!("{plural:?} is already in use")))
        } else if taken_kind
            .get(&(group.clone(), kind.clone()))
            .is_some_and(|o| *o != name)
        {
            Some(("KindConflict", format!("{kind:?} is already in use")))
        } else {
            None
        };
        let deleting = crd
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        let mut conditions = Vec::new();
        match &conflict {
            Some((reason, message)) => {
                conditions.push(condition("NamesAccepted", false, reason, message, &now));
                conditions.push(condition(
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                    &now,
                ));
            }
            None => {
                taken_plural.insert((group.clone(), plural.clone()), name.clone());
                taken_kind.insert((group.clone(), kind.clone()), name.clone());
                custom.extend(served_types(crd));
                conditions.push(condition(
                    "NamesAccepted",
                    true,
                    "NoConflicts",
                    "no conflicts found",
                    &now,
                ));
                conditions.push(condition(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    &now,
                ));
            }
        }
        if deleting {
            conditions.push(condition(
                "Terminating",
                true,
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                &now,
            ));
        }
        statuses.push((crd, conditions, conflict.is_none()));
    }
    // Serve first, then say so: a client that sees `Established` must find the resource.
    rest.catalog.set_custom(custom, revision);
    for (crd, conditions, accepted) in statuses {
        update_status(rest, crd_type, crd, conditions, accepted).await;
    }
    let mut pending = false;
    for crd in &crds {
        if crd
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            pending |= !cleanup(rest, crd_type, crd).await;
        }
    }
    pending
}

async fn update_status(
    rest: &Rest,
    crd_type: &ResourceType,
    crd: &Value,
    conditions: Vec<Value>,
    accepted: bool,
) {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let old_conditions = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Keep lastTransitionTime when the status of a condition did not change.
    let conditions: Vec<Value> = conditions
        .into_iter()
        .map(|mut c| {
            if let Some(old) = old_conditions
                .iter()
                .find(|o| o["type"] == c["type"] && o["status"] == c["status"])
            {
                c["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            c
        })
        .collect();
    let mut accepted_names = crd
        .pointer("/status/acceptedNames")
        .cloned()
        .unwrap_or(json!({}));
    if accepted {
        let mut names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
        if names.get("listKind").is_none() {
            names["listKind"] = json!(format!("{}List", names["kind"].as_str().unwrap_or("")));
        }
        if names.get("singular").is_none() {
            names["singular"] = json!(names["kind"].as_str().unwrap_or("").to_lowercase());
        }
        accepted_names = names;
    }
    if crd.pointer("/status/conditions") == Some(&Value::Array(conditions.clone()))
        && crd.pointer("/status/acceptedNames") == Some(&accepted_names)
    {
        return;
    }
    let opts = WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..WriteOptions::default()
    };
    let patch = json!({"status": {"conditions": conditions, "acceptedNames": accepted_names}});
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    if let Err(e) = rest
        .patch(
            crd_type,
            None,
            name,
            crate::rest::PatchType::Merge,
            &body,
            &opts,
            Some("status"),
        )
        .await
    {
        tracing::warn!(crd = name, error = %e, "updating CRD status");
    }
}

/// Deletes a deleted CRD's objects and then its cleanup finalizer; false while objects remain.
async fn cleanup(rest: &Rest, crd_type: &ResourceType, crd: &Value) -> bool {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, plural, _) = names_of(crd);
    let finalizers: Vec<String> = crate::rest::finalizers(crd);
    if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
        return true;
    }
    if let Some(rt) = served_types(crd).into_iter().next().or_else(|| {
        rest.catalog
            .snapshot()
            .any_version(&group, &plural)
            .map(|a| (*a).clone())
    }) {
        let opts = DeleteOptions::default();
        let deleted = rest
            .delete_collection(&rt, None, &ListOptions::default(), &opts)
            .await;
        if deleted.as_ref().is_err_and(|e| e.code != 404) {
            return false;
        }
        if deleted.is_ok_and(|remaining| !remaining.is_empty()) {
            // Objects with finalizers of their own are marked; they go when their finalizers do.
            let left = rest
                .list(&rt, None, &ListOptions::default())
                .await
                .map(|l| l.items.len())
                .unwrap_or(0);
            if left > 0 {
                return false;
            }
        }
    }
    let rest_finalizers: Vec<String> = finalizers
        .into_iter()
        .filter(|f| f != CLEANUP_FINALIZER)
        .collect();
    let patch = json!({"metadata": {"finalizers": rest_finalizers}});
    let opts = WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..WriteOptions::default()
    };
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    if let Err(e) = rest
        .patch(
            crd_type,
            None,
            name,
            crate::rest::PatchType::Merge,
            &body,
            &opts,
            None,
        )
        .await
    {
        tracing::warn!(crd = name, error = %e, "removing CRD cleanup finalizer");
        return false;
    }
    true
}
