//! The identities of the operators `kubeforge up` runs: for each, the ServiceAccount, roles and
//! bindings `kubeforge manifests` generates for it are server-side applied (so a restarted
//! durable `up` converges on them, and a changed operator's rules replace the old ones), and the
//! operator gets a client of its own, authenticated by a bound token of that ServiceAccount
//! (requested and renewed as `run --service-account` does). The server holds each operator to
//! its generated least-privilege RBAC exactly as a cluster would.

use crate::service_account::{PodCredentials, pod_credentials};
use anyhow::Context;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Client, Config};
use kubeforge_operators::Operator;
use kubeforge_operators::manifests::{self, NAMESPACE};
use serde_json::Value;

/// The field manager of the objects `up` applies.
const FIELD_MANAGER: &str = "kubeforge-up";

/// The kinds of the generated manifests that make an operator's identity (its CRDs are
/// installed separately, and `up` runs the operator in-process rather than its Deployment).
const IDENTITY_KINDS: [&str; 6] = [
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];

/// The objects of `operator`'s generated manifests that make its identity, in apply order.
pub fn identity_objects(operator: &Operator) -> Vec<Value> {
    manifests::objects(operator, manifests::DEFAULT_IMAGE)
        .into_iter()
        .filter(|o| IDENTITY_KINDS.iter().any(|kind| o["kind"] == *kind))
        .collect()
}

/// Server-side applies `object` (a whole generated manifest) with `admin`.
async fn apply(admin: &Client, object: &Value) -> anyhow::Result<()> {
    let object: DynamicObject = serde_json::from_value(object.clone())?;
    let types = object
        .types
        .clone()
        .context("a manifest without its type")?;
    let gvk = GroupVersionKind::try_from(&types)?;
    let resource = ApiResource::from_gvk(&gvk);
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = match &object.metadata.namespace {
        Some(namespace) => Api::namespaced_with(admin.clone(), namespace, &resource),
        None => Api::all_with(admin.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .with_context(|| format!("applying {} {name}", gvk.kind))?;
    Ok(())
}

/// `operator`'s ServiceAccount (`kubeforge-system/kubeforge-<name>`) with the roles and bindings
/// `kubeforge manifests` grants it, applied with `admin`; then a client authenticated by a token
/// of that ServiceAccount, renewed while the returned credentials live. `admin_config` gives the
/// server's address.
pub async fn operator_credentials(
    admin: &Client,
    admin_config: &Config,
    operator: &Operator,
) -> anyhow::Result<PodCredentials> {
    for object in identity_objects(operator) {
        apply(admin, &object)
            .await
            .with_context(|| format!("creating the identity of operator {}", operator.name))?;
    }
    pod_credentials(
        admin.clone(),
        admin_config,
        NAMESPACE,
        &manifests::object_name(operator),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::identity_objects;

    #[test]
    fn every_operator_gets_its_service_account_and_rbac_from_the_manifests() {
        for operator in kubeforge_operators::OPERATORS {
            let kinds: Vec<String> = identity_objects(operator)
                .iter()
                .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
                .collect();
            assert_eq!(
                kinds,
                [
                    "Namespace",
                    "ServiceAccount",
                    "ClusterRole",
                    "ClusterRoleBinding",
                    "Role",
                    "RoleBinding"
                ],
                "{}",
                operator.name
            );
        }
    }
}
