//! The selectors of a webhook (upstream's `predicates/namespace` and `predicates/object`):
//! `namespaceSelector` against the labels of the request's namespace (of the Namespace itself
//! for requests on namespaces; cluster-scoped requests always match), `objectSelector` against
//! the labels of the new or the old object (either matching is enough).

use super::Hook;
use crate::admission::Request;
use crate::rest::Rest;
use crate::selector::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether `hook`'s namespace and object selectors pick `request`.
pub fn matches(rest: &Rest, hook: &Hook, request: &Request<'_>, obj: Option<&Value>) -> bool {
    namespace_matches(rest, hook.namespace_selector.as_ref(), request, obj)
        && object_matches(hook.object_selector.as_ref(), request, obj)
}

fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `selector` (a namespaceSelector) picks `request`.
pub fn namespace_matches(
    rest: &Rest,
    selector: Option<&LabelSelector>,
    request: &Request<'_>,
    obj: Option<&Value>,
) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    let rt = request.rt;
    if rt.group.is_empty() && &*rt.plural == "namespaces" {
        // The Namespace's own labels (new or old).
        return obj
            .or(request.old_object)
            .is_none_or(|o| selector.matches(&labels(o)));
    }
    let Some(ns) = request.namespace.filter(|n| !n.is_empty() && rt.namespaced) else {
        return true;
    };
    let catalog = rest.catalog.snapshot();
    let namespace_labels = catalog
        .find("", "v1", "namespaces")
        .and_then(|nt| rest.store.get(&rest.key(&nt, None, ns)))
        .map(|o| o.labels().clone())
        .unwrap_or_default();
    selector.matches(&namespace_labels)
}

/// Whether `selector` (an objectSelector) picks the new or the old object.
pub fn object_matches(
    selector: Option<&LabelSelector>,
    request: &Request<'_>,
    obj: Option<&Value>,
) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    [obj, request.old_object]
        .into_iter()
        .flatten()
        .any(|o| selector.matches(&labels(o)))
}
