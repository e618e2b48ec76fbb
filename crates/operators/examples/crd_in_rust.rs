//! The GopherCon workshop's "CRD Go" scenario in Rust: where Go needs types.go, register.go and
//! four code generators (deepcopy, client, lister, informer), a derive on one struct gives the
//! type, its CRD (schema from the Rust types), and a typed client. The workshop's exercise
//! ResourcesPolicy: pods must declare resource limits and requests.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-operators --example crd_in_rust
//! ```

use anyhow::Context;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a ResourcesPolicy requires of the Pods of its namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "policy.k8s-go.openshift.org",
    version = "v1alpha1",
    kind = "ResourcesPolicy",
    namespaced,
    shortname = "rp",
    status = "ResourcesPolicyStatus",
    printcolumn = r#"{"name":"Limits","type":"boolean","jsonPath":".spec.require.limits"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.failed"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesPolicySpec {
    /// What each container must declare.
    pub require: Require,
    /// The label put on failing Pods.
    #[serde(default = "default_label")]
    pub label: String,
}

/// What each container must declare.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Require {
    /// Resource limits.
    #[serde(default)]
    pub limits: bool,
    /// Resource requests.
    #[serde(default)]
    pub requests: bool,
    /// Requests no higher than limits.
    #[serde(default)]
    pub requests_lower_than_limits: bool,
}

/// What the policy found.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ResourcesPolicyStatus {
    /// Pods failing the policy.
    pub failed: i64,
    /// Pods passing it.
    pub passed: i64,
}

fn default_label() -> String {
    "resources-wrong".to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    let policy = run(client, "default").await?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}

/// Installs the CRD generated from the type, uses the typed client (create, list, status), and
/// removes the CRD again; returns the policy as last read.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<ResourcesPolicy> {
    // The CRD, from the Rust type: names, schema, printer columns, status subresource.
    let crd = ResourcesPolicy::crd();
    let name = crd.name_any();
    println!(
        "CRD {name}: kind {}, short names {:?}",
        crd.spec.names.kind, crd.spec.names.short_names
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply("crd-in-rust-example").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    let established = tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds.clone(), &name, conditions::is_crd_established()),
    )
    .await;
    if established.is_err() {
        let conditions = crds.get(&name).await?.status.and_then(|s| s.conditions);
        anyhow::bail!("the CRD was not established in 30 s: {conditions:?}");
    }

    // The typed client: what client-gen generates in Go.
    let policies: Api<ResourcesPolicy> = Api::namespaced(client.clone(), namespace);
    let policy = ResourcesPolicy::new(
        "limits-required",
        ResourcesPolicySpec {
            require: Require {
                limits: true,
                ..Require::default()
            },
            label: default_label(),
        },
    );
    policies.create(&PostParams::default(), &policy).await?;
    let listed = policies.list(&ListParams::default()).await?;
    println!(
        "listed {} ResourcesPolicy: {:?}",
        listed.items.len(),
        listed
            .items
            .iter()
            .map(|p| p.name_any())
            .collect::<Vec<_>>()
    );

    // Status goes through its subresource, typed as well.
    let status = serde_json::json!({"status": ResourcesPolicyStatus { failed: 1, passed: 3 }});
    let updated = policies
        .patch_status(
            "limits-required",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    println!("status: {:?}", updated.status);

    policies
        .delete("limits-required", &DeleteParams::default())
        .await?;
    crds.delete(&name, &DeleteParams::default()).await?;
    Ok(updated)
}
