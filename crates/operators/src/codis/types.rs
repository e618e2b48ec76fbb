//! The `ConfigurationDistributionRule` custom resource (`k8s.tideland.dev/v1alpha1`).
//!
//! Unlike the original, validation sits under `spec` (so it applies), the selector is a label
//! value (not one character) and the resource has a status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside; or empty.
pub const LABEL_VALUE: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/// A namespace name: a DNS-1123 label.
pub const DNS1123_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Which kinds of objects a rule distributes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// ConfigMaps only.
    Configmap,
    /// Secrets only.
    Secret,
    /// ConfigMaps and Secrets.
    Both,
}

impl Mode {
    /// Whether this mode distributes ConfigMaps.
    pub fn config_maps(self) -> bool {
        matches!(self, Mode::Configmap | Mode::Both)
    }

    /// Whether this mode distributes Secrets.
    pub fn secrets(self) -> bool {
        matches!(self, Mode::Secret | Mode::Both)
    }
}

/// What a rule distributes, and where to.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "k8s.tideland.dev",
    version = "v1alpha1",
    kind = "ConfigurationDistributionRule",
    plural = "configurationdistributionrules",
    namespaced,
    status = "RuleStatus",
    derive = "PartialEq",
    shortname = "cdr",
    shortname = "codisrule",
    shortname = "rule",
    doc = "Copies the ConfigMaps and/or Secrets of its namespace labelled rule=<selector> into the listed namespaces and keeps the copies identical.",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Selector","type":"string","jsonPath":".spec.selector"}"#,
    printcolumn = r#"{"name":"Targets","type":"string","jsonPath":".spec.namespaces"}"#,
    printcolumn = r#"{"name":"Distributed","type":"integer","jsonPath":".status.distributed"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// Which kinds are distributed: `configmap`, `secret` or `both`.
    pub mode: Mode,
    /// Objects labelled `rule=<selector>` are distributed; empty means every object.
    #[serde(default)]
    #[schemars(length(max = 63), pattern(LABEL_VALUE))]
    pub selector: String,
    /// Namespaces that receive the copies.
    #[schemars(
        length(min = 1, max = 256),
        inner(length(min = 1, max = 63), pattern(DNS1123_LABEL))
    )]
    pub namespaces: Vec<String>,
}

/// Why one target namespace (or one object in it) did not get what the rule wants.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The target namespace.
    pub namespace: String,
    /// The object concerned (`ConfigMap/name`, `Secret/name`), absent for the namespace itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// A CamelCase reason: `NamespaceNotFound`, `NotManaged`, `ClaimedByOtherRule`, `SameNamespace`, `WriteFailed`.
    pub reason: String,
    /// What is wrong, for humans.
    pub message: String,
}

/// The observed state of a rule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many copies are in place and identical to their sources.
    #[serde(default)]
    pub distributed: i32,
    /// What could not be distributed, per namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// `Ready`: every wanted copy is in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
