//! The serviceaccounts controller (kube-controller-manager's, simulated): every namespace that
//! is not terminating has a ServiceAccount `default`, created with the namespace and created
//! again when it is deleted, as upstream does. Pods that name no ServiceAccount run as it on a
//! real cluster, and `kubectl create token default` needs it.

use super::changes::Changes;
use crate::resource::ResourceType;
use crate::rest::Rest;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The ServiceAccount every namespace has.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The field manager of what this controller writes.
const MANAGER: &str = "service-account-controller";

struct Types {
    namespaces: Arc<ResourceType>,
    accounts: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let r = rest.catalog.snapshot();
    Some(Types {
        namespaces: r.find("", "v1", "namespaces")?,
        accounts: r.find("", "v1", "serviceaccounts")?,
    })
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else { return };
    let mut changes = Changes::all(&rest);
    while let Some(change) = changes.next().await {
        let dirty = super::per_namespace::touched(
            &rest,
            change,
            &t.namespaces,
            &t.accounts,
            DEFAULT_SERVICE_ACCOUNT,
        )
        .await;
        ensure_all(&rest, &t, dirty).await;
    }
}

/// Creates the `default` ServiceAccount of each of `namespaces` that lacks one (the server's
/// start does this for its own namespaces, so that a started server is settled).
pub(crate) async fn ensure_defaults(rest: &Rest, namespaces: &[&str]) {
    if let Some(t) = types(rest) {
        ensure_all(rest, &t, namespaces.iter().map(|n| n.to_string()).collect()).await;
    }
}

async fn ensure_all(rest: &Rest, t: &Types, namespaces: BTreeSet<String>) {
    for ns in namespaces {
        if let Err(e) = ensure(rest, t, &ns).await {
            tracing::debug!(namespace = ns, error = %e, "creating the default ServiceAccount");
        }
    }
}

/// Creates `default` in `ns` when the namespace is live and has none.
async fn ensure(rest: &Rest, t: &Types, ns: &str) -> Result<(), crate::status::ApiError> {
    let Ok(namespace) = rest.get_value(&t.namespaces, None, ns) else {
        return Ok(());
    };
    if super::deleting(&namespace) {
        return Ok(());
    }
    if rest
        .get_value(&t.accounts, Some(ns), DEFAULT_SERVICE_ACCOUNT)
        .is_ok()
    {
        return Ok(());
    }
    let body = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": ns}});
    match rest
        .create(&t.accounts, Some(ns), body, &super::write_options(MANAGER))
        .await
    {
        // Created meanwhile, or the namespace started terminating.
        Err(e) if e.code == 409 || e.code == 403 => Ok(()),
        other => other.map(|_| ()),
    }
}
