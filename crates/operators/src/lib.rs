//! kubeforge-operators: the seed systems, built on kubeforge-runtime and kube-derive.
//!
//! | module | operator |
//! |---|---|
//! | [`foo`] | sample-controller's `Foo` (`samplecontroller.k8s.io/v1alpha1`): a Foo owns a Deployment |
//! | [`codis`] | `ConfigurationDistributionRule` (`k8s.tideland.dev/v1alpha1`): copies ConfigMaps/Secrets across namespaces |
//! | [`network`] | `Network` (`samplecrd.k8s.io/v1`): an IPAM handing pod addresses out of a CIDR |
//! | [`service_detector`] | the client-go meetup's pod→service detector: annotates Pods with their Services, Services with their Pod count |
//! | [`policy`] | `HealthCheckPolicy`, `ContainerImagePolicy`, `ResourcesPolicy` (`policy.k8s-go.openshift.org/v1alpha1`): pod policies, one operator each |
//! | [`eventhorizon`] | the CloudEvents router (`eventhorizon.acesso.io/v1alpha1`, crate `kubeforge-eventhorizon`) |
//!
//! Each operator declares its CRDs (from its Rust types) and its permissions ([`rbac::Access`]);
//! [`manifests`] turns those into what a cluster needs to run it; [`OPERATORS`] is the registry
//! the CLI selects from by name.

#![warn(missing_docs)]

pub mod codis;
pub mod eventhorizon;
pub mod events;
pub mod foo;
pub mod install;
pub mod manifests;
pub mod network;
pub mod policy;
pub mod rbac;
pub mod runner;
pub mod service_detector;
pub mod shutdown;
pub mod webhooks;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kubeforge_runtime::cache::IndexError;
use kubeforge_runtime::controller::RunnableController;
use kubeforge_runtime::manager::Manager;

/// One operator: what it is called, what it serves and what it may do.
#[derive(Debug)]
pub struct Operator {
    /// Its name on the command line (`kubeforge run --operators NAME`).
    pub name: &'static str,
    /// One line about what it does.
    pub summary: &'static str,
    /// Its CRDs, generated from its Rust types.
    pub crds: fn() -> Vec<CustomResourceDefinition>,
    /// What its controller reads and writes.
    pub permissions: fn() -> Vec<rbac::Access>,
    /// Builds its controller on a manager's client, informers and event recorders.
    pub controller: fn(&Manager) -> Result<RunnableController, IndexError>,
    /// Its admission webhooks, each declared once (none for most).
    pub webhooks: fn() -> Vec<webhooks::Webhook>,
}

/// No webhooks.
fn no_webhooks() -> Vec<webhooks::Webhook> {
    Vec::new()
}

/// Every operator kubeforge ships.
pub static OPERATORS: &[Operator] = &[
    Operator {
        name: foo::NAME,
        summary: "sample-controller's Foo: a Foo owns a Deployment of nginx Pods",
        crds: foo::crds,
        permissions: foo::permissions,
        controller: foo::controller,
        webhooks: foo::webhooks,
    },
    Operator {
        name: codis::NAME,
        summary: "ConfigurationDistributionRule: copies labelled ConfigMaps and Secrets into other namespaces",
        crds: codis::crds,
        permissions: codis::permissions,
        controller: codis::controller,
        webhooks: codis::webhooks,
    },
    Operator {
        name: network::NAME,
        summary: "Network: an IPAM giving annotated Pods a free address of a CIDR",
        crds: network::crds,
        permissions: network::permissions,
        controller: network::controller,
        webhooks: network::webhooks,
    },
    Operator {
        name: service_detector::NAME,
        summary: "pod→service detector: annotates each Pod with the Services selecting it, each Service with its Pod count, warns about Services selecting nothing",
        crds: service_detector::crds,
        permissions: service_detector::permissions,
        controller: service_detector::controller,
        webhooks: no_webhooks,
    },
    Operator {
        name: <policy::HealthCheckPolicy as policy::PolicyKind>::NAME,
        summary: "HealthCheckPolicy: labels, annotates or kills pods whose containers lack liveness or readiness probes",
        crds: policy::crds::<policy::HealthCheckPolicy>,
        permissions: policy::permissions::<policy::HealthCheckPolicy>,
        controller: policy::controller::<policy::HealthCheckPolicy>,
        webhooks: no_webhooks,
    },
    Operator {
        name: <policy::ContainerImagePolicy as policy::PolicyKind>::NAME,
        summary: "ContainerImagePolicy: labels or deletes pods whose images lack a registry, miss a regex or use latest",
        crds: policy::crds::<policy::ContainerImagePolicy>,
        permissions: policy::permissions::<policy::ContainerImagePolicy>,
        controller: policy::controller::<policy::ContainerImagePolicy>,
        webhooks: no_webhooks,
    },
    Operator {
        name: <policy::ResourcesPolicy as policy::PolicyKind>::NAME,
        summary: "ResourcesPolicy: labels or deletes pods whose containers lack requests or limits, or request too much",
        crds: policy::crds::<policy::ResourcesPolicy>,
        permissions: policy::permissions::<policy::ResourcesPolicy>,
        controller: policy::controller::<policy::ResourcesPolicy>,
        webhooks: no_webhooks,
    },
    Operator {
        name: eventhorizon::NAME,
        summary: "eventhorizon: a CloudEvents router (HTTP in; Fluentd Forward, stdout, HTTP out) configured by four CRDs",
        crds: eventhorizon::crds,
        permissions: eventhorizon::permissions,
        controller: eventhorizon::controller,
        webhooks: no_webhooks,
    },
];

/// A name that is not an operator's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operator {name:?}; known operators: {known}")]
pub struct UnknownOperator {
    /// The name asked for.
    pub name: String,
    /// The names that exist, comma-separated.
    pub known: String,
}

/// The operator called `name`.
pub fn find(name: &str) -> Result<&'static Operator, UnknownOperator> {
    OPERATORS
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| UnknownOperator {
            name: name.to_string(),
            known: OPERATORS
                .iter()
                .map(|o| o.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The operators named in a comma-separated list (`foo,codis`), each once, in registry order;
/// an empty list or `all` selects every operator.
pub fn select(list: &str) -> Result<Vec<&'static Operator>, UnknownOperator> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || names == ["all"] {
        return Ok(OPERATORS.iter().collect());
    }
    for name in &names {
        find(name)?;
    }
    Ok(OPERATORS
        .iter()
        .filter(|o| names.contains(&o.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_are_selected_by_name() {
        assert_eq!(select("").unwrap().len(), OPERATORS.len());
        assert_eq!(select("all").unwrap().len(), OPERATORS.len());
        let names: Vec<_> = select("codis, foo,codis")
            .unwrap()
            .iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["foo", "codis"]);
        let error = select("foo,bar").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown operator \"bar\"; known operators: foo, codis, network, service-detector, healthcheckpolicy, containerimagepolicy, resourcespolicy, eventhorizon"
        );
    }
}
