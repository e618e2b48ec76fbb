//! The pod policies of the GopherCon UK 2018 workshop (`policy.k8s-go.openshift.org/v1alpha1`),
//! enforced: HealthCheckPolicy (`hcp`: containers without liveness or readiness probes),
//! ContainerImagePolicy (`cip`: image references) and ResourcesPolicy (`rp`: requests and
//! limits). Each kind has its own operator and controller; a policy checks the pods of its
//! namespace (optionally narrowed by `podSelector`), labels or annotates the failing ones (and
//! only ever removes what it set), or deletes them, and reports counts in its status.
//!
//! | file | what it owns |
//! |---|---|
//! | `types.rs` | the three custom resources, their shared status, schemas and CEL rules |
//! | `image.rs` | image references by the Docker reference grammar |
//! | `quantity.rs` | Kubernetes quantities, compared exactly |
//! | `evaluate.rs` | the checks: whether a pod passes a policy, and why not |
//! | `marks.rs` | the keys a policy sets on pods and the marker that remembers them |
//! | `kinds.rs` | the trait the generic controller sees the three kinds through |
//! | `status.rs` | the status, its conditions and when `lastChecked` moves |
//! | `reconcile.rs` | one check of one policy: verdicts, writes, events, status, finalizer |
//! | `writes.rs` | the process's pod writer: every policy's marks on a pod merged into one write |
//! | `controller.rs` | the controller of one kind: what it watches |

pub mod image;
pub mod quantity;

mod controller;
mod evaluate;
mod kinds;
mod marks;
mod reconcile;
mod status;
mod types;
mod writes;

pub use controller::{POD_BATCH, controller};
pub use evaluate::{Check, Failure, InvalidSpec};
pub use kinds::{Enforcement, PolicyKind};
pub use marks::{LABEL_VALUE, Mark, marker_key};
pub use reconcile::{
    Changes, DELETED_BY_POLICY, FAILED_POLICY, FINALIZER, PolicyContext, PolicyError, apply,
    cleanup, policies_for_pod, reconcile,
};
pub use status::{CONFLICT, MAX_FAILING, READY, RECHECK};
pub use types::{
    ContainerImagePolicy, ContainerImagePolicySpec, EnforcementAction, FailingPod, GROUP,
    HealthCheckAction, HealthCheckPolicy, HealthCheckPolicySpec, ImageLabels, ImageRequirements,
    KEY_LENGTH_RULE, LABEL_KEY, PodCounts, PolicyStatus, ResourceRequirements, ResourcesLabels,
    ResourcesPolicy, ResourcesPolicySpec, Statistics,
};
pub use writes::{
    CONCURRENCY as WRITE_CONCURRENCY, GATHER, PodWrites, SharedPodWrites, WriteResult,
};

use crate::rbac::Access;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// What the controller of kind `K` reads and writes: its policies (and their finalizer and
/// status), and pods (read, patched for marks, deleted by the `kill`/`delete` actions).
pub fn permissions<K: PolicyKind>() -> Vec<Access> {
    vec![
        Access::watch::<K>(),
        Access::on::<K>(&["patch", "update"]),
        Access::status::<K>(&["get", "patch", "update"]),
        Access::watch::<Pod>(),
        Access::on::<Pod>(&["patch", "delete"]),
    ]
}

/// The CRD of kind `K`.
pub fn crds<K: PolicyKind + CustomResourceExt>() -> Vec<CustomResourceDefinition> {
    vec![K::crd()]
}
