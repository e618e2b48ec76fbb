//! What the controller needs to know about each policy kind, behind one trait, so one generic
//! controller serves all three: the key and action it enforces, its check, its pod selector and
//! its status.

use super::evaluate::{Check, InvalidSpec};
use super::marks::Mark;
use super::types::{
    ContainerImagePolicy, EnforcementAction, HealthCheckAction, HealthCheckPolicy, PolicyStatus,
    ResourcesPolicy,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// What a policy does to the pods that fail it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// Put a mark (label or annotation) on them.
    Mark(Mark),
    /// Delete them.
    Delete,
}

/// One policy kind, as the generic controller sees it.
pub trait PolicyKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The lower-case kind: the operator's and controller's name, and the marker annotations'
    /// prefix.
    const NAME: &'static str;
    /// What the policy does to failing pods.
    fn enforcement(&self) -> Enforcement;
    /// The check, compiled; an error when the spec cannot be enforced.
    fn check(&self) -> Result<Check, InvalidSpec>;
    /// Which pods the policy covers (`None`: all of its namespace).
    fn pod_selector(&self) -> Option<&LabelSelector>;
    /// The status last written.
    fn policy_status(&self) -> Option<&PolicyStatus>;
}

impl PolicyKind for HealthCheckPolicy {
    const NAME: &'static str = "healthcheckpolicy";

    fn enforcement(&self) -> Enforcement {
        let key = self.spec.pod_label.clone();
        match self.spec.action {
            HealthCheckAction::Label => Enforcement::Mark(Mark::Label(key)),
            HealthCheckAction::Annotate => Enforcement::Mark(Mark::Annotation(key)),
            HealthCheckAction::Kill => Enforcement::Delete,
        }
    }

    fn check(&self) -> Result<Check, InvalidSpec> {
        Ok(Check::HealthChecks)
    }

    fn pod_selector(&self) -> Option<&LabelSelector> {
        self.spec.pod_selector.as_ref()
    }

    fn policy_status(&self) -> Option<&PolicyStatus> {
        self.status.as_ref()
    }
}

fn enforce(action: EnforcementAction, key: &str) -> Enforcement {
    match action {
        EnforcementAction::Label => Enforcement::Mark(Mark::Label(key.to_string())),
        EnforcementAction::Delete => Enforcement::Delete,
    }
}

impl PolicyKind for ContainerImagePolicy {
    const NAME: &'static str = "containerimagepolicy";

    fn enforcement(&self) -> Enforcement {
        enforce(self.spec.action, &self.spec.labels.pods)
    }

    fn check(&self) -> Result<Check, InvalidSpec> {
        Check::images(&self.spec.require)
    }

    fn pod_selector(&self) -> Option<&LabelSelector> {
        self.spec.pod_selector.as_ref()
    }

    fn policy_status(&self) -> Option<&PolicyStatus> {
        self.status.as_ref()
    }
}

impl PolicyKind for ResourcesPolicy {
    const NAME: &'static str = "resourcespolicy";

    fn enforcement(&self) -> Enforcement {
        enforce(self.spec.action, &self.spec.labels.pods)
    }

    fn check(&self) -> Result<Check, InvalidSpec> {
        Ok(Check::Resources(self.spec.require.clone()))
    }

    fn pod_selector(&self) -> Option<&LabelSelector> {
        self.spec.pod_selector.as_ref()
    }

    fn policy_status(&self) -> Option<&PolicyStatus> {
        self.status.as_ref()
    }
}
