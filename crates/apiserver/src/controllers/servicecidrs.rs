//! The servicecidrs controller (kube-controller-manager's `service-cidr-controller`,
//! simulated): every ServiceCIDR carries the `networking.k8s.io/service-cidr-finalizer` and a
//! `Ready` condition (True, `Kubernetes Service CIDR is ready`). A deleted ServiceCIDR keeps its
//! finalizer while an IPAddress the allocator made lies in no other ServiceCIDR (its `Ready`
//! turns False, reason `Terminating`), and loses it once none does and ten seconds have passed
//! since the deletion (upstream's grace for allocators to stop using it).

use super::changes::{Change, Changes};
use crate::registry::core::services::allocation::MANAGED_BY;
use crate::registry::networking::servicecidrs::{FINALIZER, Prefix, prefixes};
use crate::resource::ResourceType;
use crate::rest::Rest;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The field manager of what this controller writes.
const MANAGER: &str = "service-cidr-controller";
/// How long after its deletion a ServiceCIDR keeps its finalizer at least.
const DELETION_GRACE: Duration = Duration::from_secs(10);
/// The `Ready` message of a ServiceCIDR in use.
const READY: &str = "Kubernetes Service CIDR is ready";
/// The `Ready` message of a deleted ServiceCIDR that IPAddresses still depend on.
const BLOCKED: &str = "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR";

struct Types {
    cidrs: Arc<ResourceType>,
    ips: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        cidrs: r.find("networking.k8s.io", "v1", "servicecidrs")?,
        ips: r.find("networking.k8s.io", "v1", "ipaddresses")?,
    })
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else { return };
    let mut changes = Changes::all(&rest);
    // When to look again regardless of changes (an instant, so that unrelated changes do not
    // push it back).
    let mut wake: Option<tokio::time::Instant> = None;
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let relevant = tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => true,
                Some(Change::Events(events)) => events.iter().any(|e| {
                    e.key.resource == t.cidrs.storage_key || e.key.resource == t.ips.storage_key
                }),
            },
            _ = tokio::time::sleep_until(wake.unwrap_or(far)), if wake.is_some() => true,
        };
        if relevant {
            wake = reconcile(&rest, &t)
                .await
                .map(|after| tokio::time::Instant::now() + after);
        }
    }
}

/// Puts every ServiceCIDR right once (the server's start does this, so that a started server
/// is settled).
pub(crate) async fn sync(rest: &Rest) {
    if let Some(t) = types(rest) {
        reconcile(rest, &t).await;
    }
}

/// Puts every ServiceCIDR right; answers when to look again (a deletion waiting for its grace,
/// or a write that failed).
async fn reconcile(rest: &Rest, t: &Types) -> Option<Duration> {
    let cidrs: Vec<Value> = rest
        .store
        .current(&t.cidrs.storage_key)
        .iter()
        .map(|s| s.value())
        .collect();
    let mut wake: Option<Duration> = None;
    let mut later = |d: Duration| wake = Some(wake.map_or(d, |w| w.min(d)));
    for cidr in &cidrs {
        let name = str_at(cidr, "/metadata/name");
        let result = if super::deleting(cidr) {
            if !has_finalizer(cidr) {
                continue;
            }
            if !can_delete(rest, t, cidr, &cidrs) {
                set_ready(rest, t, cidr, "False", "Terminating", BLOCKED).await
            } else {
                let since = str_at(cidr, "/metadata/deletionTimestamp")
                    .parse::<jiff::Timestamp>()
                    .map(|at| jiff::Timestamp::now().duration_since(at))
                    .unwrap_or_default();
                let grace = jiff::SignedDuration::try_from(DELETION_GRACE).unwrap_or_default();
                if since < grace {
                    later((grace - since).unsigned_abs() + Duration::from_millis(100));
                    continue;
                }
                write_finalizers(rest, t, cidr, false).await
            }
        } else {
            let added = if has_finalizer(cidr) {
                Ok(None)
            } else {
                write_finalizers(rest, t, cidr, true).await
            };
            match added {
                Ok(Some(updated)) => set_ready(rest, t, &updated, "True", "", READY).await,
                Ok(None) => set_ready(rest, t, cidr, "True", "", READY).await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            tracing::debug!(servicecidr = name, error = %e, "reconciling a ServiceCIDR");
            later(Duration::from_secs(1));
        }
    }
    wake
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn has_finalizer(cidr: &Value) -> bool {
    crate::rest::finalizers(cidr).iter().any(|f| f == FINALIZER)
}

/// Upstream's `canDeleteCIDR`: each CIDR lies in another ServiceCIDR, or no IPAddress of the
/// allocator lies in this ServiceCIDR alone.
fn can_delete(rest: &Rest, t: &Types, cidr: &Value, all: &[Value]) -> bool {
    let name = str_at(cidr, "/metadata/name");
    let others: Vec<(&str, Vec<Prefix>)> = all
        .iter()
        .map(|c| (str_at(c, "/metadata/name"), prefixes(c)))
        .collect();
    let mine = prefixes(cidr);
    let has_parent = mine.iter().all(|p| {
        others
            .iter()
            .any(|(n, ps)| *n != name && ps.iter().any(|o| o.covers(p)))
    });
    if has_parent {
        return true;
    }
    for stored in rest.store.current(&t.ips.storage_key) {
        let ip = stored.value();
        if str_at(&ip, "/metadata/labels/ipaddress.kubernetes.io~1managed-by") != MANAGED_BY {
            continue;
        }
        let Ok(addr) = str_at(&ip, "/metadata/name").parse::<IpAddr>() else {
            continue;
        };
        let holders: Vec<&str> = others
            .iter()
            .filter(|(_, ps)| ps.iter().any(|p| p.contains(addr)))
            .map(|(n, _)| *n)
            .collect();
        if holders == [name] {
            return false;
        }
    }
    true
}

/// Adds (`add`) or removes the finalizer; answers the object written.
async fn write_finalizers(
    rest: &Rest,
    t: &Types,
    cidr: &Value,
    add: bool,
) -> Result<Option<Value>, crate::status::ApiError> {
    let mut fins = crate::rest::finalizers(cidr);
    if add {
        fins.push(FINALIZER.to_string());
    } else {
        fins.retain(|f| f != FINALIZER);
    }
    let mut updated = cidr.clone();
    updated["metadata"]["finalizers"] = json!(fins);
    write(rest, t, updated, None).await
}

/// Writes `updated` (through `subresource`); answers the object written.
async fn write(
    rest: &Rest,
    t: &Types,
    updated: Value,
    subresource: Option<&str>,
) -> Result<Option<Value>, crate::status::ApiError> {
    let name = str_at(&updated, "/metadata/name").to_string();
    let opts = super::write_options(MANAGER);
    let written = rest
        .update(&t.cidrs, None, &name, updated, &opts, subresource)
        .await?;
    Ok(Some(written.object))
}

/// Sets the `Ready` condition unless it already says this.
async fn set_ready(
    rest: &Rest,
    t: &Types,
    cidr: &Value,
    status: &str,
    reason: &str,
    message: &str,
) -> Result<Option<Value>, crate::status::ApiError> {
    let conditions: Vec<Value> = cidr
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
    if current.is_some_and(|c| {
        str_at(c, "/status") == status
            && str_at(c, "/reason") == reason
            && str_at(c, "/message") == message
    }) {
        return Ok(None);
    }
    let mut kept: Vec<Value> = conditions
        .into_iter()
        .filter(|c| c.get("type").and_then(Value::as_str) != Some("Ready"))
        .collect();
    kept.push(json!({"type": "Ready", "status": status,
        "lastTransitionTime": crate::rest::now(), "reason": reason, "message": message}));
    let mut updated = cidr.clone();
    updated["status"] = json!({"conditions": kept});
    write(rest, t, updated, Some("status")).await
}
