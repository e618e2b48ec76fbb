//! The mutating dispatcher (upstream's `mutating/dispatcher.go`): the webhooks that pick the
//! request are called one after the other, each seeing the object as the previous ones left it;
//! a JSONPatch in an answer is applied at once. A webhook matched as an equivalent resource
//! (`matchPolicy: Equivalent`) gets the objects converted to it; its patch applies there, and
//! the object is converted back to the request's version when a later webhook wants another
//! version, or at the end (upstream's `VersionedAttributes` with `Dirty`). A webhook with
//! `reinvocationPolicy: IfNeeded` is called once more, after the others, when a webhook after
//! it changed the object.

use super::rules::{Equivalents, Matched};
use super::validating::{Outcome, call, exempt, keep, selects};
use super::versioned::{Versioned, convert, same};
use super::{Hook, errors, match_conditions};
use crate::admission::{Effects, Request};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// The objects at an equivalent resource, and whether a patch changed the object since it was
/// converted.
struct Held {
    versioned: Versioned,
    dirty: bool,
}

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
    let equivalents = Equivalents::new(rest);
    let mut held: Option<Held> = None;
    // Webhooks asking for reinvocation that were called, and those a later change flagged.
    let mut invoked: Vec<Arc<Hook>> = Vec::new();
    let mut reinvoke: Vec<Arc<Hook>> = Vec::new();
    for hook in &snapshot.mutating {
        let Some(changed) = run(
            rest,
            hook,
            request,
            &equivalents,
            obj.as_deref_mut(),
            &mut held,
            effects,
        )
        .await?
        else {
            continue;
        };
        if changed {
            reinvoke.append(&mut invoked);
        }
        if hook.reinvoke_if_needed {
            invoked.push(hook.clone());
        }
    }
    for hook in &snapshot.mutating {
        if reinvoke.iter().any(|h| Arc::ptr_eq(h, hook)) {
            run(
                rest,
                hook,
                request,
                &equivalents,
                obj.as_deref_mut(),
                &mut held,
                effects,
            )
            .await?;
        }
    }
    flush(rest, request, obj, &mut held).await
}

/// Calls `hook` if it picks the request; whether its patch changed the object (None: not
/// called).
async fn run(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    equivalents: &Equivalents<'_>,
    mut obj: Option<&mut Value>,
    held: &mut Option<Held>,
    effects: &mut Effects,
) -> Result<Option<bool>, ApiError> {
    let current = match held.as_ref() {
        Some(h) if h.dirty => h.versioned.object.as_ref(),
        _ => obj.as_deref(),
    };
    let Some(matched) = selects(rest, hook, request, current, equivalents) else {
        return Ok(None);
    };
    if hook.needs_authorizer {
        rest.rbac.read(|_| ()).await;
    }
    let Matched::Equivalent(rt) = &matched else {
        flush(rest, request, obj.as_deref_mut(), held).await?;
        if !match_conditions::matches(
            rest,
            hook,
            request,
            &matched,
            obj.as_deref(),
            request.old_object,
        )? {
            return Ok(None);
        }
        let old = request.old_object;
        return invoke(rest, hook, request, &matched, obj, old, effects)
            .await
            .map(Some);
    };
    if held.as_ref().is_none_or(|h| !same(&h.versioned.rt, rt)) {
        flush(rest, request, obj.as_deref_mut(), held).await?;
        *held = Some(Held {
            versioned: Versioned::of(rest, request, obj.as_deref(), rt).await?,
            dirty: false,
        });
    }
    let Some(h) = held.as_mut() else {
        return Ok(None);
    };
    let v = &mut h.versioned;
    if !match_conditions::matches(
        rest,
        hook,
        request,
        &matched,
        v.object.as_ref(),
        v.old_object.as_ref(),
    )? {
        return Ok(None);
    }
    let changed = invoke(
        rest,
        hook,
        request,
        &matched,
        v.object.as_mut(),
        v.old_object.as_ref(),
        effects,
    )
    .await?;
    h.dirty |= changed;
    Ok(Some(changed))
}

/// Converts a changed object held at an equivalent resource back into `obj`, the request's.
async fn flush(
    rest: &Rest,
    request: &Request<'_>,
    obj: Option<&mut Value>,
    held: &mut Option<Held>,
) -> Result<(), ApiError> {
    if let Some(h) = held.take()
        && h.dirty
        && let (Some(obj), Some(versioned)) = (obj, &h.versioned.object)
    {
        *obj = convert(rest, &h.versioned.rt, request.rt, versioned).await?;
    }
    Ok(())
}

/// Calls `hook` and applies its patch to `obj`; whether that changed it.
async fn invoke(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    matched: &Matched,
    obj: Option<&mut Value>,
    old_object: Option<&Value>,
    effects: &mut Effects,
) -> Result<bool, ApiError> {
    match call(
        rest,
        hook,
        request,
        matched,
        (obj.as_deref(), old_object),
        true,
    )
    .await
    {
        Outcome::Refused(err) => Err(err),
        Outcome::Denied(response) => {
            keep(hook, &response, effects);
            Err(errors::denied(&hook.name, response.result.as_ref()))
        }
        Outcome::FailedOpen => Ok(false),
        Outcome::Allowed(response) => {
            keep(hook, &response, effects);
            match (&response.patch, obj) {
                (Some(patch), Some(obj)) => apply(hook, patch, obj),
                _ => Ok(false),
            }
        }
    }
}

/// Applies a webhook's JSONPatch to `obj`, saying whether it changed it; a patch that does not
/// apply is the webhook's failure, answered as upstream's internal error.
fn apply(hook: &Hook, patch: &[u8], obj: &mut Value) -> Result<bool, ApiError> {
    let patch: json_patch::Patch = serde_json::from_slice(patch)
        .map_err(|e| errors::calling(&hook.name, &format!("the patch is not a JSON patch: {e}")))?;
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &patch)
        .map_err(|e| ApiError::internal_with_cause(e.to_string()))?;
    let changed = patched != *obj;
    *obj = patched;
    Ok(changed)
}
