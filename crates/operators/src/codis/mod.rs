//! ConfigurationDistributionRule ("codis"): a rule copies the ConfigMaps and/or Secrets of its
//! namespace that carry the label `rule=<selector>` into the namespaces it lists, keeps the
//! copies identical to their sources, and removes copies nobody wants any more.
//!
//! | file | what it owns |
//! |---|---|
//! | `types.rs` | the custom resource and its schema |
//! | `copy.rs` | what a copy is: content, marks of management, selection of sources |
//! | `reconcile.rs` | one sync of one rule: plan, writes, cleanup, finalizer |
//! | `controller.rs` | the controller: what it watches and how changes map to rules |
//! | `status.rs` | the status and its `Ready` condition from what a sync found |
//! | `webhook.rs` | the validating webhook refusing a rule that targets its own namespace |

mod controller;
mod copy;
mod reconcile;
mod status;
mod types;
mod webhook;

pub use controller::{CONTROLLER_NAME, controller};
pub use copy::{
    Distributable, MANAGED_BY, MANAGED_BY_LABEL, RULE_ANNOTATION, SELECTOR_LABEL,
    SOURCE_ANNOTATION, managing_rule,
};
pub use reconcile::{
    COPIES_BY_RULE, Changes, CodisContext, CodisError, FINALIZER, RULES_BY_TARGET, add_indexes,
    apply, cleanup, reconcile, rules_for_namespace, rules_for_object,
};
pub use status::READY;
pub use types::{
    ConfigurationDistributionRule, DNS1123_LABEL, LABEL_VALUE, Mode, Problem, RuleSpec, RuleStatus,
};
pub use webhook::{OWN_NAMESPACE, RuleValidator, webhooks};

use crate::rbac::Access;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The operator's name in the registry and on the command line.
pub const NAME: &str = "codis";

/// The CRDs this operator serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ConfigurationDistributionRule::crd()]
}

/// What the rule controller reads and writes: rules (and their finalizer and status), sources and
/// copies of both kinds, namespaces (read only).
pub fn permissions() -> Vec<Access> {
    const WRITE: &[&str] = &["create", "update", "patch", "delete"];
    vec![
        Access::watch::<ConfigurationDistributionRule>(),
        Access::on::<ConfigurationDistributionRule>(&["patch", "update"]),
        Access::status::<ConfigurationDistributionRule>(&["get", "patch", "update"]),
        Access::watch::<ConfigMap>(),
        Access::on::<ConfigMap>(WRITE),
        Access::watch::<Secret>(),
        Access::on::<Secret>(WRITE),
        Access::watch::<Namespace>(),
    ]
}
