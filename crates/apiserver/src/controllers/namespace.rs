//! The namespace lifecycle, as kube-controller-manager's namespace controller runs it.
//!
//! Deleting a namespace marks it (phase `Terminating`, deletionTimestamp set; the `kubernetes`
//! entry in `spec.finalizers` keeps it). This controller then deletes everything in it — objects
//! with finalizers of their own are only marked and go when their finalizers do — and, once the
//! namespace is empty, removes its `kubernetes` finalizer, which deletes the namespace.

use super::all_types;
use super::changes::{Change, Changes};
use crate::registry::core::namespaces::FINALIZER;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Runs the controller until the store closes.
pub async fn run(rest: Rest) {
    let mut terminating: BTreeSet<String> = BTreeSet::new();
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let touched = match change {
            Change::Resync { .. } => {
                terminating = terminating_namespaces(&rest).await;
                terminating.clone()
            }
            Change::Events(events) => {
                let mut touched = BTreeSet::new();
                for event in &events {
                    if &*event.key.resource == "/namespaces" {
                        let v = event.object.value();
                        let deleting = v
                            .pointer("/metadata/deletionTimestamp")
                            .is_some_and(|t| !t.is_null());
                        if event.event_type != EventType::Deleted && deleting {
                            terminating.insert(event.key.name.clone());
                            touched.insert(event.key.name.clone());
                        } else {
                            terminating.remove(&event.key.name);
                        }
                    } else if terminating.contains(&event.key.namespace) {
                        touched.insert(event.key.namespace.clone());
                    }
                }
                touched
            }
        };
        for ns in touched {
            if clean(&rest, &ns).await {
                terminating.remove(&ns);
            }
        }
    }
}

async fn terminating_namespaces(rest: &Rest) -> BTreeSet<String> {
    let Some(rt) = rest.catalog.snapshot().find("", "v1", "namespaces") else {
        return BTreeSet::new();
    };
    let Ok(list) = rest.list(&rt, None, &ListOptions::default()).await else {
        return BTreeSet::new();
    };
    list.items
        .iter()
        .map(|o| o.value())
        .filter(|v| {
            v.pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
        })
        .filter_map(|v| {
            v.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// Deletes the namespace's contents; finalizes it when nothing is left. True when finalized.
async fn clean(rest: &Rest, ns: &str) -> bool {
    let mut left = 0;
    for rt in all_types(rest).into_iter().filter(|t| t.namespaced) {
        let opts = DeleteOptions {
            propagation_policy: Some("Background".into()),
            ..DeleteOptions::default()
        };
        if let Err(e) = rest
            .delete_collection(&rt, Some(ns), &ListOptions::default(), &opts)
            .await
        {
            tracing::debug!(namespace = ns, resource = %rt.plural, error = %e, "deleting namespace contents");
        }
        left += rest
            .list(&rt, Some(ns), &ListOptions::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
    }
    if left > 0 {
        return false;
    }
    let Some(ns_type) = rest.catalog.snapshot().find("", "v1", "namespaces") else {
        return false;
    };
    let Ok(current) = rest.get_value(&ns_type, None, ns) else {
        return true;
    };
    let remaining: Vec<Value> = current
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|f| f.as_str() != Some(FINALIZER))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let opts = WriteOptions {
        field_manager: "namespace-controller".into(),
        ..WriteOptions::default()
    };
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": remaining}});
    match rest
        .update(&ns_type, None, ns, body, &opts, Some("finalize"))
        .await
    {
        Ok(_) => true,
        Err(e) if e.code == 404 => true,
        Err(e) => {
            tracing::debug!(namespace = ns, error = %e, "finalizing namespace");
            false
        }
    }
}
