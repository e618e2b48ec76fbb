//! The detector's indexes over the shared Pod and Service caches, so that no event scans a
//! namespace:
//! - Pods by `namespace/key=value` for each label: the Pods a selector may match are those
//!   filed under its rarest `key=value`.
//! - Pods by `namespace/service` for each Service their annotation names: the Pods a Service
//!   matched when the detector last wrote them (its "old" selector's Pods).
//! - Services by `namespace/key=value` for each entry of their selector: the Services a Pod's
//!   labels may satisfy.

use super::SERVICES_ANNOTATION;
use k8s_openapi::api::core::v1::{Pod, Service};
use kubeforge_runtime::cache::{IndexError, Informer, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

const POD_LABELS: &str = "service-detector/pod-labels";
const POD_SERVICES: &str = "service-detector/pod-services";
const SERVICE_SELECTOR: &str = "service-detector/service-selector";

fn label_key(namespace: &str, key: &str, value: &str) -> String {
    format!("{namespace}/{key}={value}")
}

/// A Service's selector, when it has a non-empty one (Services without one select no Pods and
/// are not the detector's business).
pub fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.as_ref())
        .filter(|selector| !selector.is_empty())
}

/// Whether `selector` is a subset of `pod`'s labels.
pub fn selected_by(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The Services a Pod's annotation names.
pub fn annotated_services(pod: &Pod) -> Vec<String> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SERVICES_ANNOTATION))
        .map(|list| {
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds the three indexes to the shared informers.
pub fn add_indexes(pods: &Informer<Pod>, services: &Informer<Service>) -> Result<(), IndexError> {
    pods.store().add_indexer(POD_LABELS, |pod: &Pod| {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        pod.metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| label_key(namespace, k, v))
            .collect()
    })?;
    pods.store().add_indexer(POD_SERVICES, |pod: &Pod| {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        annotated_services(pod)
            .iter()
            .map(|service| format!("{namespace}/{service}"))
            .collect()
    })?;
    services
        .store()
        .add_indexer(SERVICE_SELECTOR, |service: &Service| {
            let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
            selector(service)
                .into_iter()
                .flatten()
                .map(|(k, v)| label_key(namespace, k, v))
                .collect()
        })?;
    Ok(())
}

/// The Pods of `namespace` that `selector` matches: those under its rarest label, filtered.
pub fn pods_selected(
    pods: &Store<Pod>,
    namespace: &str,
    selector: &BTreeMap<String, String>,
) -> Result<Vec<Arc<Pod>>, IndexError> {
    let mut rarest: Option<(usize, String)> = None;
    for (k, v) in selector {
        let key = label_key(namespace, k, v);
        let count = pods.index_keys(POD_LABELS, &key)?.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        if rarest.as_ref().is_none_or(|(c, _)| count < *c) {
            rarest = Some((count, key));
        }
    }
    let Some((_, key)) = rarest else {
        return Ok(Vec::new());
    };
    Ok(pods
        .by_index(POD_LABELS, &key)?
        .into_iter()
        .filter(|pod| selected_by(selector, pod))
        .collect())
}

/// The Pods of `namespace` whose annotation names `service`.
pub fn pods_annotated_with(
    pods: &Store<Pod>,
    namespace: &str,
    service: &str,
) -> Result<Vec<Arc<Pod>>, IndexError> {
    pods.by_index(POD_SERVICES, &format!("{namespace}/{service}"))
}

/// The Services of `pod`'s namespace that select it, sorted by name.
pub fn services_selecting(
    services: &Store<Service>,
    pod: &Pod,
) -> Result<Vec<Arc<Service>>, IndexError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut found: BTreeMap<String, Arc<Service>> = BTreeMap::new();
    for (k, v) in pod.metadata.labels.iter().flatten() {
        for service in services.by_index(SERVICE_SELECTOR, &label_key(namespace, k, v))? {
            let name = service.metadata.name.clone().unwrap_or_default();
            if !found.contains_key(&name) && selector(&service).is_some_and(|s| selected_by(s, pod))
            {
                found.insert(name, service);
            }
        }
    }
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_selector_matches_a_superset_of_its_labels() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {"app": "web", "tier": "front"}},
        }))
        .unwrap();
        let map = |v: serde_json::Value| -> BTreeMap<String, String> {
            serde_json::from_value(v).unwrap()
        };
        assert!(selected_by(&map(json!({"app": "web"})), &pod));
        assert!(selected_by(
            &map(json!({"app": "web", "tier": "front"})),
            &pod
        ));
        assert!(!selected_by(
            &map(json!({"app": "web", "tier": "back"})),
            &pod
        ));
        assert!(!selected_by(&map(json!({"release": "1"})), &pod));
        let service: Service =
            serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"selector": {}}}))
                .unwrap();
        assert!(
            selector(&service).is_none(),
            "an empty selector selects nothing here"
        );
    }
}
