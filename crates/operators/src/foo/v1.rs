//! `foos.samplecontroller.k8s.io/v1`: the same Foo with the Deployment it owns described as one
//! object, `spec.deployment: {name, replicas}`, where v1alpha1 (the storage version and the hub
//! of conversion) has the flat `spec.deploymentName` and `spec.replicas`. The API server
//! converts between the two through the operator's conversion webhook (`conversion.rs`).

use super::types::{DNS1123_SUBDOMAIN, FooStatus};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The desired state of a Foo at v1: the Deployment it owns.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "samplecontroller.k8s.io",
    version = "v1",
    kind = "Foo",
    plural = "foos",
    namespaced,
    status = "FooStatus",
    derive = "PartialEq",
    annotation(
        "api-approved.kubernetes.io",
        "unapproved, experimental-only; please use https://github.com/kubernetes/enhancements/pull/1111"
    ),
    doc = "A Foo runs a Deployment of nginx Pods (sample-controller's custom resource), at v1.",
    printcolumn = r#"{"name":"Deployment","type":"string","jsonPath":".spec.deployment.name"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".spec.deployment.replicas"}"#,
    printcolumn = r#"{"name":"Available","type":"integer","jsonPath":".status.availableReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    /// The Deployment this Foo owns.
    pub deployment: FooDeployment,
}

/// The Deployment a v1 Foo owns: v1alpha1's `deploymentName` and `replicas`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FooDeployment {
    /// Its name (a DNS-1123 subdomain).
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Number of Pods, 1 to 10; when absent the Deployment's default (1) applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: Option<i32>,
}
