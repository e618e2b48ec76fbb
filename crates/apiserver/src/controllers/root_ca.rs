//! The root CA publisher (kube-controller-manager's `root-ca-cert-publisher`): when the server
//! has a cluster CA (it serves TLS), every namespace that is not terminating has a ConfigMap
//! `kube-root-ca.crt` whose `ca.crt` is that CA, created with the namespace and put back when
//! deleted or changed. Pods read it (through their projected token volume) to trust the server.

use super::changes::Changes;
use crate::resource::ResourceType;
use crate::rest::Rest;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The ConfigMap's name.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// The field manager of what this controller writes.
const MANAGER: &str = "kube-controller-manager";
/// Upstream's description annotation.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

struct Types {
    namespaces: Arc<ResourceType>,
    config_maps: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        namespaces: r.find("", "v1", "namespaces")?,
        config_maps: r.find("", "v1", "configmaps")?,
    })
}

/// Runs until the store closes (at once when the server has no CA).
pub async fn run(rest: Rest) {
    let Some(ca) = rest.cluster_ca.clone() else {
        return;
    };
    let Some(t) = types(&rest) else { return };
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let dirty = super::per_namespace::touched(
            &rest,
            change,
            &t.namespaces,
            &t.config_maps,
            ROOT_CA_CONFIG_MAP,
        )
        .await;
        publish_all(&rest, &t, &ca, dirty).await;
    }
}

/// Publishes the CA in `namespaces` (the server's start does this for its own namespaces).
pub(crate) async fn publish_in(rest: &Rest, namespaces: &[&str]) {
    if let (Some(ca), Some(t)) = (rest.cluster_ca.clone(), types(rest)) {
        let namespaces = namespaces.iter().map(|n| n.to_string()).collect();
        publish_all(rest, &t, &ca, namespaces).await;
    }
}

async fn publish_all(rest: &Rest, t: &Types, ca: &str, namespaces: BTreeSet<String>) {
    for ns in namespaces {
        if let Err(e) = publish(rest, t, ca, &ns).await {
            tracing::debug!(namespace = ns, error = %e, "publishing kube-root-ca.crt");
        }
    }
}

/// Creates or corrects `kube-root-ca.crt` in `ns` when the namespace is live.
async fn publish(
    rest: &Rest,
    t: &Types,
    ca: &str,
    ns: &str,
) -> Result<(), crate::status::ApiError> {
    let Ok(namespace) = rest.get_value(&t.namespaces, None, ns) else {
        return Ok(());
    };
    if super::deleting(&namespace) {
        return Ok(());
    }
    let opts = super::write_options(MANAGER);
    match rest.get_value(&t.config_maps, Some(ns), ROOT_CA_CONFIG_MAP) {
        Ok(existing) => {
            let described = existing.pointer("/metadata/annotations/kubernetes.io~1description")
                == Some(&Value::from(DESCRIPTION));
            if existing.pointer("/data/ca.crt").and_then(Value::as_str) == Some(ca) && described {
                return Ok(());
            }
            let mut fixed = existing;
            fixed["data"] = json!({"ca.crt": ca});
            fixed["metadata"]["annotations"]["kubernetes.io/description"] = json!(DESCRIPTION);
            match rest
                .update(
                    &t.config_maps,
                    Some(ns),
                    ROOT_CA_CONFIG_MAP,
                    fixed,
                    &opts,
                    None,
                )
                .await
            {
                Err(e) if e.code == 409 || e.code == 404 => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Err(_) => {
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA_CONFIG_MAP, "namespace": ns,
                    "annotations": {"kubernetes.io/description": DESCRIPTION}},
                "data": {"ca.crt": ca}});
            match rest.create(&t.config_maps, Some(ns), body, &opts).await {
                // Created meanwhile, or the namespace started terminating.
                Err(e) if e.code == 409 || e.code == 403 => Ok(()),
                other => other.map(|_| ()),
            }
        }
    }
}
