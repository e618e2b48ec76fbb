//! The validating dispatcher (upstream's `validating/dispatcher.go`): every webhook that picks
//! the request is called concurrently, each with the objects as the resource it was matched as
//! (converted once per resource before the calls); a refusal or (with `failurePolicy: Fail`) a
//! failed call answers the request, the first in the configurations' order winning; warnings
//! and audit annotations of every answer, refusals included, are kept.

use super::rules::{self, Equivalents, Matched};
use super::versioned::Versions;
use super::{Hook, errors, predicates, review};
use crate::admission::{Effects, Request};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// Whether a request may call webhooks at all: requests on the admission configurations
/// themselves never do (upstream's `IsExemptAdmissionConfigurationResource`), so a broken
/// webhook cannot lock its own configuration.
pub fn exempt(request: &Request<'_>) -> bool {
    request.rt.group == "admissionregistration.k8s.io"
}

/// The resource `hook` is called as for `request`, if its rules and selectors pick it (its
/// matchConditions are asked next, on the objects converted to that resource).
pub fn selects(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    obj: Option<&Value>,
    equivalents: &Equivalents<'_>,
) -> Option<Matched> {
    let matched = rules::pick(&hook.rules, hook.match_policy, request, equivalents)?;
    predicates::matches(rest, hook, request, obj).then_some(matched)
}

/// What one call came to.
pub(super) enum Outcome {
    /// Allowed, with a verified response (and its patch, for mutating webhooks).
    Allowed(review::Response),
    /// The webhook answered and refused (its warnings and audit annotations count all the
    /// same, as upstream records them before looking at `allowed`).
    Denied(review::Response),
    /// The call failed under `failurePolicy: Fail`, or dry run is not supported.
    Refused(ApiError),
    /// The call failed and `failurePolicy: Ignore` lets the request through.
    FailedOpen,
}

/// Calls `hook` with the review of `request` (matched as `matched`, with the objects as that
/// resource) and reads the answer.
pub(super) async fn call(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    matched: &Matched,
    (obj, old_object): (Option<&Value>, Option<&Value>),
    mutating: bool,
) -> Outcome {
    if request.dry_run && !matches!(hook.side_effects.as_str(), "None" | "NoneOnDryRun") {
        return Outcome::Refused(errors::dry_run_unsupported(&hook.name));
    }
    let failed = |reason: String| {
        if hook.ignore_failures {
            tracing::warn!(webhook = %hook.name, %reason, "failed calling webhook, failing open");
            Outcome::FailedOpen
        } else {
            Outcome::Refused(errors::calling(&hook.name, &reason))
        }
    };
    let version = match review::version(&hook.review_versions) {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let uid = uuid::Uuid::new_v4().to_string();
    let body = review::build(version, &uid, request, matched, obj, old_object);
    let answer = match super::client::call(rest, hook, &body).await {
        Ok(a) => a,
        Err(e) => return failed(format!("failed to call webhook: {e}")),
    };
    match review::verify(version, &uid, mutating, &answer) {
        Ok(response) if response.allowed => Outcome::Allowed(response),
        Ok(response) => Outcome::Denied(response),
        Err(e) => failed(e),
    }
}

/// Keeps a response's warnings and audit annotations.
pub(super) fn keep(hook: &Hook, response: &review::Response, effects: &mut Effects) {
    effects.warnings.extend(response.warnings.iter().cloned());
    for (k, v) in &response.audit_annotations {
        effects
            .audit_annotations
            .insert(format!("{}/{k}", hook.name), v.clone());
    }
}

/// Runs the validating webhooks that pick `request`.
pub async fn dispatch(
    rest: &Rest,
    webhooks: &super::Webhooks,
    request: &Request<'_>,
    obj: Option<&Value>,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    if exempt(request) {
        return Ok(());
    }
    let snapshot = webhooks.snapshot();
    if snapshot.validating.is_empty() {
        return Ok(());
    }
    let mut picked: Vec<(&Arc<Hook>, Matched)> = Vec::new();
    let mut versions = Versions::default();
    {
        let equivalents = Equivalents::new(rest);
        for hook in &snapshot.validating {
            let Some(matched) = selects(rest, hook, request, obj, &equivalents) else {
                continue;
            };
            if hook.needs_authorizer {
                rest.rbac.read(|_| ()).await;
            }
            let objects = versions.get(rest, request, obj, &matched).await?;
            if super::match_conditions::matches(
                rest, hook, request, &matched, objects.0, objects.1,
            )? {
                picked.push((hook, matched));
            }
        }
    }
    if picked.is_empty() {
        return Ok(());
    }
    let outcomes = futures::future::join_all(picked.iter().map(|(h, matched)| {
        let objects = versions.peek(request, obj, matched);
        call(rest, h, request, matched, objects, false)
    }))
    .await;
    let mut first_refusal = None;
    for ((hook, _), outcome) in picked.iter().zip(outcomes) {
        match outcome {
            Outcome::Allowed(response) => keep(hook, &response, effects),
            Outcome::Denied(response) => {
                keep(hook, &response, effects);
                first_refusal.get_or_insert(errors::denied(&hook.name, response.result.as_ref()));
            }
            Outcome::Refused(err) => {
                first_refusal.get_or_insert(err);
            }
            Outcome::FailedOpen => {}
        }
    }
    match first_refusal {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
