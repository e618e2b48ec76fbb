//! The registry: one home per built-in resource (kube-apiserver's `pkg/registry/<group>/<resource>`).
//!
//! `registry/<group>/<resource>.rs` holds everything particular to one resource: its row (names,
//! scope, subresources), its strategy (defaulting, validation, update and status rules, selectable
//! fields), its table columns, and how it is answered when it is not stored (the reviews). The
//! generic request path (`http/`, `rest/`) names no resource. [`builtin_resources`] is the one
//! table that assembles the rows: adding a built-in type is one file plus one line there.

pub(crate) mod entry;

pub mod apiextensions {
    //! apiextensions.k8s.io/v1.
    pub(crate) mod customresourcedefinitions;
}
pub(crate) mod admissionregistration;
pub(crate) mod apiregistration;
pub mod apps;
pub(crate) mod authentication;
pub(crate) mod authorization;
pub mod batch;
pub mod coordination {
    //! coordination.k8s.io/v1.
    pub(crate) mod leases;
}
pub(crate) mod autoscaling;
pub(crate) mod certificates;
pub mod core;
pub(crate) mod discovery;
pub mod events_k8s_io {
    //! events.k8s.io/v1.
    pub(crate) mod events;
}
pub(crate) mod flowcontrol;
pub(crate) mod networking;
pub(crate) mod node;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod scheduling;
pub(crate) mod storage;

use crate::fieldpath::markers::Markers;
use crate::resource::ResourceType;

/// Every built-in resource the server serves, in discovery order.
pub fn builtin_resources() -> Vec<ResourceType> {
    vec![
        core::namespaces::resource(),
        core::configmaps::resource(),
        core::secrets::resource(),
        core::pods::resource(),
        core::services::resource(),
        core::endpoints::resource(),
        core::events::resource(),
        core::serviceaccounts::resource(),
        core::nodes::resource(),
        core::persistentvolumes::resource(),
        core::persistentvolumeclaims::resource(),
        core::replicationcontrollers::resource(),
        core::podtemplates::resource(),
        core::limitranges::resource(),
        core::resourcequotas::resource(),
        apiregistration::apiservices::resource(),
        apps::deployments::resource(),
        apps::replicasets::resource(),
        apps::statefulsets::resource(),
        apps::daemonsets::resource(),
        apps::controllerrevisions::resource(),
        autoscaling::horizontalpodautoscalers::resource(),
        autoscaling::horizontalpodautoscalers::resource_v1(),
        policy::poddisruptionbudgets::resource(),
        networking::ingresses::resource(),
        networking::ingressclasses::resource(),
        networking::networkpolicies::resource(),
        networking::servicecidrs::resource(),
        networking::ipaddresses::resource(),
        discovery::endpointslices::resource(),
        storage::storageclasses::resource(),
        storage::csidrivers::resource(),
        storage::csinodes::resource(),
        storage::volumeattachments::resource(),
        storage::csistoragecapacities::resource(),
        scheduling::priorityclasses::resource(),
        node::runtimeclasses::resource(),
        certificates::certificatesigningrequests::resource(),
        admissionregistration::validatingwebhookconfigurations::resource(),
        admissionregistration::mutatingwebhookconfigurations::resource(),
        admissionregistration::validatingadmissionpolicies::resource(),
        admissionregistration::validatingadmissionpolicybindings::resource(),
        flowcontrol::flowschemas::resource(),
        flowcontrol::prioritylevelconfigurations::resource(),
        batch::jobs::resource(),
        batch::cronjobs::resource(),
        coordination::leases::resource(),
        events_k8s_io::events::resource(),
        rbac::roles::resource(),
        rbac::rolebindings::resource(),
        rbac::clusterroles::resource(),
        rbac::clusterrolebindings::resource(),
        authorization::selfsubjectaccessreviews::resource(),
        authorization::selfsubjectrulesreviews::resource(),
        authorization::subjectaccessreviews::resource(),
        authorization::localsubjectaccessreviews::resource(),
        authentication::selfsubjectreviews::resource(),
        authentication::tokenreviews::resource(),
        apiextensions::customresourcedefinitions::resource(),
    ]
}

/// The list and map markers the registry's resources declare for the types they own (server-side
/// apply and managedFields read them through [`crate::fieldpath::Schema`]).
pub(crate) fn markers() -> &'static [&'static Markers] {
    &[
        &core::MARKERS,
        &core::namespaces::MARKERS,
        &core::pods::MARKERS,
        &core::services::MARKERS,
        &core::endpoints::MARKERS,
        &core::serviceaccounts::MARKERS,
        &core::nodes::MARKERS,
        &apps::MARKERS,
        &apps::deployments::MARKERS,
        &apps::replicasets::MARKERS,
        &rbac::MARKERS,
        &apiextensions::customresourcedefinitions::MARKERS,
    ]
}
