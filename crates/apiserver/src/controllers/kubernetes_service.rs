//! The `kubernetes` Service of namespace `default`, as kube-apiserver keeps it: ClusterIP
//! `10.96.0.1` (the first host of the service range), port `https` 443 to the server's own
//! port, no selector, labels `component=apiserver` and `provider=kubernetes`, with an
//! `Endpoints` and an `EndpointSlice` of the same name listing the server's address. They are
//! written at start and written again whenever one of them is deleted or changed, so in-cluster
//! clients (and `kubectl get svc,endpoints` on a fresh cluster) find what they find upstream.
//! The Service is created through the write path like any other, so its address is taken from
//! the default ServiceCIDR as an IPAddress by the Services' allocator.
//!
//! On a storage shared by several servers, each server creates what is missing before it serves
//! (as each kube-apiserver's bootstrap controller creates the Service when it is absent, and
//! leaves one that exists), and the holder of the controllers' Lease keeps them pointing at
//! itself.

use super::changes::{Change, Changes};
use crate::resource::ResourceType;
use crate::rest::Rest;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// The Service's name.
pub const NAME: &str = "kubernetes";
/// Its namespace.
pub const NAMESPACE: &str = "default";
/// Its cluster IP: the first host of the service range.
pub const CLUSTER_IP: &str = "10.96.0.1";
/// The field manager of what this controller writes.
const MANAGER: &str = "kube-apiserver";

struct Types {
    services: Arc<ResourceType>,
    endpoints: Arc<ResourceType>,
    slices: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        services: r.find("", "v1", "services")?,
        endpoints: r.find("", "v1", "endpoints")?,
        slices: r.find("discovery.k8s.io", "v1", "endpointslices")?,
    })
}

/// The address advertised for a server listening on `addr` (loopback for an unspecified one).
fn advertised(addr: SocketAddr) -> (String, u16) {
    let ip = if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "::1".to_string()
        }
    } else {
        addr.ip().to_string()
    };
    (ip, addr.port())
}

fn service(port: u16) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP, "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}})
}

fn endpoints(ip: &str, port: u16) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]})
}

fn slice(ip: &str, port: u16) -> Value {
    let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
            "labels": {super::endpoints::SERVICE_NAME_LABEL: NAME}},
        "addressType": family,
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]})
}

/// Writes the Service, Endpoints and EndpointSlice once, for a server listening on `addr` (the
/// server's start does this before it returns, so that a started server is settled).
pub(crate) async fn ensure(rest: &Rest, addr: SocketAddr) {
    if let Some(t) = types(rest) {
        let (ip, port) = advertised(addr);
        reconcile(rest, &t, &ip, port, Repair::Fields).await;
    }
}

/// Creates those of the Service, Endpoints and EndpointSlice that do not exist, for a server
/// listening on `addr`, and leaves the others as they are: what a server sharing its storage
/// does before it serves (another server may hold the controllers' Lease and keep them).
pub(crate) async fn create_missing(rest: &Rest, addr: SocketAddr) {
    if let Some(t) = types(rest) {
        let (ip, port) = advertised(addr);
        reconcile(rest, &t, &ip, port, Repair::Nothing).await;
    }
}

/// What [`reconcile`] does to an object that exists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repair {
    /// Puts back the fields this controller owns.
    Fields,
    /// Leaves it.
    Nothing,
}

/// Runs until the store closes, for a server listening on `addr`.
pub async fn run(rest: Rest, addr: SocketAddr) {
    let Some(t) = types(&rest) else { return };
    let (ip, port) = advertised(addr);
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let ours = match change {
            Change::Resync { .. } => true,
            Change::Events(events) => events.iter().any(|e| {
                e.key.namespace == NAMESPACE
                    && e.key.name == NAME
                    && [&t.services, &t.endpoints, &t.slices]
                        .iter()
                        .any(|rt| rt.storage_key == e.key.resource)
            }),
        };
        if ours {
            reconcile(&rest, &t, &ip, port, Repair::Fields).await;
        }
    }
}

async fn reconcile(rest: &Rest, t: &Types, ip: &str, port: u16, repair: Repair) {
    let wanted: [(&Arc<ResourceType>, Value, &[&str]); 3] = [
        (&t.services, service(port), &["/spec/ports"]),
        (&t.endpoints, endpoints(ip, port), &["/subsets"]),
        (
            &t.slices,
            slice(ip, port),
            &["/addressType", "/endpoints", "/ports"],
        ),
    ];
    for (rt, body, fields) in wanted {
        let fields = if repair == Repair::Fields {
            fields
        } else {
            &[]
        };
        if let Err(e) = ensure_object(rest, rt, body, fields).await {
            tracing::debug!(resource = %rt.plural, error = %e, "writing the kubernetes Service");
        }
    }
}

/// Creates `body`, or puts back the `fields` (JSON pointers) of it that differ.
async fn ensure_object(
    rest: &Rest,
    rt: &Arc<ResourceType>,
    body: Value,
    fields: &[&str],
) -> Result<(), crate::status::ApiError> {
    let opts = super::write_options(MANAGER);
    let Ok(current) = rest.get_value(rt, Some(NAMESPACE), NAME) else {
        return match rest.create(rt, Some(NAMESPACE), body, &opts).await {
            Err(e) if e.code == 409 => Ok(()),
            other => other.map(|_| ()),
        };
    };
    if super::deleting(&current) {
        return Ok(());
    }
    let mut updated = current.clone();
    let mut changed = false;
    for pointer in fields {
        let want = body.pointer(pointer).cloned().unwrap_or(Value::Null);
        if current.pointer(pointer) != Some(&want) {
            let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(Value::Object(map)) = updated.pointer_mut(parent) {
                map.insert(field.to_string(), want);
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(());
    }
    rest.update(rt, Some(NAMESPACE), NAME, updated, &opts, None)
        .await
        .map(|_| ())
}
