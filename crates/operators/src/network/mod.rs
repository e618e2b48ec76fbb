//! Network: an IPAM controller. Pods annotated `samplecrd.k8s.io/network: <name>` get a free
//! address of that Network (in their namespace) in `samplecrd.k8s.io/ip`, released when the pod
//! goes or leaves the network; no address is ever held by two live pods.
//!
//! The original (phosae/k8s-controller-custom-resource-demo) logged "[Neutron] Try to process
//! network ..." and emitted `Synced`; this one manages the addresses, with the cluster as its
//! only state.
//!
//! | file | what it owns |
//! |---|---|
//! | `types.rs` | the custom resource, its schema and CEL validation |
//! | `pool.rs` | the addresses of a CIDR that may be handed out, and the next free ones |
//! | `assignment.rs` | who holds which address, who gets which next (a pure plan) |
//! | `allocator.rs` | the claim protocol that keeps addresses unique across allocators |
//! | `status.rs` | the status and its `Ready`, `Overlapping`, `Exhausted` conditions |
//! | `reconcile.rs` | one sync: finalizer, allocation, status, events |
//! | `controller.rs` | the controller: what it watches and how changes map to Networks |
//! | `webhook.rs` | the validating webhook refusing a CIDR overlapping another Network's |

mod allocator;
mod assignment;
mod controller;
mod pool;
mod reconcile;
mod status;
mod types;
mod webhook;

pub use allocator::{Outcome, allocate, live_pods};
pub use assignment::{
    CLAIMS_ANNOTATION, IP_ANNOTATION, NETWORK_ANNOTATION, Plan, PodView, claims_of, plan,
};
pub use controller::{CONTROLLER_NAME, controller, networks_for_pod};
pub use pool::{Cidr, Pool, PoolError};
pub use reconcile::{
    ADDRESS_EXHAUSTED, DEFAULT_BATCH, FINALIZER, MESSAGE_SYNCED, NETWORK_NOT_FOUND,
    NETWORK_TERMINATING, NetworkContext, SUCCESS_SYNCED, reconcile,
};
pub use status::{EXHAUSTED, Findings, OVERLAPPING, READY};
pub use types::{
    GATEWAY_BROADCAST, GATEWAY_NETWORK, GATEWAY_OUTSIDE, IMMUTABLE, INVALID_CIDR, INVALID_EXCLUDE,
    INVALID_IP, Network, NetworkSpec, NetworkStatus,
};
pub use webhook::{NetworkValidator, overlap_detail, webhooks};

use crate::rbac::Access;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The operator's name in the registry and on the command line.
pub const NAME: &str = "network";

/// The CRDs this operator serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Network::crd()]
}

/// What the Network controller reads and writes: Networks (their finalizer, claims and status)
/// and pods (their address annotation).
pub fn permissions() -> Vec<Access> {
    vec![
        Access::watch::<Network>(),
        Access::on::<Network>(&["patch", "update"]),
        Access::status::<Network>(&["get", "patch", "update"]),
        Access::watch::<Pod>(),
        Access::on::<Pod>(&["patch"]),
    ]
}
