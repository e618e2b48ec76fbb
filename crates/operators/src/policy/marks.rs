//! What a policy puts on a pod, and how it remembers that it did: next to the label or annotation
//! it sets, a policy writes a marker annotation of its own
//! (`<kind>.policy.k8s-go.openshift.org/<policy name>: label:<key>` or `annotation:<key>`).
//! A policy only ever removes or changes a key its marker names, so labels and annotations set by
//! anyone else (including another policy) are never touched.
//!
//! Every change to a pod is one JSON merge patch of its `metadata`: the key and the marker are
//! set or removed together, and the maps' other entries are left as they are, so policies
//! writing the same pod at once do not undo each other.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Map, Value, json};

/// The value set on labels by the `label` action.
pub const LABEL_VALUE: &str = "true";

/// A key a policy sets on pods.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mark {
    /// A label key.
    Label(String),
    /// An annotation key.
    Annotation(String),
}

impl Mark {
    /// The marker annotation's value for this mark.
    pub fn encode(&self) -> String {
        match self {
            Mark::Label(key) => format!("label:{key}"),
            Mark::Annotation(key) => format!("annotation:{key}"),
        }
    }

    /// The mark a marker annotation's value names.
    pub fn decode(value: &str) -> Option<Mark> {
        match value.split_once(':') {
            Some(("label", key)) if !key.is_empty() => Some(Mark::Label(key.to_string())),
            Some(("annotation", key)) if !key.is_empty() => Some(Mark::Annotation(key.to_string())),
            _ => None,
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        match self {
            Mark::Label(key) | Mark::Annotation(key) => key,
        }
    }

    /// The pod's current value of this key.
    pub fn value_on<'a>(&self, pod: &'a Pod) -> Option<&'a str> {
        let map = match self {
            Mark::Label(_) => pod.metadata.labels.as_ref(),
            Mark::Annotation(_) => pod.metadata.annotations.as_ref(),
        };
        map.and_then(|m| m.get(self.key())).map(String::as_str)
    }
}

/// The marker annotation's key of policy `name` of kind `kind` (lower-case kind name).
pub fn marker_key(kind: &str, name: &str) -> String {
    format!("{kind}.{}/{name}", super::types::GROUP)
}

/// The mark policy `marker` says it has put on `pod`.
pub fn current(pod: &Pod, marker: &str) -> Option<Mark> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(marker))
        .and_then(|v| Mark::decode(v))
}

/// What bringing a pod's marks in line needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The merge patch to send, if anything changes.
    pub patch: Option<Value>,
    /// The wanted key is already on the pod, set by someone else: left alone.
    pub blocked: bool,
}

/// The patch taking `pod` from the mark policy `marker` put there (if any) to `desired` (a mark
/// and its value; `None`: no mark).
pub fn plan(pod: &Pod, marker: &str, desired: Option<(&Mark, &str)>) -> Plan {
    let held = current(pod, marker);
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut blocked = false;
    fn entry(
        labels: &mut Map<String, Value>,
        annotations: &mut Map<String, Value>,
        mark: &Mark,
        value: Value,
    ) {
        match mark {
            Mark::Label(key) => labels.insert(key.clone(), value),
            Mark::Annotation(key) => annotations.insert(key.clone(), value),
        };
    }
    // Release what is held and no longer wanted.
    if let Some(held) = &held
        && desired.is_none_or(|(mark, _)| mark != held)
    {
        entry(&mut labels, &mut annotations, held, Value::Null);
    }
    let mut keep_marker = false;
    if let Some((mark, value)) = desired {
        let ours = held.as_ref() == Some(mark);
        match mark.value_on(pod) {
            Some(_) if !ours => blocked = true,
            Some(existing) if existing == value => keep_marker = true,
            _ => {
                entry(
                    &mut labels,
                    &mut annotations,
                    mark,
                    Value::String(value.to_string()),
                );
                keep_marker = true;
            }
        }
        if keep_marker && !ours {
            annotations.insert(marker.to_string(), Value::String(mark.encode()));
        }
    }
    if held.is_some() && !keep_marker {
        annotations.insert(marker.to_string(), Value::Null);
    }
    // A marker that names nothing this policy can read (hand-edited) is dropped.
    if held.is_none()
        && !keep_marker
        && pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(marker))
    {
        annotations.insert(marker.to_string(), Value::Null);
    }
    let mut metadata = Map::new();
    if !labels.is_empty() {
        metadata.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    Plan {
        patch: (!metadata.is_empty()).then(|| json!({ "metadata": metadata })),
        blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "p",
                "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
                "annotations": annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
            }
        }))
        .unwrap()
    }

    const M: &str = "healthcheckpolicy.policy.k8s-go.openshift.org/p1";

    #[test]
    fn sets_releases_and_leaves_foreign_keys_alone() {
        let bad = Mark::Label("bad".into());
        let set = plan(&pod(&[], &[]), M, Some((&bad, "true")));
        assert_eq!(
            set.patch,
            Some(json!({"metadata": {"labels": {"bad": "true"}, "annotations": {M: "label:bad"}}}))
        );
        let marked = pod(&[("bad", "true")], &[(M, "label:bad")]);
        assert_eq!(plan(&marked, M, Some((&bad, "true"))).patch, None);
        assert_eq!(
            plan(&marked, M, None).patch,
            Some(json!({"metadata": {"labels": {"bad": null}, "annotations": {M: null}}}))
        );
        let foreign = pod(&[("bad", "yes")], &[]);
        let left = plan(&foreign, M, Some((&bad, "true")));
        assert!(left.blocked);
        assert_eq!(left.patch, None);
        assert_eq!(plan(&foreign, M, None).patch, None);
        // Switching from a label to an annotation moves the mark in one patch.
        let note = Mark::Annotation("bad".into());
        assert_eq!(
            plan(&marked, M, Some((&note, "web"))).patch,
            Some(
                json!({"metadata": {"labels": {"bad": null}, "annotations": {"bad": "web", M: "annotation:bad"}}})
            )
        );
    }
}
