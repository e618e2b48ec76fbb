//! The rule validating webhook: a rule may not list its own namespace as a target (the sources
//! live there; the controller would only report `SameNamespace`), so the API server refuses it
//! with a 422 naming each offending entry of `spec.namespaces`.

use super::ConfigurationDistributionRule;
use crate::webhooks::{Admission, Webhook, field_error, invalid};
use kube::ResourceExt;
use kubeforge_runtime::webhook::{BoxFuture, Denied, Validator, Warnings};

/// The detail of a target that is the rule's own namespace.
pub const OWN_NAMESPACE: &str =
    "must not be the rule's own namespace, which holds the sources it distributes";

/// Checks rules as they are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleValidator;

/// The refusal of `rule`, if it lists its own namespace.
pub fn validate(rule: &ConfigurationDistributionRule) -> Result<Warnings, Denied> {
    let own = rule.namespace().unwrap_or_default();
    let errors: Vec<String> = rule
        .spec
        .namespaces
        .iter()
        .enumerate()
        .filter(|(_, target)| **target == own)
        .map(|(i, target)| field_error(&format!("spec.namespaces[{i}]"), target, OWN_NAMESPACE))
        .collect();
    if errors.is_empty() {
        Ok(Vec::new())
    } else {
        Err(invalid(rule, &errors))
    }
}

impl Validator<ConfigurationDistributionRule> for RuleValidator {
    fn validate_create<'a>(
        &'a self,
        rule: &'a ConfigurationDistributionRule,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move { validate(rule) })
    }

    fn validate_update<'a>(
        &'a self,
        _old: &'a ConfigurationDistributionRule,
        rule: &'a ConfigurationDistributionRule,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move { validate(rule) })
    }
}

/// The codis operator's webhooks: the rule validator.
pub fn webhooks() -> Vec<Webhook> {
    vec![Webhook::of::<ConfigurationDistributionRule>(
        Admission::Validating,
        |server, path, _| server.validator::<ConfigurationDistributionRule, _>(path, RuleValidator),
    )]
}
