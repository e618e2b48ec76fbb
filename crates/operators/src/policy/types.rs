//! The three policy custom resources (`policy.k8s-go.openshift.org/v1alpha1`, namespaced) and the
//! status they share; their validation lives in the schemas generated from these types (OpenAPI
//! patterns and defaults, CEL rules).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of the policies.
pub const GROUP: &str = "policy.k8s-go.openshift.org";

/// A label (or annotation) key: an optional DNS-1123 subdomain prefix and `/`, then a name of
/// alphanumerics, `-`, `_` and `.` that starts and ends alphanumeric. The lengths (prefix at most
/// 253, name at most 63) are checked by [`KEY_LENGTH_RULE`].
pub const LABEL_KEY: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";

/// The CEL rule bounding a label key's parts: name at most 63 characters, prefix at most 253.
pub const KEY_LENGTH_RULE: &str = "self.contains('/') ? (self.substring(0, self.indexOf('/')).size() <= 253 && self.substring(self.indexOf('/') + 1).size() <= 63) : self.size() <= 63";

fn default_health_label() -> String {
    "health-check-missing".to_string()
}

fn default_image_label() -> String {
    "invalid-container-image".to_string()
}

fn default_resources_label() -> String {
    "resources-wrong".to_string()
}

/// What a HealthCheckPolicy does to a failing pod.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckAction {
    /// Set the label `<podLabel>: "true"`.
    #[default]
    Label,
    /// Set the annotation `<podLabel>` naming the containers that miss probes.
    Annotate,
    /// Delete the pod (with a Warning event saying why).
    Kill,
}

/// What a ContainerImagePolicy or ResourcesPolicy does to a failing pod.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementAction {
    /// Set the label `<labels.pods>: "true"`.
    #[default]
    Label,
    /// Delete the pod (with a Warning event saying why).
    Delete,
}

/// Pods fail when a container (init containers excluded) lacks a liveness or readiness probe.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "policy.k8s-go.openshift.org",
    version = "v1alpha1",
    kind = "HealthCheckPolicy",
    plural = "healthcheckpolicies",
    shortname = "hcp",
    namespaced,
    status = "PolicyStatus",
    derive = "PartialEq",
    doc = "Marks (or kills) the pods of its namespace whose containers lack a livenessProbe or readinessProbe.",
    validation = kube::core::Rule::new("self.metadata.name.size() <= 63").message("a policy name has at most 63 characters (it names the policy's marker annotation on pods)"),
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.statistics.pods.failed"}"#,
    printcolumn = r#"{"name":"Passed","type":"integer","jsonPath":".status.statistics.pods.passed"}"#,
    printcolumn = r#"{"name":"Last Checked","type":"date","jsonPath":".status.lastChecked"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckPolicySpec {
    /// The label (action `label`) or annotation (action `annotate`) key set on failing pods.
    #[serde(default = "default_health_label")]
    #[schemars(length(min = 1, max = 317), pattern(LABEL_KEY))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": KEY_LENGTH_RULE, "message": "must be a valid label key: a name of at most 63 characters, optionally prefixed by a DNS subdomain of at most 253 characters and '/'"}]))]
    pub pod_label: String,
    /// `label` (default), `annotate` or `kill`.
    #[serde(default)]
    pub action: HealthCheckAction,
    /// Only pods matching this selector are covered (default: every pod of the namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// What a container image reference must satisfy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRequirements {
    /// The reference names its registry host (`docker.io/nginx`, not `nginx`).
    #[serde(default)]
    pub explicit_registry: bool,
    /// A regular expression (RE2 syntax, unanchored as Go's `MatchString`) every image must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub image_regex: Option<String>,
    /// Refuse `:latest` and untagged images (a digest alone is accepted).
    #[serde(default)]
    pub no_latest_tag: bool,
}

/// The label a ContainerImagePolicy sets on failing pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageLabels {
    /// The label key (default `invalid-container-image`).
    #[serde(default = "default_image_label")]
    #[schemars(length(min = 1, max = 317), pattern(LABEL_KEY))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": KEY_LENGTH_RULE, "message": "must be a valid label key: a name of at most 63 characters, optionally prefixed by a DNS subdomain of at most 253 characters and '/'"}]))]
    pub pods: String,
}

impl Default for ImageLabels {
    fn default() -> Self {
        ImageLabels {
            pods: default_image_label(),
        }
    }
}

/// Pods fail when an image of a container or init container breaks the requirements.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "policy.k8s-go.openshift.org",
    version = "v1alpha1",
    kind = "ContainerImagePolicy",
    plural = "containerimagepolicies",
    shortname = "cip",
    namespaced,
    status = "PolicyStatus",
    derive = "PartialEq",
    doc = "Labels (or deletes) the pods of its namespace whose container images break its requirements.",
    validation = kube::core::Rule::new("self.metadata.name.size() <= 63").message("a policy name has at most 63 characters (it names the policy's marker annotation on pods)"),
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.statistics.pods.failed"}"#,
    printcolumn = r#"{"name":"Passed","type":"integer","jsonPath":".status.statistics.pods.passed"}"#,
    printcolumn = r#"{"name":"Last Checked","type":"date","jsonPath":".status.lastChecked"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImagePolicySpec {
    /// What every image must satisfy.
    #[serde(default)]
    pub require: ImageRequirements,
    /// The label set on failing pods.
    #[serde(default)]
    pub labels: ImageLabels,
    /// `label` (default) or `delete`.
    #[serde(default)]
    pub action: EnforcementAction,
    /// Only pods matching this selector are covered (default: every pod of the namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// What a container's resources must declare.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// Every container sets a cpu and a memory limit.
    #[serde(default)]
    pub limits: bool,
    /// Every container sets a cpu and a memory request.
    #[serde(default)]
    pub requests: bool,
    /// For every resource with both a request and a limit, the request is strictly lower.
    #[serde(default)]
    pub requests_lower_than_limits: bool,
}

/// The label a ResourcesPolicy sets on failing pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesLabels {
    /// The label key (default `resources-wrong`).
    #[serde(default = "default_resources_label")]
    #[schemars(length(min = 1, max = 317), pattern(LABEL_KEY))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": KEY_LENGTH_RULE, "message": "must be a valid label key: a name of at most 63 characters, optionally prefixed by a DNS subdomain of at most 253 characters and '/'"}]))]
    pub pods: String,
}

impl Default for ResourcesLabels {
    fn default() -> Self {
        ResourcesLabels {
            pods: default_resources_label(),
        }
    }
}

/// Pods fail when a container's (or init container's) resources break the requirements.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "policy.k8s-go.openshift.org",
    version = "v1alpha1",
    kind = "ResourcesPolicy",
    plural = "resourcespolicies",
    shortname = "rp",
    namespaced,
    status = "PolicyStatus",
    derive = "PartialEq",
    doc = "Labels (or deletes) the pods of its namespace whose container resources break its requirements.",
    validation = kube::core::Rule::new("self.metadata.name.size() <= 63").message("a policy name has at most 63 characters (it names the policy's marker annotation on pods)"),
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Failed","type":"integer","jsonPath":".status.statistics.pods.failed"}"#,
    printcolumn = r#"{"name":"Passed","type":"integer","jsonPath":".status.statistics.pods.passed"}"#,
    printcolumn = r#"{"name":"Last Checked","type":"date","jsonPath":".status.lastChecked"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesPolicySpec {
    /// What every container's resources must declare.
    #[serde(default)]
    pub require: ResourceRequirements,
    /// The label set on failing pods.
    #[serde(default)]
    pub labels: ResourcesLabels,
    /// `label` (default) or `delete`.
    #[serde(default)]
    pub action: EnforcementAction,
    /// Only pods matching this selector are covered (default: every pod of the namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// How many pods failed and passed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PodCounts {
    /// Pods in scope that fail the policy.
    #[serde(default)]
    pub failed: i64,
    /// Pods in scope that pass it.
    #[serde(default)]
    pub passed: i64,
}

/// The counts of the last check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Statistics {
    /// Pod counts.
    #[serde(default)]
    pub pods: PodCounts,
}

/// One failing pod and why it fails.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub struct FailingPod {
    /// The pod's name.
    pub pod: String,
    /// What is wrong with it.
    pub reasons: Vec<String>,
}

/// The observed state of a policy (the same for all three kinds).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many pods fail and pass.
    #[serde(default)]
    pub statistics: Statistics,
    /// The first failing pods by name (at most [`MAX_FAILING`](super::status::MAX_FAILING)).
    #[serde(default)]
    pub failing: Vec<FailingPod>,
    /// When the pods were last checked with a different outcome, or at the periodic recheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<Time>,
    /// `Ready`: the policy is enforced; `Conflict`: another policy of the kind claims its key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
