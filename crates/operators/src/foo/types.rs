//! The `Foo` custom resource (`foos.samplecontroller.k8s.io/v1alpha1`), as sample-controller
//! defines it; its validation lives in the schema generated from these types.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A DNS-1123 subdomain: what a Deployment name must be.
pub const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// The desired state of a Foo: a Deployment of `replicas` nginx Pods named `deploymentName`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "samplecontroller.k8s.io",
    version = "v1alpha1",
    kind = "Foo",
    plural = "foos",
    namespaced,
    status = "FooStatus",
    derive = "PartialEq",
    // `*.k8s.io` is a protected group: the API server wants this annotation (as upstream's
    // sample-controller CRD carries it).
    annotation(
        "api-approved.kubernetes.io",
        "unapproved, experimental-only; please use https://github.com/kubernetes/enhancements/pull/1111"
    ),
    doc = "A Foo runs a Deployment of nginx Pods (sample-controller's custom resource).",
    printcolumn = r#"{"name":"Deployment","type":"string","jsonPath":".spec.deploymentName"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".spec.replicas"}"#,
    printcolumn = r#"{"name":"Available","type":"integer","jsonPath":".status.availableReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    /// Name of the Deployment this Foo owns (a DNS-1123 subdomain).
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub deployment_name: String,
    /// Number of Pods, 1 to 10; when absent the Deployment's default (1) applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: Option<i32>,
}

/// The observed state of a Foo.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FooStatus {
    /// Available Pods of the owned Deployment.
    #[serde(default)]
    pub available_replicas: i32,
}
