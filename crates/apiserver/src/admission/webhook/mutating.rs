//! The mutating dispatcher (upstream's `mutating/dispatcher.go`): the webhooks that pick the
//! request are called one after the other, each seeing the object as the previous ones left it;
//! a JSONPatch in an answer is applied at once. A webhook with `reinvocationPolicy: IfNeeded`
//! is called once more, after the others, when a webhook after it changed the object.

use super::validating::{Outcome, call, exempt, keep, picks};
use super::{Hook, errors};
use crate::admission::{Effects, Request};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// Runs the mutating webhooks that pick `request` over `obj` (None for a delete, which they see
/// but cannot change).
pub async fn dispatch(
    rest: &Rest,
    webhooks: &super::Webhooks,
    request: &Request<'_>,
    mut obj: Option<&mut Value>,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    if exempt(request) {
        return Ok(());
    }
    let snapshot = webhooks.snapshot();
    if snapshot.mutating.is_empty() {
        return Ok(());
    }
    // For each webhook called: the object's state right after its call.
    let mut called: Vec<(Arc<Hook>, Option<Value>)> = Vec::new();
    for hook in &snapshot.mutating {
        if !picks(rest, hook, request, obj.as_deref())? {
            continue;
        }
        invoke(rest, hook, request, obj.as_deref_mut(), effects).await?;
        called.push((hook.clone(), obj.as_deref().cloned()));
    }
    // Reinvocation: a webhook asking for it, whose result a later webhook changed.
    let current = obj.as_deref().cloned();
    let again: Vec<Arc<Hook>> = called
        .into_iter()
        .filter(|(h, after)| h.reinvoke_if_needed && *after != current)
        .map(|(h, _)| h)
        .collect();
    for hook in again {
        if picks(rest, &hook, request, obj.as_deref())? {
            invoke(rest, &hook, request, obj.as_deref_mut(), effects).await?;
        }
    }
    Ok(())
}

async fn invoke(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    obj: Option<&mut Value>,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    match call(rest, hook, request, obj.as_deref(), true).await {
        Outcome::Refused(err) => Err(err),
        Outcome::FailedOpen => Ok(()),
        Outcome::Allowed(response) => {
            keep(hook, &response, effects);
            if let (Some(patch), Some(obj)) = (&response.patch, obj) {
                apply(hook, patch, obj)?;
            }
            Ok(())
        }
    }
}

/// Applies a webhook's JSONPatch to `obj`; a patch that does not apply is the webhook's
/// failure, answered as upstream's internal error.
fn apply(hook: &Hook, patch: &[u8], obj: &mut Value) -> Result<(), ApiError> {
    let patch: json_patch::Patch = serde_json::from_slice(patch)
        .map_err(|e| errors::calling(&hook.name, &format!("the patch is not a JSON patch: {e}")))?;
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &patch)
        .map_err(|e| ApiError::internal_with_cause(e.to_string()))?;
    *obj = patched;
    Ok(())
}
