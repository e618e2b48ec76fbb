//! Installing an operator's CRDs into a cluster and waiting until they are served, as `kubectl
//! apply -f deploy/` followed by `kubectl wait --for condition=established` would.

use crate::Operator;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};
use std::time::Duration;

/// The field manager of what kubeforge applies.
pub const FIELD_MANAGER: &str = "kubeforge";

/// Why installing CRDs failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The API server refused the CRD.
    #[error("applying CRD {name}: {source}")]
    Apply {
        /// The CRD's name.
        name: String,
        /// What the server said.
        source: kube::Error,
    },
    /// The CRD was not established in time.
    #[error("CRD {name} was not established within {timeout:?}")]
    NotEstablished {
        /// The CRD's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
    },
}

/// Applies (server-side) the CRDs of `operators` and waits until each is established.
pub async fn install_crds(
    client: &Client,
    operators: &[&Operator],
    timeout: Duration,
) -> Result<(), InstallError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let crds: Vec<CustomResourceDefinition> = operators.iter().flat_map(|o| (o.crds)()).collect();
    for crd in &crds {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(|source| InstallError::Apply {
                name: name.clone(),
                source,
            })?;
    }
    for crd in &crds {
        let name = crd.name_any();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        match tokio::time::timeout(timeout, established).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Err(InstallError::NotEstablished { name, timeout }),
        }
    }
    Ok(())
}
