//! The resourcequota controller (kube-controller-manager's, `pkg/controller/resourcequota`):
//! keeps every ResourceQuota's `status.hard` (its `spec.hard`) and `status.used` (what the
//! objects of its namespace in its scopes use of each resource it limits, from
//! `quota::calculate_usage`; a used amount no evaluator counts is kept as it was). The status
//! is written only when it changes.
//!
//! Level-driven from the store's change stream: a quota is recomputed when it is created, when
//! its `spec` changes, or when its status lacks usage for something it limits (a change of its
//! status alone, such as the ResourceQuota admission plugin's charge, is not recomputed, as
//! upstream); the quotas of a namespace are recomputed when an object there that one of them
//! counts changes; and every quota every five minutes (upstream's `--resource-quota-sync-period`),
//! which gives back what admission charged for an object that was not stored after all.

use super::changes::{Change, Changes};
use super::{key_of, write_options};
use crate::quota::{self, evaluator::Evaluator};
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest};
use crate::status::ApiError;
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of the status this controller writes.
const MANAGER: &str = "kube-controller-manager";

/// How often every quota is recomputed (upstream's default sync period).
const FULL_RESYNC: Duration = Duration::from_secs(300);

/// How often a status write that lost a race is retried in one reconcile.
const WRITE_ATTEMPTS: usize = 5;

type Key = (String, String);

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(quotas_rt) = rest.catalog.snapshot().find("", "v1", "resourcequotas") else {
        return;
    };
    // Every quota, by namespace and name, as last seen.
    let mut quotas: BTreeMap<Key, Value> = BTreeMap::new();
    let mut dirty: BTreeSet<Key> = BTreeSet::new();
    let mut changes = Changes::all(&rest);
    let mut resync = tokio::time::interval(FULL_RESYNC);
    resync.tick().await;
    loop {
        for key in std::mem::take(&mut dirty) {
            if let Err(e) = reconcile(&rest, &quotas_rt, &key.0, &key.1).await {
                tracing::debug!(namespace = key.0, quota = key.1, error = %e, "syncing resource quota");
            }
        }
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => {
                    quotas.clear();
                    if let Ok(list) = rest.list(&quotas_rt, None, &ListOptions::default()).await {
                        for o in list.items {
                            let v = o.value();
                            quotas.insert(key_of(&v), v);
                        }
                    }
                    dirty = quotas.keys().cloned().collect();
                }
                Some(Change::Events(events)) => {
                    let resources = resources_by_storage_key(&rest);
                    for e in events {
                        let key = (e.key.namespace.clone(), e.key.name.clone());
                        let gone = e.event_type == EventType::Deleted;
                        if e.key.resource == quotas_rt.storage_key {
                            if gone {
                                quotas.remove(&key);
                                continue;
                            }
                            let now = e.object.value();
                            let before = e.prev.as_ref().map(|p| p.value());
                            if before.as_ref().map(|b| b.get("spec")) != Some(now.get("spec"))
                                || !status_complete(&now)
                            {
                                dirty.insert(key.clone());
                            }
                            quotas.insert(key, now);
                        } else if let Some((group, plural)) = resources.get(&e.key.resource) {
                            let evaluator = Evaluator::for_resource(group, plural);
                            dirty.extend(
                                in_namespace(&quotas, &key.0)
                                    .filter(|(_, q)| {
                                        let hard = quota::list_at(q, "/spec/hard");
                                        !evaluator.matching_resources(hard.keys()).is_empty()
                                    })
                                    .map(|(k, _)| k.clone()),
                            );
                        }
                    }
                }
            },
            _ = resync.tick() => {
                dirty = quotas.keys().cloned().collect();
            }
        }
    }
}

/// The served resources by storage key: (group, plural) of the first served one.
fn resources_by_storage_key(rest: &Rest) -> HashMap<Arc<str>, (String, String)> {
    let mut out = HashMap::new();
    for t in rest.catalog.snapshot().all() {
        if t.namespaced {
            out.entry(t.storage_key.clone())
                .or_insert_with(|| (t.group.to_string(), t.plural.to_string()));
        }
    }
    out
}

/// The quotas of namespace `ns`.
fn in_namespace<'a>(
    quotas: &'a BTreeMap<Key, Value>,
    ns: &'a str,
) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
    quotas
        .range((ns.to_string(), String::new())..)
        .take_while(move |((n, _), _)| n == ns)
}

/// Whether the status has the spec's hard limits and a usage for each.
fn status_complete(q: &Value) -> bool {
    let hard = quota::list_at(q, "/spec/hard");
    let status_hard = quota::list_at(q, "/status/hard");
    let used = quota::list_at(q, "/status/used");
    hard == status_hard && hard.keys().all(|k| used.contains_key(k))
}

/// Brings one quota's status up to date (upstream's `syncResourceQuota`).
async fn reconcile(rest: &Rest, rt: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let q = match rest.get_value(rt, Some(ns), name) {
            Ok(q) => q,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        };
        let hard = quota::list_at(&q, "/spec/hard");
        let computed = quota::calculate_usage(rest, ns, &q, &hard).await?;
        let mut used = quota::list_at(&q, "/status/used");
        used.extend(computed);
        let used = quota::mask(&used, hard.keys());
        let status = json!({"hard": quota::to_json(&hard), "used": quota::to_json(&used)});
        let current = json!({
            "hard": quota::to_json(&quota::list_at(&q, "/status/hard")),
            "used": quota::to_json(&quota::list_at(&q, "/status/used")),
        });
        if current == status && q.pointer("/status/hard").is_some() {
            return Ok(());
        }
        let mut updated = q.clone();
        updated["status"] = status;
        match rest
            .update(
                rt,
                Some(ns),
                name,
                updated,
                &write_options(MANAGER),
                Some("status"),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.code == 409 => continue,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        "",
        "resourcequotas",
        name,
        "too many concurrent writers",
    ))
}
