//! The request's objects as the resource a webhook was matched as (upstream's
//! `VersionedAttributes` and `ConvertToGVK`): with `matchPolicy: Equivalent`, a webhook whose
//! rules name another version (or group) of the request's resource gets the object and the old
//! object converted to it. Built-in resources convert through their shared storage form (the
//! strategies' `convert_to_storage`/`convert_from_storage`: autoscaling/v1 ↔ v2
//! HorizontalPodAutoscalers, events.k8s.io/v1 ↔ core/v1 Events); custom resources through
//! their CRD's conversion (`None`: the `apiVersion` only; `Webhook`: the conversion webhook,
//! whose failure answers the request as its 500).

use super::rules::Matched;
use crate::admission::Request;
use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// Whether two resources are the same group, version and resource.
pub fn same(a: &ResourceType, b: &ResourceType) -> bool {
    a.group == b.group && a.version == b.version && a.plural == b.plural
}

/// `obj`, in `from`'s form, converted to `to`'s (a resource equivalent to `from`).
pub async fn convert(
    rest: &Rest,
    from: &ResourceType,
    to: &ResourceType,
    obj: &Value,
) -> Result<Value, ApiError> {
    let mut obj = obj.clone();
    if same(from, to) {
        return Ok(obj);
    }
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(from.api_version()));
    }
    if let Some(converter) = &from.conversion {
        let mut out = converter
            .convert(rest, vec![obj], &to.api_version(), false)
            .await?;
        return Ok(out.pop().unwrap_or(Value::Null));
    }
    from.strategy.convert_to_storage(&mut obj);
    to.strategy.convert_from_storage(&mut obj);
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(to.api_version()));
        map.insert("kind".into(), Value::String(to.kind.clone()));
    }
    Ok(obj)
}

/// The request's object and old object at an equivalent resource.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The resource they are at.
    pub rt: Arc<ResourceType>,
    /// The object (None for a delete).
    pub object: Option<Value>,
    /// The old object (updates and deletes).
    pub old_object: Option<Value>,
}

impl Versioned {
    /// `request`'s objects (`obj` being the object in the request's form) converted to `rt`.
    pub async fn of(
        rest: &Rest,
        request: &Request<'_>,
        obj: Option<&Value>,
        rt: &Arc<ResourceType>,
    ) -> Result<Versioned, ApiError> {
        let object = match obj {
            Some(o) => Some(convert(rest, request.rt, rt, o).await?),
            None => None,
        };
        let old_object = match request.old_object {
            Some(o) => Some(convert(rest, request.rt, rt, o).await?),
            None => None,
        };
        Ok(Versioned {
            rt: rt.clone(),
            object,
            old_object,
        })
    }
}

/// The objects of a request for each equivalent resource its webhooks were matched as, each
/// converted once (the validating dispatcher's cache).
#[derive(Debug, Default)]
pub struct Versions(Vec<Versioned>);

impl Versions {
    /// The objects `matched` gets: the request's own, or converted (once) to the equivalent
    /// resource.
    pub async fn get<'a>(
        &'a mut self,
        rest: &Rest,
        request: &'a Request<'_>,
        obj: Option<&'a Value>,
        matched: &Matched,
    ) -> Result<(Option<&'a Value>, Option<&'a Value>), ApiError> {
        let Matched::Equivalent(rt) = matched else {
            return Ok((obj, request.old_object));
        };
        let index = match self.0.iter().position(|v| same(&v.rt, rt)) {
            Some(i) => i,
            None => {
                self.0.push(Versioned::of(rest, request, obj, rt).await?);
                self.0.len() - 1
            }
        };
        let v = &self.0[index];
        Ok((v.object.as_ref(), v.old_object.as_ref()))
    }

    /// The objects already converted for `matched` (after [`Versions::get`]).
    pub fn peek<'a>(
        &'a self,
        request: &'a Request<'_>,
        obj: Option<&'a Value>,
        matched: &Matched,
    ) -> (Option<&'a Value>, Option<&'a Value>) {
        match matched {
            Matched::Own => (obj, request.old_object),
            Matched::Equivalent(rt) => self
                .0
                .iter()
                .find(|v| same(&v.rt, rt))
                .map_or((None, None), |v| (v.object.as_ref(), v.old_object.as_ref())),
        }
    }
}
