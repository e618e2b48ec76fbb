//! The pod→service detector (level 3 of the client-go meetup talk, which stopped at the title):
//! for every Pod, the Services of its namespace whose non-empty `spec.selector` is a subset of
//! the Pod's labels, written where users look.
//!
//! - Pod annotation `kubeforge.dev/services: "svc-a,svc-b"` (sorted; absent when none), written
//!   only when it changes.
//! - Service annotation `kubeforge.dev/selected-pods: "<count>"`, written only when it changes.
//! - A `Warning` event `SelectorMatchesNoPods` on a Service whose selector has matched no Pod for
//!   longer than the grace period ([`Options::orphan_grace`], `--orphan-grace`, default 60 s):
//!   the classic misconfiguration of a typo in a selector.
//! - Gauges `service_detector_pods_without_service` and `service_detector_services_without_pods`.
//!
//! A Pod change re-evaluates that Pod and the Services its old or new labels match; a Service
//! change re-evaluates only the Pods its old or new selector matches. "Old" is read from what the
//! detector last wrote (a Pod's annotation names the Services that matched it), so nothing is
//! remembered in memory that a restart would lose.
//!
//! | file | what it owns |
//! |---|---|
//! | `index.rs` | the indexes: Pods by label and by annotated Service, Services by selector label |
//! | `reconcile.rs` | one Pod's annotation, one Service's count and orphan warning |
//! | `metrics.rs` | the two gauges |
//! | `controller.rs` | the controller: one work queue for Pods and Services, what enqueues what |

mod controller;
mod index;
mod metrics;
mod reconcile;

pub use controller::{CONTROLLER_NAME, controller};
pub use index::{selected_by, selector};
pub use metrics::DetectorMetrics;
pub use reconcile::{DetectorContext, Target, reconcile};

use crate::rbac::Access;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use std::time::Duration;

/// The operator's name in the registry and on the command line.
pub const NAME: &str = "service-detector";
/// The Pod annotation listing the Services that select the Pod.
pub const SERVICES_ANNOTATION: &str = "kubeforge.dev/services";
/// The Service annotation counting the Pods it selects.
pub const SELECTED_PODS_ANNOTATION: &str = "kubeforge.dev/selected-pods";
/// The reason of the warning about a Service that selects no Pod.
pub const REASON_NO_PODS: &str = "SelectorMatchesNoPods";

/// How the detector behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long a Service's selector may match no Pod before a warning is published.
    pub orphan_grace: Duration,
}

impl Default for Options {
    /// A minute of grace (a rollout replaces all Pods well within it).
    fn default() -> Self {
        Options {
            orphan_grace: Duration::from_secs(60),
        }
    }
}

/// The detector serves no CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    Vec::new()
}

/// What the detector reads and writes: it watches Pods and Services and patches their annotations.
pub fn permissions() -> Vec<Access> {
    vec![
        Access::watch::<Pod>(),
        Access::on::<Pod>(&["patch"]),
        Access::watch::<Service>(),
        Access::on::<Service>(&["patch"]),
    ]
}
