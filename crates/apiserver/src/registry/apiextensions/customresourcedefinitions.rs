//! CustomResourceDefinitions (apiextensions.k8s.io/v1): the row; the strategy, validation and
//! controller are the [`crate::crd`] module.

use crate::crd::CrdStrategy;
use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// `customresourcedefinitions` (apiextensions.k8s.io/v1, `crd`, `crds`).
pub(crate) fn resource() -> ResourceType {
    entry(
        "customresourcedefinitions",
        "customresourcedefinition",
        false,
    )
    .short(&["crd", "crds"])
    .categories(&["api-extensions"])
    .status()
    .settled_by(crate::crd::controller::settled)
    .build::<CustomResourceDefinition>(CrdStrategy::new())
}

/// The list markers of the CustomResourceDefinition types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        (
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
            "conditions",
            &["type"],
        ),
        (
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            "x-kubernetes-validations",
            &["rule"],
        ),
    ],
    ..Markers::NONE
};
