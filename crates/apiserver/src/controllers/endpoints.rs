//! The endpoints and endpointslice controllers (kube-controller-manager's, simulated): every
//! Service with a selector gets an `Endpoints` of its name and an `EndpointSlice` (labelled
//! `kubernetes.io/service-name`, owned by the Service) listing the pods it selects, ready ones as
//! addresses and the others as not ready, with each service port's `targetPort` resolved against
//! the pod (a named port by the container port of that name). Services without a selector are
//! left to their users, as upstream does. Objects are written only when what they list changes.
//!
//! A Service change that matters to endpoints (spec, labels; not an annotation) reconciles that
//! Service; a Pod change that matters to endpoints (labels, address, phase, readiness, ports,
//! deletion) reconciles the Services whose selector matches the Pod before or after it (found in the controller's own map of selectors, so a namespace
//! of many Services costs no listing). After a relist (start, or a history gap) every Service is
//! reconciled.

use super::changes::{Change, Changes};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use crate::selector::LabelSelector;
use crate::storage::EventType;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The field manager and `managed-by` of what this controller writes.
const MANAGER: &str = "endpointslice-controller.k8s.io";
/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";

struct Types {
    services: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    endpoints: Arc<ResourceType>,
    slices: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        services: r.find("", "v1", "services")?,
        pods: r.find("", "v1", "pods")?,
        endpoints: r.find("", "v1", "endpoints")?,
        slices: r.find("discovery.k8s.io", "v1", "endpointslices")?,
    })
}

fn opts() -> WriteOptions {
    super::write_options(MANAGER)
}

use super::str_at as s;

type Key = (String, String);

/// The selectors of the Services that have one, by namespace and name: which Services a Pod
/// change concerns is found here, without listing Services.
#[derive(Default)]
struct Selectors(BTreeMap<Key, Map<String, Value>>);

impl Selectors {
    fn set(&mut self, svc: &Value) {
        let key = key_of(svc);
        match svc.pointer("/spec/selector").and_then(Value::as_object) {
            Some(map) if !map.is_empty() => {
                self.0.insert(key, map.clone());
            }
            _ => {
                self.0.remove(&key);
            }
        }
    }

    /// The Services of `ns` whose selector matches `labels`.
    fn selecting<'a>(
        &'a self,
        ns: &'a str,
        labels: &'a Map<String, Value>,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.0
            .range((ns.to_string(), String::new())..)
            .take_while(move |((n, _), _)| n == ns)
            .filter(move |(_, selector)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|(key, _)| key)
    }
}

/// What of a Pod its Services' endpoints depend on (a change elsewhere, such as an annotation,
/// concerns no Service).
fn endpoint_view(pod: &Value) -> Value {
    json!([
        pod.pointer("/metadata/labels"),
        pod.pointer("/status/podIP"),
        pod.pointer("/status/phase"),
        pod_ready(pod),
        pod.pointer("/spec/containers"),
        pod.pointer("/spec/nodeName"),
        pod.pointer("/spec/hostname"),
        pod.pointer("/spec/subdomain"),
        pod.pointer("/metadata/deletionTimestamp"),
    ])
}

/// What of a Service its endpoints depend on: its spec, labels (copied to the Endpoints), uid
/// (the slice's owner) and deletion. An annotation written by someone else (a tool counting its
/// pods, `kubectl annotate`) costs no reconcile: that would list the Service's pods again.
fn service_view(svc: &Value) -> Value {
    json!([
        svc.get("spec"),
        svc.pointer("/metadata/labels"),
        svc.pointer("/metadata/uid"),
        svc.pointer("/metadata/deletionTimestamp"),
    ])
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else { return };
    let empty = Map::new();
    let mut selectors = Selectors::default();
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let mut dirty = BTreeSet::new();
        match change {
            Change::Resync { .. } => {
                selectors = Selectors::default();
                if let Ok(list) = rest.list(&t.services, None, &ListOptions::default()).await {
                    for o in list.items {
                        let v = o.value();
                        selectors.set(&v);
                        dirty.insert(key_of(&v));
                    }
                }
            }
            Change::Events(events) => {
                for e in events {
                    if e.key.resource == t.services.storage_key {
                        let v = e.object.value();
                        if e.event_type == EventType::Deleted {
                            selectors.0.remove(&key_of(&v));
                        } else {
                            let before = e.prev.as_ref().map(|p| p.value());
                            if before.as_ref().map(service_view) == Some(service_view(&v)) {
                                continue;
                            }
                            selectors.set(&v);
                        }
                        dirty.insert((e.key.namespace.clone(), e.key.name.clone()));
                    } else if e.key.resource == t.pods.storage_key {
                        let now = e.object.value();
                        let before = e.prev.as_ref().map(|p| p.value());
                        let deleted = e.event_type == EventType::Deleted;
                        if !deleted
                            && before.as_ref().map(endpoint_view) == Some(endpoint_view(&now))
                        {
                            continue;
                        }
                        // The Services that select it now, or selected it before.
                        for pod in std::iter::once(&now).chain(before.as_ref()) {
                            let labels = pod
                                .pointer("/metadata/labels")
                                .and_then(Value::as_object)
                                .unwrap_or(&empty);
                            dirty.extend(selectors.selecting(&e.key.namespace, labels).cloned());
                        }
                    }
                }
            }
        }
        reconcile_all(&rest, &t, dirty).await;
    }
}

fn key_of(v: &Value) -> Key {
    (
        s(v, "/metadata/namespace").to_string(),
        s(v, "/metadata/name").to_string(),
    )
}

async fn reconcile_all(rest: &Rest, t: &Types, dirty: BTreeSet<Key>) {
    for (ns, name) in dirty {
        if let Err(e) = reconcile(rest, t, &ns, &name).await {
            tracing::debug!(namespace = ns, service = name, error = %e, "syncing endpoints");
        }
    }
}

/// The selector of a Service as a label selector; None without one (then endpoints are the
/// user's to manage).
fn service_selector(svc: &Value) -> Option<LabelSelector> {
    let map = svc.pointer("/spec/selector").and_then(Value::as_object)?;
    if map.is_empty() {
        return None;
    }
    let text: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    LabelSelector::parse(&text.join(",")).ok()
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
        })
}

/// `targetPort` of `port` resolved against `pod`: a number as is, a name through the pod's
/// container ports (None when the pod has no port of that name), unset means `port`.
fn target_port(port: &Value, pod: &Value) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .find(|p| s(p, "/name") == name)
            .and_then(|p| p.get("containerPort").and_then(Value::as_i64)),
        _ => port.get("port").and_then(Value::as_i64),
    }
}

/// The endpoint ports a pod serves for the service's ports, in the service's order.
fn pod_ports(svc_ports: &[Value], pod: &Value) -> Vec<Value> {
    svc_ports
        .iter()
        .filter_map(|p| {
            let number = target_port(p, pod)?;
            let mut out = Map::new();
            if !s(p, "/name").is_empty() {
                out.insert("name".into(), json!(s(p, "/name")));
            }
            out.insert("port".into(), json!(number));
            out.insert(
                "protocol".into(),
                json!(match s(p, "/protocol") {
                    "" => "TCP",
                    proto => proto,
                }),
            );
            Some(Value::Object(out))
        })
        .collect()
}

/// One subset of an Endpoints: the addresses that serve one list of ports.
#[derive(Default)]
struct Subset {
    ready: Vec<Value>,
    not_ready: Vec<Value>,
    ports: Vec<Value>,
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": s(pod, "/metadata/namespace"),
        "name": s(pod, "/metadata/name"), "uid": s(pod, "/metadata/uid")})
}

async fn reconcile(
    rest: &Rest,
    t: &Types,
    ns: &str,
    name: &str,
) -> Result<(), crate::status::ApiError> {
    let Ok(svc) = rest.get_value(&t.services, Some(ns), name) else {
        // The Service is gone: so are its Endpoints, as upstream's controller deletes them (its
        // slices are owned by it: the garbage collector removes them).
        if rest.get_value(&t.endpoints, Some(ns), name).is_ok() {
            rest.delete(&t.endpoints, Some(ns), name, &DeleteOptions::default())
                .await?;
        }
        return Ok(());
    };
    if svc
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return Ok(());
    }
    let Some(selector) = service_selector(&svc) else {
        return Ok(());
    };
    let svc_ports: Vec<Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let list = rest
        .list(
            &t.pods,
            Some(ns),
            &ListOptions {
                label_selector: selector,
                ..ListOptions::default()
            },
        )
        .await?;
    let mut pods: Vec<Value> = list
        .items
        .iter()
        .map(|o| o.value())
        .filter(|p| !s(p, "/status/podIP").is_empty())
        .filter(|p| !matches!(s(p, "/status/phase"), "Succeeded" | "Failed"))
        .collect();
    pods.sort_by(|a, b| s(a, "/status/podIP").cmp(s(b, "/status/podIP")));

    // Endpoints: one subset per distinct port list, ready and not-ready addresses apart.
    let mut subsets: BTreeMap<String, Subset> = BTreeMap::new();
    for pod in &pods {
        let ports = pod_ports(&svc_ports, pod);
        if ports.is_empty() && !svc_ports.is_empty() {
            continue;
        }
        let mut address = Map::new();
        address.insert("ip".into(), json!(s(pod, "/status/podIP")));
        if !s(pod, "/spec/nodeName").is_empty() {
            address.insert("nodeName".into(), json!(s(pod, "/spec/nodeName")));
        }
        address.insert("targetRef".into(), target_ref(pod));
        let entry = subsets
            .entry(serde_json::to_string(&ports).unwrap_or_default())
            .or_insert_with(|| Subset {
                ports,
                ..Subset::default()
            });
        let terminating = pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null());
        if pod_ready(pod) && !terminating {
            entry.ready.push(Value::Object(address));
        } else {
            entry.not_ready.push(Value::Object(address));
        }
    }
    let subsets: Vec<Value> = subsets
        .into_values()
        .map(
            |Subset {
                 ready,
                 not_ready,
                 ports,
             }| {
                let mut subset = Map::new();
                if !ready.is_empty() {
                    subset.insert("addresses".into(), Value::Array(ready));
                }
                if !not_ready.is_empty() {
                    subset.insert("notReadyAddresses".into(), Value::Array(not_ready));
                }
                if !ports.is_empty() {
                    subset.insert("ports".into(), Value::Array(ports));
                }
                Value::Object(subset)
            },
        )
        .collect();
    write_endpoints(rest, t, &svc, subsets).await?;

    // One EndpointSlice listing every selected pod.
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|pod| {
            let terminating = pod
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null());
            let ready = pod_ready(pod);
            let mut e = Map::new();
            e.insert("addresses".into(), json!([s(pod, "/status/podIP")]));
            e.insert(
                "conditions".into(),
                json!({"ready": ready && !terminating, "serving": ready, "terminating": terminating}),
            );
            e.insert("targetRef".into(), target_ref(pod));
            if !s(pod, "/spec/nodeName").is_empty() {
                e.insert("nodeName".into(), json!(s(pod, "/spec/nodeName")));
            }
            Value::Object(e)
        })
        .collect();
    let ports = pods
        .first()
        .map(|p| pod_ports(&svc_ports, p))
        .unwrap_or_default();
    write_slice(rest, t, &svc, endpoints, ports).await
}

async fn write_endpoints(
    rest: &Rest,
    t: &Types,
    svc: &Value,
    subsets: Vec<Value>,
) -> Result<(), crate::status::ApiError> {
    let ns = s(svc, "/metadata/namespace");
    let name = s(svc, "/metadata/name");
    let labels = svc
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    match rest.get_value(&t.endpoints, Some(ns), name) {
        Ok(current) => {
            let now = current.get("subsets").cloned().unwrap_or(json!([]));
            if now == json!(subsets)
                && current.pointer("/metadata/labels").unwrap_or(&json!({})) == &labels
            {
                return Ok(());
            }
            let mut body = current.clone();
            body["metadata"]["labels"] = labels;
            if subsets.is_empty() {
                if let Some(m) = body.as_object_mut() {
                    m.remove("subsets");
                }
            } else {
                body["subsets"] = json!(subsets);
            }
            rest.update(&t.endpoints, Some(ns), name, body, &opts(), None)
                .await?;
        }
        Err(_) => {
            let mut body = json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": labels}});
            if !subsets.is_empty() {
                body["subsets"] = json!(subsets);
            }
            rest.create(&t.endpoints, Some(ns), body, &opts()).await?;
        }
    }
    Ok(())
}

async fn write_slice(
    rest: &Rest,
    t: &Types,
    svc: &Value,
    endpoints: Vec<Value>,
    ports: Vec<Value>,
) -> Result<(), crate::status::ApiError> {
    let ns = s(svc, "/metadata/namespace");
    let name = s(svc, "/metadata/name");
    let selector = LabelSelector::parse(&format!(
        "{SERVICE_NAME_LABEL}={name},{MANAGED_BY_LABEL}={MANAGER}"
    ))
    .map_err(crate::status::ApiError::bad_request)?;
    let existing = rest
        .list(
            &t.slices,
            Some(ns),
            &ListOptions {
                label_selector: selector,
                ..ListOptions::default()
            },
        )
        .await?;
    let mut labels = svc
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGER));
    let wanted_ports = if ports.is_empty() {
        Value::Null
    } else {
        json!(ports)
    };
    let wanted_endpoints = json!(endpoints);
    if let Some(current) = existing.items.first().map(|o| o.value()) {
        let same = current.get("endpoints").cloned().unwrap_or(json!([])) == wanted_endpoints
            && current.get("ports").cloned().unwrap_or(Value::Null) == wanted_ports
            && current
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                == Some(&labels);
        if same {
            return Ok(());
        }
        let mut body = current.clone();
        body["metadata"]["labels"] = Value::Object(labels);
        body["endpoints"] = wanted_endpoints;
        body["ports"] = wanted_ports;
        let slice_name = s(&current, "/metadata/name").to_string();
        rest.update(&t.slices, Some(ns), &slice_name, body, &opts(), None)
            .await?;
        return Ok(());
    }
    let body = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": format!("{name}-"), "namespace": ns, "labels": labels,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                "uid": s(svc, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true}]},
        "addressType": "IPv4", "endpoints": wanted_endpoints, "ports": wanted_ports});
    rest.create(&t.slices, Some(ns), body, &opts()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_ports_resolve_by_number_name_or_port() {
        let pod = json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]}});
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": 9090}), &pod),
            Some(9090)
        );
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": "http"}), &pod),
            Some(8080)
        );
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": "grpc"}), &pod),
            None
        );
        assert_eq!(target_port(&json!({"port": 80}), &pod), Some(80));
        assert_eq!(
            pod_ports(
                &[json!({"name": "web", "port": 80, "targetPort": "http"})],
                &pod
            ),
            vec![json!({"name": "web", "port": 8080, "protocol": "TCP"})]
        );
    }
}
