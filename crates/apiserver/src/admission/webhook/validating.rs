//! The validating dispatcher (upstream's `validating/dispatcher.go`): every webhook that picks
//! the request is called concurrently; a refusal or (with `failurePolicy: Fail`) a failed call
//! answers the request, the first in the configurations' order winning; warnings and audit
//! annotations of every answer are kept.

use super::{Hook, errors, match_conditions, predicates, review, rules};
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

/// Whether `hook` is called for `request` (rules, selectors, then matchConditions, whose
/// failure answers the request).
pub fn picks(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    obj: Option<&Value>,
) -> Result<bool, ApiError> {
    if !(rules::matches(hook, request) && predicates::matches(rest, hook, request, obj)) {
        return Ok(false);
    }
    match_conditions::matches(hook, request, obj)
}

/// What one call came to.
pub(super) enum Outcome {
    /// Allowed, with a verified response (and its patch, for mutating webhooks).
    Allowed(review::Response),
    /// The webhook refused, or the call failed under `failurePolicy: Fail`.
    Refused(ApiError),
    /// The call failed and `failurePolicy: Ignore` lets the request through.
    FailedOpen,
}

/// Calls `hook` with the review of `request` and reads the answer.
pub(super) async fn call(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    obj: Option<&Value>,
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
    let body = review::build(version, &uid, request, obj);
    let answer = match super::client::call(rest, hook, &body).await {
        Ok(a) => a,
        Err(e) => return failed(format!("failed to call webhook: {e}")),
    };
    match review::verify(version, &uid, mutating, &answer) {
        Ok(response) if response.allowed => Outcome::Allowed(response),
        Ok(response) => Outcome::Refused(errors::denied(&hook.name, response.result.as_ref())),
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
    let mut hooks: Vec<&Arc<Hook>> = Vec::new();
    for hook in &snapshot.validating {
        if picks(rest, hook, request, obj)? {
            hooks.push(hook);
        }
    }
    if hooks.is_empty() {
        return Ok(());
    }
    let outcomes =
        futures::future::join_all(hooks.iter().map(|h| call(rest, h, request, obj, false))).await;
    let mut first_refusal = None;
    for (hook, outcome) in hooks.iter().zip(outcomes) {
        match outcome {
            Outcome::Allowed(response) => keep(hook, &response, effects),
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
