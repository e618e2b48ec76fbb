//! The `Network` custom resource (`samplecrd.k8s.io/v1`), with its validation in the CRD.
//!
//! The original (phosae's custom-resource demo) declared `{cidr, gateway}` and validated nothing.
//! Here the API server refuses a bad Network before any controller sees it, with CEL rules on
//! kube-apiserver 1.33's IP/CIDR library (`isCIDR`, `cidr()`, `isIP`, `ip()`, `containsIP`,
//! `masked()`, `prefixLength()`, `family()`) and apimachinery's messages for invalid IPs and CIDRs:
//! - `cidr` is a valid CIDR in canonical form (the network address, RFC 5952 for IPv6) and
//!   immutable once set (a transition rule: addresses already handed out belong to it);
//! - `gateway` is a valid IP address inside `cidr` that is neither its network address nor (IPv4)
//!   its broadcast address;
//! - each of `excludes` is an IP address or a CIDR.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// apimachinery's message for a value that is not a CIDR (`validation.IsValidCIDR`).
pub const INVALID_CIDR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
/// apimachinery's message for a value that is not an IP address (`validation.IsValidIP`).
pub const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// apimachinery's message for a changed immutable field (`validation.FieldImmutableErrorMsg`).
pub const IMMUTABLE: &str = "field is immutable";
/// The message for an exclusion that is neither an IP address nor a CIDR.
pub const INVALID_EXCLUDE: &str =
    "must be a valid IP address or CIDR value, (e.g. 10.9.8.7 or 10.9.8.0/24)";
/// The message for a gateway outside the network.
pub const GATEWAY_OUTSIDE: &str = "must be an address inside spec.cidr";
/// The message for a gateway on the network address.
pub const GATEWAY_NETWORK: &str = "must not be the network address of spec.cidr";
/// The message for a gateway on the IPv4 broadcast address.
pub const GATEWAY_BROADCAST: &str = "must not be the broadcast address of spec.cidr";

/// The gateway as a 32-bit integer (IPv4 only), for the broadcast rule: CEL has no arithmetic on
/// IP values, so the dotted quad is added up.
macro_rules! gateway_v4_int {
    () => {
        "(int(self.gateway.split('.')[0]) * 16777216 + int(self.gateway.split('.')[1]) * 65536 + int(self.gateway.split('.')[2]) * 256 + int(self.gateway.split('.')[3]))"
    };
}

/// A network of pod addresses.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "samplecrd.k8s.io",
    version = "v1",
    kind = "Network",
    plural = "networks",
    namespaced,
    status = "NetworkStatus",
    derive = "PartialEq",
    // `*.k8s.io` is a protected group: the API server wants this annotation.
    annotation(
        "api-approved.kubernetes.io",
        "unapproved, experimental-only; please use https://github.com/kubernetes/enhancements/pull/1111"
    ),
    doc = "A network of pod addresses: pods annotated samplecrd.k8s.io/network=<name> get a free address of spec.cidr in samplecrd.k8s.io/ip.",
    printcolumn = r#"{"name":"CIDR","type":"string","jsonPath":".spec.cidr"}"#,
    printcolumn = r#"{"name":"Gateway","type":"string","jsonPath":".spec.gateway"}"#,
    printcolumn = r#"{"name":"Allocated","type":"integer","jsonPath":".status.allocated"}"#,
    printcolumn = r#"{"name":"Free","type":"integer","jsonPath":".status.free"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!isCIDR(self.cidr) || !isIP(self.gateway) || cidr(self.cidr).containsIP(self.gateway)",
        "message": GATEWAY_OUTSIDE,
        "fieldPath": ".gateway",
    },
    {
        "rule": "!isCIDR(self.cidr) || !isIP(self.gateway) || cidr(self.cidr).prefixLength() >= (cidr(self.cidr).ip().family() == 4 ? 31 : 127) || cidr(self.cidr).masked().ip() != ip(self.gateway)",
        "message": GATEWAY_NETWORK,
        "fieldPath": ".gateway",
    },
    {
        "rule": concat!(
            "!isCIDR(self.cidr) || !isIP(self.gateway) || ip(self.gateway).family() != 4 || ",
            "!cidr(self.cidr).containsIP(self.gateway) || cidr(self.cidr).prefixLength() >= 31 || ",
            "math.bitAnd(", gateway_v4_int!(), " + 1, math.bitShiftLeft(1, 32 - cidr(self.cidr).prefixLength()) - 1) != 0"
        ),
        "message": GATEWAY_BROADCAST,
        "fieldPath": ".gateway",
    },
]))]
pub struct NetworkSpec {
    /// The network's addresses, as a CIDR in canonical form (`192.168.0.0/16`, `fd00:10::/64`).
    /// Immutable.
    #[schemars(length(min = 1, max = 43), extend("x-kubernetes-validations" = [
        {"rule": "isCIDR(self)", "message": INVALID_CIDR},
        {
            "rule": "!isCIDR(self) || string(cidr(self).masked()) == self",
            "messageExpression": "'must be in canonical form (\"' + string(cidr(self).masked()) + '\")'",
        },
        {"rule": "self == oldSelf", "message": IMMUTABLE},
    ]))]
    pub cidr: String,
    /// The gateway: an address of `cidr`, never handed to a pod.
    #[schemars(length(min = 1, max = 39), extend("x-kubernetes-validations" = [
        {"rule": "isIP(self)", "message": INVALID_IP},
    ]))]
    pub gateway: String,
    /// Addresses (`10.0.0.7`) and ranges (`10.0.0.0/28`) never handed to a pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 256),
        extend("items" = {
            "type": "string",
            "minLength": 1,
            "maxLength": 43,
            "x-kubernetes-validations": [{"rule": "isIP(self) || isCIDR(self)", "message": INVALID_EXCLUDE}],
        })
    )]
    pub excludes: Vec<String>,
}

/// The observed state of a network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many addresses pods hold.
    #[serde(default)]
    pub allocated: i64,
    /// How many addresses are left to hand out (saturating at 2^63-1 for large IPv6 networks).
    #[serde(default)]
    pub free: i64,
    /// `Ready`, `Overlapping` (another Network of the namespace overlaps this one) and
    /// `Exhausted` (no address left).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
