//! `pods/eviction` (upstream's `EvictionREST`): a POST of a policy/v1 (or v1beta1) `Eviction`
//! deletes the pod if its PodDisruptionBudget allows it. Pods that are not running (Pending,
//! Succeeded, Failed) or already terminating are deleted without looking at budgets. Otherwise
//! the one budget selecting the pod is checked and decremented (`status.disruptionsAllowed`,
//! the pod recorded in `status.disruptedPods` for the disruption controller), optimistically,
//! retried on conflicts; several budgets are a 500, an exhausted one a 429 with the
//! `DisruptionBudget` cause. An unready pod is deleted without decrementing when the budget's
//! `unhealthyPodEvictionPolicy` is `AlwaysAllow`, or (`IfHealthyBudget`, the default) while
//! the budget has its healthy pods. Before the delete the pod gets condition `DisruptionTarget`
//! (`EvictionByEvictionAPI`). The Eviction's `deleteOptions` (grace period, preconditions,
//! dry run) apply to the delete. Answers a `Status` Success, 201 (200 for a pod already
//! terminating, which is left as it is).

use crate::registry::policy::poddisruptionbudgets::{
    labels_of, pod_ready, selects, status_int, update_disruption_allowed,
};
use crate::resource::ResourceType;
use crate::rest::subresource_create::{
    AcceptedKind, CreateSubresource, SubresourceRequest, failure_status, success_status,
};
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use crate::status::{ApiError, FieldCause};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;

/// The subresource as the pod strategy declares it.
pub(crate) const EVICTION: CreateSubresource = CreateSubresource {
    name: "eviction",
    kind: ("policy", "v1", "Eviction"),
    accepts: &[
        AcceptedKind {
            api_version: "policy/v1",
            kind: "Eviction",
            decode: crate::strategy::decode_typed::<k8s_openapi::api::policy::v1::Eviction>,
        },
        AcceptedKind {
            api_version: "policy/v1beta1",
            kind: "Eviction",
            // policy/v1beta1 Eviction has the same fields as policy/v1's.
            decode: decode_v1beta1,
        },
    ],
    name_must_match: true,
    create,
};

/// Upstream's `MaxDisruptedPodSize`.
const MAX_DISRUPTED_PODS: usize = 2000;

/// How often a conflicting write is retried (upstream's `EvictionsRetry` steps).
const RETRIES: usize = 20;

fn decode_v1beta1(mut value: Value) -> Result<crate::strategy::Decoded, ApiError> {
    value["apiVersion"] = json!("policy/v1");
    let mut decoded =
        crate::strategy::decode_typed::<k8s_openapi::api::policy::v1::Eviction>(value)?;
    decoded.value["apiVersion"] = json!("policy/v1beta1");
    Ok(decoded)
}

/// The Eviction's `deleteOptions`, with the request's `dryRun` (upstream's `propagateDryRun`).
fn delete_options(eviction: &Value, opts: &WriteOptions) -> Result<DeleteOptions, ApiError> {
    let mut out = DeleteOptions {
        dry_run: opts.dry_run,
        ..DeleteOptions::default()
    };
    let Some(d) = eviction.get("deleteOptions").filter(|d| d.is_object()) else {
        return Ok(out);
    };
    out.grace_period_seconds = d.get("gracePeriodSeconds").and_then(Value::as_i64);
    out.propagation_policy = d
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string);
    if d.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        && out.propagation_policy.is_none()
    {
        out.propagation_policy = Some("Orphan".into());
    }
    out.uid = d
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    out.resource_version = d
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let body_dry_run: Vec<&str> = d
        .get("dryRun")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for v in &body_dry_run {
        if *v != "All" {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                vec![FieldCause::not_supported(
                    "dryRun",
                    &json!(v),
                    &["All".to_string()],
                )],
            ));
        }
    }
    if !body_dry_run.is_empty() {
        out.dry_run = true;
    }
    Ok(out)
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn rv_of(v: &Value) -> String {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The 429 of an exhausted budget (or one whose status is behind), with the
/// `DisruptionBudget` cause.
fn too_many_requests(cause: String, retry_after: u32) -> ApiError {
    let mut err = ApiError::too_many_requests();
    err.message = "Cannot evict pod as it would violate the pod's disruption budget.".into();
    err.retry_after = (retry_after > 0).then_some(retry_after);
    err.causes = vec![FieldCause {
        reason: "DisruptionBudget",
        field: String::new(),
        message: cause,
    }];
    err
}

fn still_processed(pdb: &str) -> ApiError {
    too_many_requests(
        format!("The disruption budget {pdb} is still being processed by the server."),
        10,
    )
}

fn create(req: SubresourceRequest<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let rest = req.rest;
        let pods = req.rt;
        let ns = req.namespace;
        let name = req.name;
        let original = delete_options(&req.body, req.opts)?;
        let user_rv = original.resource_version.is_some();

        // Pods a budget does not guard are deleted at once; conflicts retried unless the
        // client gave a resourceVersion precondition.
        let mut pod = Value::Null;
        for attempt in 0..RETRIES {
            pod = rest.get_value(pods, ns, name)?;
            if crate::controllers::deleting(&pod) {
                // Already terminating: nothing to do (its grace period runs).
                return Ok(success_status(200));
            }
            if !matches!(phase(&pod), "Pending" | "Succeeded" | "Failed") {
                break;
            }
            let mut opts = original.clone();
            if phase(&pod) == "Pending" && !user_rv {
                opts.resource_version = Some(rv_of(&pod));
            }
            match condition_and_delete(rest, pods, ns, name, opts).await {
                Ok(()) => return Ok(success_status(201)),
                Err(e) if e.code == 409 && !user_rv && attempt + 1 < RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
        if pod.is_null() {
            return Err(ApiError::not_found("", "pods", name));
        }

        let Some(pdbs_rt) = rest
            .catalog
            .snapshot()
            .find("policy", "v1", "poddisruptionbudgets")
        else {
            return Err(ApiError::internal("poddisruptionbudgets are not served"));
        };
        let labels = labels_of(&pod);
        let list = rest
            .list(&pdbs_rt, ns, &ListOptions::default())
            .await?
            .items;
        let matching: Vec<Value> = list
            .iter()
            .map(|o| o.value())
            .filter(|pdb| selects(pdb, &labels))
            .collect();
        if matching.len() > 1 {
            return Ok(failure_status(
                500,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        let mut update_delete_options = false;
        let mut pdb_name = String::new();
        if let Some(pdb) = matching.into_iter().next() {
            pdb_name = crate::controllers::str_at(&pdb, "/metadata/name").to_string();
            let mut skip_decrement = false;
            if !pod_ready(&pod) {
                let policy = crate::controllers::str_at(&pdb, "/spec/unhealthyPodEvictionPolicy");
                let desired = status_int(&pdb, "desiredHealthy");
                if policy == "AlwaysAllow"
                    || (status_int(&pdb, "currentHealthy") >= desired && desired > 0)
                {
                    update_delete_options = true;
                    skip_decrement = true;
                }
            }
            if !skip_decrement {
                check_and_decrement(rest, &pdbs_rt, ns, name, pdb, original.dry_run).await?;
            }
        }

        let mut opts = original.clone();
        if update_delete_options {
            opts.resource_version = Some(rv_of(&pod));
        }
        match condition_and_delete(rest, pods, ns, name, opts).await {
            Ok(()) => Ok(success_status(201)),
            Err(e) if e.code == 409 && update_delete_options && !user_rv => {
                Err(still_processed(&pdb_name))
            }
            Err(e) => Err(e),
        }
    })
}

/// Upstream's `checkAndDecrement`, retried on conflicts with a fresh read of the budget.
async fn check_and_decrement(
    rest: &Rest,
    pdbs: &Arc<ResourceType>,
    ns: Option<&str>,
    pod_name: &str,
    mut pdb: Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let name = crate::controllers::str_at(&pdb, "/metadata/name").to_string();
    for attempt in 0..RETRIES {
        if attempt > 0 {
            pdb = rest.get_value(pdbs, ns, &name)?;
        }
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if status_int(&pdb, "observedGeneration") < generation {
            return Err(still_processed(&name));
        }
        let allowed = status_int(&pdb, "disruptionsAllowed");
        let forbidden = |why: &str| {
            ApiError::forbidden(
                "policy",
                "poddisruptionbudget",
                &name,
                format!("poddisruptionbudget.policy {name:?} is forbidden: {why}"),
            )
        };
        if allowed < 0 {
            return Err(forbidden("pdb disruptions allowed is negative"));
        }
        let disrupted = pdb
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object)
            .map_or(0, |m| m.len());
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(forbidden(
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if allowed == 0 {
            return Err(too_many_requests(
                format!(
                    "The disruption budget {name} needs {} healthy pods and has {} currently",
                    status_int(&pdb, "desiredHealthy"),
                    status_int(&pdb, "currentHealthy")
                ),
                0,
            ));
        }
        let mut status = pdb.get("status").cloned().unwrap_or_else(|| json!({}));
        status["disruptionsAllowed"] = json!(allowed - 1);
        if allowed - 1 == 0 {
            update_disruption_allowed(&mut status);
        }
        if dry_run {
            return Ok(());
        }
        if !status.get("disruptedPods").is_some_and(Value::is_object) {
            status["disruptedPods"] = json!({});
        }
        status["disruptedPods"][pod_name] = json!(crate::rest::now());
        let mut updated = pdb.clone();
        updated["status"] = status;
        let opts = crate::controllers::write_options("kube-apiserver");
        match rest
            .update(pdbs, ns, &name, updated, &opts, Some("status"))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::timeout(format!(
        "couldn't update PodDisruptionBudget {name:?} due to conflicts"
    )))
}

/// Upstream's `addConditionAndDeletePod`: unless dry run, the pod gets condition
/// `DisruptionTarget` (checking the delete's preconditions against the latest pod), then is
/// deleted with `opts` (its resourceVersion precondition moved to the pod just written).
async fn condition_and_delete(
    rest: &Rest,
    pods: &ResourceType,
    ns: Option<&str>,
    name: &str,
    mut opts: DeleteOptions,
) -> Result<(), ApiError> {
    if !opts.dry_run {
        let preconditions = (opts.uid.clone(), opts.resource_version.clone());
        let written = rest
            .guaranteed_update(
                pods,
                ns,
                name,
                &crate::controllers::write_options("kube-apiserver"),
                Some("status"),
                |pod| {
                    let conflict = |detail: String| ApiError::conflict("", "Pod", name, &detail);
                    let uid = crate::controllers::str_at(pod, "/metadata/uid");
                    if let Some(want) = preconditions.0.as_deref().filter(|u| !u.is_empty())
                        && want != uid
                    {
                        return Err(conflict(format!(
                            "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                        )));
                    }
                    let rv = rv_of(pod);
                    if let Some(want) = preconditions.1.as_deref().filter(|r| !r.is_empty())
                        && want != rv
                    {
                        return Err(conflict(format!(
                            "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
                        )));
                    }
                    let mut new = pod.clone();
                    set_disruption_target(&mut new);
                    Ok((new, Vec::new(), None))
                },
            )
            .await?;
        if opts.resource_version.is_some() {
            opts.resource_version = Some(rv_of(&written.object));
        }
    }
    rest.delete(pods, ns, name, &opts).await?;
    Ok(())
}

/// Sets the pod condition `DisruptionTarget: True` (`EvictionByEvictionAPI`), as upstream's
/// `UpdatePodCondition`: the transition time moves only when the status changes.
fn set_disruption_target(pod: &mut Value) {
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    let now = crate::rest::now();
    let Some(conditions) = pod["status"]["conditions"].as_array_mut() else {
        return;
    };
    match conditions
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionTarget"))
    {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some("True") {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!("True");
            c["reason"] = json!("EvictionByEvictionAPI");
            c["message"] = json!("Eviction API: evicting");
        }
        None => conditions.push(json!({
            "type": "DisruptionTarget",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": now,
            "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting",
        })),
    }
}
