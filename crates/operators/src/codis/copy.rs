//! What a distributed copy is: the source's content in another namespace, marked as managed by
//! one rule. The two distributable kinds (ConfigMap, Secret) differ only in their content fields.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// Annotation on a copy naming the rule (`namespace/name`) that manages it.
pub const RULE_ANNOTATION: &str = "k8s.tideland.dev/rule";
/// Annotation on a copy naming its source (`namespace/name`).
pub const SOURCE_ANNOTATION: &str = "k8s.tideland.dev/source";
/// Label on every copy, so that copies can be found (and told apart from user objects) by label.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`] on copies.
pub const MANAGED_BY: &str = "kubeforge-codis";
/// The label a source carries: `rule=<selector>`.
pub const SELECTOR_LABEL: &str = "rule";
/// Annotations never copied: kubectl's record of the source's last apply would make a
/// `kubectl apply` of the copy compute its patch against the source.
const NOT_COPIED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// A kind a rule can distribute.
pub trait Distributable:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Whether this object may be a source at all (some objects are per-namespace by nature).
    fn distributable(&self) -> bool;
    /// The copy's content (everything but metadata) taken from `source`.
    fn with_content_of(source: &Self, metadata: ObjectMeta) -> Self;
    /// Whether a copy must be deleted and created again instead of replaced, because a field
    /// that differs is immutable.
    fn needs_recreate(existing: &Self, desired: &Self) -> bool;
    /// Whether the content (everything but metadata) is the same.
    fn same_content(a: &Self, b: &Self) -> bool;
}

impl Distributable for ConfigMap {
    fn distributable(&self) -> bool {
        // Every namespace has its own, published by kube-controller-manager.
        self.name_any() != "kube-root-ca.crt"
    }
    fn with_content_of(source: &Self, metadata: ObjectMeta) -> Self {
        ConfigMap {
            metadata,
            data: source.data.clone(),
            binary_data: source.binary_data.clone(),
            immutable: source.immutable,
        }
    }
    fn needs_recreate(existing: &Self, desired: &Self) -> bool {
        existing.immutable == Some(true) && !Self::same_content(existing, desired)
    }
    fn same_content(a: &Self, b: &Self) -> bool {
        a.data == b.data && a.binary_data == b.binary_data && a.immutable == b.immutable
    }
}

impl Distributable for Secret {
    fn distributable(&self) -> bool {
        // A token is bound to a ServiceAccount of the source namespace; a copy would be invalid.
        self.type_.as_deref() != Some("kubernetes.io/service-account-token")
    }
    fn with_content_of(source: &Self, metadata: ObjectMeta) -> Self {
        Secret {
            metadata,
            data: source.data.clone(),
            immutable: source.immutable,
            string_data: None,
            type_: source.type_.clone(),
        }
    }
    fn needs_recreate(existing: &Self, desired: &Self) -> bool {
        existing.type_.as_deref().unwrap_or("Opaque")
            != desired.type_.as_deref().unwrap_or("Opaque")
            || (existing.immutable == Some(true) && !Self::same_content(existing, desired))
    }
    fn same_content(a: &Self, b: &Self) -> bool {
        a.data == b.data
            && a.immutable == b.immutable
            && a.type_.as_deref().unwrap_or("Opaque") == b.type_.as_deref().unwrap_or("Opaque")
    }
}

/// `namespace/name` of an object.
pub fn key_of<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

/// The rule (`namespace/name`) that manages `object`, if it is a copy.
pub fn managing_rule<K: Resource>(object: &K) -> Option<&str> {
    object
        .meta()
        .annotations
        .as_ref()?
        .get(RULE_ANNOTATION)
        .map(String::as_str)
}

/// Whether `object` is a source for a rule with `selector` (`""`: every object).
pub fn selected<K: Distributable>(object: &K, selector: &str) -> bool {
    if managing_rule(object).is_some() || !object.distributable() {
        return false;
    }
    selector.is_empty()
        || object
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(SELECTOR_LABEL))
            .is_some_and(|v| v == selector)
}

/// The copy of `source` in `namespace` that rule `rule_key` wants.
pub fn desired_copy<K: Distributable>(source: &K, namespace: &str, rule_key: &str) -> K {
    let mut labels = source.labels().clone();
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string());
    let mut annotations: BTreeMap<String, String> = source
        .annotations()
        .iter()
        .filter(|(k, _)| !NOT_COPIED_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.insert(RULE_ANNOTATION.to_string(), rule_key.to_string());
    annotations.insert(SOURCE_ANNOTATION.to_string(), key_of(source));
    let metadata = ObjectMeta {
        name: source.meta().name.clone(),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        annotations: Some(annotations),
        ..ObjectMeta::default()
    };
    K::with_content_of(source, metadata)
}

/// Whether `existing` already is the copy of `source` that rule `rule_key` wants (what
/// [`desired_copy`] would build: content, labels, annotations), decided without building it: a
/// rule with many copies checks every one of them on each reconcile.
pub fn is_copy_of<K: Distributable>(existing: &K, source: &K, rule_key: &str) -> bool {
    if !K::same_content(existing, source) {
        return false;
    }
    let (labels, source_labels) = (existing.labels(), source.labels());
    let expected_labels =
        source_labels.len() + usize::from(!source_labels.contains_key(MANAGED_BY_LABEL));
    let labels_match = labels.len() == expected_labels
        && labels.iter().all(|(k, v)| match k.as_str() {
            MANAGED_BY_LABEL => v == MANAGED_BY,
            _ => source_labels.get(k) == Some(v),
        });
    if !labels_match {
        return false;
    }
    let (annotations, source_annotations) = (existing.annotations(), source.annotations());
    let kept = |k: &str| {
        !NOT_COPIED_ANNOTATIONS.contains(&k) && k != RULE_ANNOTATION && k != SOURCE_ANNOTATION
    };
    let expected_annotations = 2 + source_annotations.keys().filter(|k| kept(k)).count();
    let source_key = (
        source.meta().namespace.as_deref().unwrap_or_default(),
        source.meta().name.as_deref().unwrap_or_default(),
    );
    annotations.len() == expected_annotations
        && annotations.iter().all(|(k, v)| match k.as_str() {
            RULE_ANNOTATION => v == rule_key,
            SOURCE_ANNOTATION => v.split_once('/') == Some(source_key),
            other => kept(other) && source_annotations.get(k) == Some(v),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_map(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("cm".into()),
                namespace: Some("src".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([("k".into(), "v".into())])),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn selection_follows_the_rule_label_and_skips_copies() {
        let source = config_map(&[("rule", "testing")], &[]);
        assert!(selected(&source, "testing"));
        assert!(selected(&source, ""));
        assert!(!selected(&source, "other"));
        let unlabelled = config_map(&[], &[]);
        assert!(!selected(&unlabelled, "testing"));
        assert!(selected(&unlabelled, ""));
        let copy = config_map(&[("rule", "testing")], &[(RULE_ANNOTATION, "a/b")]);
        assert!(!selected(&copy, "testing"));
        assert!(!selected(&copy, ""));
    }

    #[test]
    fn a_copy_is_marked_and_drops_last_applied() {
        let source = config_map(
            &[("rule", "testing")],
            &[
                ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
                ("team", "a"),
            ],
        );
        let copy = desired_copy(&source, "dst", "src/r");
        assert_eq!(copy.metadata.namespace.as_deref(), Some("dst"));
        assert_eq!(
            copy.labels().get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MANAGED_BY)
        );
        assert_eq!(
            copy.labels().get("rule").map(String::as_str),
            Some("testing")
        );
        assert_eq!(managing_rule(&copy), Some("src/r"));
        assert_eq!(
            copy.annotations()
                .get(SOURCE_ANNOTATION)
                .map(String::as_str),
            Some("src/cm")
        );
        assert_eq!(
            copy.annotations().get("team").map(String::as_str),
            Some("a")
        );
        assert!(
            !copy
                .annotations()
                .contains_key("kubectl.kubernetes.io/last-applied-configuration")
        );
        assert!(copy.metadata.owner_references.is_none());
        assert!(is_copy_of(&copy, &source, "src/r"));
        assert!(!is_copy_of(&copy, &source, "src/other"));
        let mut changed = source.clone();
        changed.data = Some(BTreeMap::from([("k".into(), "w".into())]));
        assert!(!is_copy_of(&copy, &changed, "src/r"));
        let mut relabelled = source.clone();
        relabelled.labels_mut().insert("extra".into(), "x".into());
        assert!(!is_copy_of(&copy, &relabelled, "src/r"));
        let mut annotated = source.clone();
        annotated
            .annotations_mut()
            .insert("team".into(), "b".into());
        assert!(!is_copy_of(&copy, &annotated, "src/r"));
        // A copy edited by hand (a label or annotation added) is not the copy any more.
        let mut tampered = copy.clone();
        tampered
            .annotations_mut()
            .insert("note".into(), "hand edit".into());
        assert!(!is_copy_of(&tampered, &source, "src/r"));
        let mut tampered = copy.clone();
        tampered.labels_mut().remove(MANAGED_BY_LABEL);
        assert!(!is_copy_of(&tampered, &source, "src/r"));
    }

    #[test]
    fn immutable_or_retyped_copies_are_recreated() {
        let mut old = Secret {
            type_: Some("Opaque".into()),
            ..Secret::default()
        };
        let mut new = old.clone();
        assert!(!Secret::needs_recreate(&old, &new));
        new.type_ = Some("kubernetes.io/tls".into());
        assert!(Secret::needs_recreate(&old, &new));
        new.type_ = None;
        assert!(!Secret::needs_recreate(&old, &new));
        old.immutable = Some(true);
        new.immutable = Some(true);
        new.data = Some(BTreeMap::new());
        assert!(Secret::needs_recreate(&old, &new));
    }
}
