//! The admissionregistration.k8s.io/v1 defaults (upstream's `pkg/apis/admissionregistration/v1`
//! `defaults.go` and the generated `SetObjectDefaults_*` that walk into nested types), applied
//! to an object right after it is decoded, as kube-apiserver's decoder applies them: what a
//! client reads back is what the admission engines act on.
//!
//! - a webhook (validating and mutating): `failurePolicy: Fail`, `matchPolicy: Equivalent`,
//!   `namespaceSelector: {}`, `objectSelector: {}`, `timeoutSeconds: 10`; a mutating one also
//!   `reinvocationPolicy: Never`; its `clientConfig.service.port: 443`; its rules'
//!   `scope: "*"`;
//! - a ValidatingAdmissionPolicy: `failurePolicy: Fail`, its `matchConstraints` as a
//!   `MatchResources`;
//! - a binding: its `matchResources` as a `MatchResources`;
//! - a `MatchResources`: `matchPolicy: Equivalent`, empty selectors, its (exclusion) rules'
//!   `scope: "*"`.
//!
//! `sideEffects` and `admissionReviewVersions` have no v1 default (they are required).

use serde_json::{Map, Value, json};

/// A webhook's `timeoutSeconds` when unset.
pub(crate) const DEFAULT_TIMEOUT_SECONDS: i32 = 10;
/// A service reference's `port` when unset.
pub(crate) const DEFAULT_SERVICE_PORT: i32 = 443;

/// `SetObjectDefaults_MutatingWebhookConfiguration` (`mutating`) or
/// `SetObjectDefaults_ValidatingWebhookConfiguration`.
pub(crate) fn default_webhook_configuration(obj: &mut Value, mutating: bool) {
    let hooks = obj.get_mut("webhooks").and_then(Value::as_array_mut);
    for hook in hooks.into_iter().flatten().filter_map(Value::as_object_mut) {
        default_webhook(hook, mutating);
    }
}

/// `SetDefaults_ValidatingWebhook` / `SetDefaults_MutatingWebhook`, then the webhook's service
/// reference and rules.
fn default_webhook(hook: &mut Map<String, Value>, mutating: bool) {
    hook.entry("failurePolicy").or_insert_with(|| json!("Fail"));
    hook.entry("matchPolicy")
        .or_insert_with(|| json!("Equivalent"));
    hook.entry("namespaceSelector").or_insert_with(|| json!({}));
    hook.entry("objectSelector").or_insert_with(|| json!({}));
    hook.entry("timeoutSeconds")
        .or_insert_with(|| json!(DEFAULT_TIMEOUT_SECONDS));
    if mutating {
        hook.entry("reinvocationPolicy")
            .or_insert_with(|| json!("Never"));
    }
    if let Some(service) = hook
        .get_mut("clientConfig")
        .and_then(|c| c.get_mut("service"))
        .and_then(Value::as_object_mut)
    {
        service
            .entry("port")
            .or_insert_with(|| json!(DEFAULT_SERVICE_PORT));
    }
    default_rules(hook.get_mut("rules"));
}

/// `SetDefaults_Rule` on each rule of a list: `scope: "*"`.
fn default_rules(rules: Option<&mut Value>) {
    let rules = rules.and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten().filter_map(Value::as_object_mut) {
        rule.entry("scope").or_insert_with(|| json!("*"));
    }
}

/// `SetDefaults_MatchResources`, then its rules' and exclusions' scope.
fn default_match_resources(m: &mut Map<String, Value>) {
    m.entry("matchPolicy")
        .or_insert_with(|| json!("Equivalent"));
    m.entry("namespaceSelector").or_insert_with(|| json!({}));
    m.entry("objectSelector").or_insert_with(|| json!({}));
    for key in ["resourceRules", "excludeResourceRules"] {
        default_rules(m.get_mut(key));
    }
}

/// `SetObjectDefaults_ValidatingAdmissionPolicy`.
pub(crate) fn default_policy(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("failurePolicy").or_insert_with(|| json!("Fail"));
    if let Some(m) = spec
        .get_mut("matchConstraints")
        .and_then(Value::as_object_mut)
    {
        default_match_resources(m);
    }
}

/// `SetObjectDefaults_ValidatingAdmissionPolicyBinding`.
pub(crate) fn default_binding(obj: &mut Value) {
    if let Some(m) = obj
        .pointer_mut("/spec/matchResources")
        .and_then(Value::as_object_mut)
    {
        default_match_resources(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_webhook_gets_the_v1_defaults() {
        let mut config = json!({"webhooks": [{
            "name": "a.example.com",
            "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }]});
        let mut validating = config.clone();
        default_webhook_configuration(&mut config, true);
        assert_eq!(
            config,
            json!({"webhooks": [{
                "name": "a.example.com",
                "clientConfig": {"service": {"namespace": "ns", "name": "svc", "port": 443}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["pods"], "scope": "*"}],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
                "timeoutSeconds": 10,
                "reinvocationPolicy": "Never",
            }]})
        );
        default_webhook_configuration(&mut validating, false);
        assert!(
            validating["webhooks"][0]
                .get("reinvocationPolicy")
                .is_none()
        );
        assert_eq!(validating["webhooks"][0]["timeoutSeconds"], 10);
    }

    #[test]
    fn what_is_set_is_kept() {
        let hook = json!({
            "name": "a.example.com",
            "clientConfig": {"url": "https://example.com/x"},
            "rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"],
                "resources": ["*"], "scope": "Namespaced"}],
            "failurePolicy": "Ignore",
            "matchPolicy": "Exact",
            "namespaceSelector": {"matchLabels": {"a": "b"}},
            "objectSelector": {"matchLabels": {"c": "d"}},
            "timeoutSeconds": 3,
            "reinvocationPolicy": "IfNeeded",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        });
        let mut config = json!({"webhooks": [hook.clone()]});
        default_webhook_configuration(&mut config, true);
        assert_eq!(config["webhooks"][0], hook);
    }
}
