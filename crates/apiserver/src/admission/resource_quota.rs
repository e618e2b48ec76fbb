//! ResourceQuota (kube-apiserver's admission plugin of that name, the last of the validating
//! stage): a create, or an update that uses more (a claim's `requests.storage`, a Service's
//! type), in a namespace with ResourceQuotas is charged against each quota that selects the
//! object (`quota::matches`). A quota that tracks cpu or memory requires every container to
//! state them (`failed quota: q: must specify …`); a quota whose usage the controller has not
//! computed yet refuses (`status unknown for quota: …`); a request that would take a quota's
//! `status.used` over its `status.hard` is refused with upstream's
//! `exceeded quota: q, requested: …, used: …, limited: …`.
//!
//! As upstream, the charge is written to the quota's `status.used` before the object is stored,
//! with the quota's resourceVersion as precondition: of two creates racing for the last unit,
//! one write conflicts, re-reads the quota and is refused. The resourcequota controller later
//! recomputes usage from what is stored, so a charge whose object was not stored after all (a
//! later failure) is given back. Dry runs are checked, never charged. Subresources are not
//! charged, as upstream, but for `pods/resize` (1.33's pod evaluator handles its updates); an
//! update of a pod itself is not charged (it cannot change the pod's resources).

use super::{Operation, Request};
use crate::controllers::{str_at, write_options};
use crate::quota::evaluator::Evaluator;
use crate::quota::{self, ResourceList};
use crate::rest::{ListOptions, Rest};
use crate::status::ApiError;
use serde_json::Value;
use std::collections::BTreeSet;

/// How often the charge is retried when a quota changed under it (upstream's retries).
const ATTEMPTS: usize = 5;

/// The field manager of the charges written.
const MANAGER: &str = "kube-apiserver";

/// Checks `obj` (the object about to be stored) against the quotas of its namespace and
/// charges them. (Boxed: the charge is a write, which passes admission again.)
pub fn validate<'a>(
    rest: &'a Rest,
    request: &'a Request<'a>,
    obj: Option<&'a Value>,
) -> futures::future::BoxFuture<'a, Result<(), ApiError>> {
    Box::pin(charge(rest, request, obj))
}

async fn charge(rest: &Rest, request: &Request<'_>, obj: Option<&Value>) -> Result<(), ApiError> {
    let rt = request.rt;
    let (Some(obj), Some(ns)) = (obj, request.namespace) else {
        return Ok(());
    };
    // Subresources are not charged, but for a pod's resize (`Evaluator::handles`).
    if !rt.namespaced || request.object_kind.is_some() {
        return Ok(());
    }
    let evaluator = Evaluator::for_resource(&rt.group, &rt.plural);
    if !evaluator.handles(request.operation, request.subresource) {
        return Ok(());
    }
    let Some(quotas_rt) = rest.catalog.snapshot().find("", "v1", "resourcequotas") else {
        return Ok(());
    };
    // From the cache, as upstream's informer: a stale quota fails its write and is read again.
    let cached = ListOptions {
        resource_version: Some("0".into()),
        ..ListOptions::default()
    };
    let options = write_options(MANAGER);
    let mut charged: BTreeSet<String> = BTreeSet::new();
    for _ in 0..ATTEMPTS {
        let quotas: Vec<Value> = rest
            .list(&quotas_rt, Some(ns), &cached)
            .await?
            .items
            .iter()
            .map(|o| o.value())
            .filter(|q| !charged.contains(str_at(q, "/metadata/name")))
            .collect();
        if quotas.is_empty() {
            return Ok(());
        }
        let updated = check(request, &evaluator, &quotas, obj)?;
        if request.dry_run {
            return Ok(());
        }
        let mut conflicted = false;
        for (mut quota, used) in updated {
            let name = str_at(&quota, "/metadata/name").to_string();
            quota["status"]["used"] = quota::to_json(&used);
            let write = rest.update(&quotas_rt, Some(ns), &name, quota, &options, Some("status"));
            match write.await {
                Ok(_) => {
                    charged.insert(name);
                }
                // Deleted meanwhile: nothing to charge.
                Err(e) if e.code == 404 => {
                    charged.insert(name);
                }
                Err(e) if e.code == 409 => conflicted = true,
                Err(e) => return Err(e),
            }
        }
        if !conflicted {
            return Ok(());
        }
    }
    Err(ApiError::conflict(
        "",
        "resourcequotas",
        "",
        "too many concurrent writes to the namespace's quotas, please retry",
    ))
}

/// The quotas the request changes with their new `status.used`, or the refusal (upstream's
/// `checkRequest`).
fn check(
    request: &Request<'_>,
    evaluator: &Evaluator,
    quotas: &[Value],
    obj: &Value,
) -> Result<Vec<(Value, ResourceList)>, ApiError> {
    let mut interesting = Vec::new();
    for quota in quotas {
        let hard = quota::list_at(quota, "/status/hard");
        if !quota::matches(evaluator, &hard, quota, obj) {
            continue;
        }
        let name = str_at(quota, "/metadata/name");
        let required = evaluator.matching_resources(hard.keys());
        evaluator
            .constraints(&required, obj)
            .map_err(|e| super::forbidden(request, format!("failed quota: {name}: {e}")))?;
        let used = quota::list_at(quota, "/status/used");
        if required.iter().any(|r| !used.contains_key(r)) {
            let mut names = required.clone();
            names.sort();
            return Err(super::forbidden(
                request,
                format!(
                    "status unknown for quota: {name}, resources: {}",
                    names.join(",")
                ),
            ));
        }
        interesting.push((quota, hard, used));
    }
    if interesting.is_empty() {
        return Ok(Vec::new());
    }
    let mut delta = evaluator.usage(obj);
    let negative: Vec<String> = delta
        .iter()
        .filter(|(_, q)| q.nanos() < 0)
        .map(|(k, _)| k.clone())
        .collect();
    if !negative.is_empty() {
        return Err(super::forbidden(
            request,
            format!(
                "quota usage is negative for resource(s): {}",
                negative.join(",")
            ),
        ));
    }
    if request.operation == Operation::Update
        && let Some(old) = request.old_object
    {
        delta = quota::subtract(&delta, &evaluator.usage(old));
    }
    if delta.values().all(|q| q.is_zero()) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (quota, hard, used) in interesting {
        let requested = quota::mask(&delta, hard.keys());
        let new_used = quota::add(&used, &requested);
        let masked = quota::mask(&new_used, requested.keys());
        let exceeded = quota::exceeded(&masked, &hard);
        if !exceeded.is_empty() {
            return Err(super::forbidden(
                request,
                format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    str_at(quota, "/metadata/name"),
                    quota::pretty_print(&quota::mask(&requested, &exceeded)),
                    quota::pretty_print(&quota::mask(&used, &exceeded)),
                    quota::pretty_print(&quota::mask(&hard, &exceeded)),
                ),
            ));
        }
        if new_used != used {
            out.push((quota.clone(), new_used));
        }
    }
    Ok(out)
}
