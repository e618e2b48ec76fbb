//! The strategy Mutating- and ValidatingWebhookConfigurations share: their webhooks defaulted
//! on decode (`defaults.rs`), `metadata.generation` bumped when the webhooks change, updates
//! only with a resourceVersion (as upstream's strategy), and the webhooks validated on
//! create and update as kube-apiserver's `admissionregistration/validation` validates them, with
//! its messages and field paths. Each webhook: a fully qualified name (at least three
//! segments), its rules (operations, API groups and versions, resources with `*` and
//! subresources, scope), `failurePolicy`, `matchPolicy`, `sideEffects` (required; `None` or
//! `NoneOnDryRun` only), `timeoutSeconds` 1-30, label selectors, `reinvocationPolicy` (mutating),
//! exactly one of `clientConfig.url` / `clientConfig.service` (`admission::webhook::client_config`),
//! `matchConditions` (at most 64, qualified unique names, CEL that compiles); per configuration,
//! `admissionReviewVersions` with a version this server speaks, and unique webhook names.
//!
//! An update is held to what the stored configuration already met, as upstream ratchets: a
//! configuration stored with side effects, an unknown review version, duplicate names or a
//! label selector with an invalid value may be updated without fixing that, and unchanged
//! `matchConditions` are not compiled again. `caBundle` is not checked on write (nor is it
//! upstream): a bundle without a certificate fails the call (`failed calling webhook`).
//!
//! CEL: expressions are parsed, macro-expanded and checked against cel-go's limits; as no types
//! are declared for standalone expressions (see `crd::schema::cel::expression`), a reference to
//! an undeclared variable is found when the condition is evaluated, not here.

use super::defaults::default_webhook_configuration;
use crate::crd::schema::cel::expression::Expression;
use crate::crd::schema::field::{self, Bad};
use crate::crd::schema::objectmeta::dns1035_label_problems;
use crate::registry::apps::workload::label_selector_causes;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::validation::{dns1123_subdomain_problems, qualified_name_problems};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::collections::HashSet;

/// The AdmissionReview versions this server speaks (upstream's `AcceptedAdmissionReviewVersions`).
const REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];
/// Side effects a webhook created through admissionregistration.k8s.io/v1 may declare.
const NO_SIDE_EFFECTS: [&str; 2] = ["None", "NoneOnDryRun"];
/// Every side-effect class (accepted on update when the stored configuration has others).
const SIDE_EFFECTS: [&str; 4] = ["None", "NoneOnDryRun", "Some", "Unknown"];
const OPERATIONS: [&str; 5] = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const FAILURE_POLICIES: [&str; 2] = ["Fail", "Ignore"];
const MATCH_POLICIES: [&str; 2] = ["Equivalent", "Exact"];
const REINVOCATION_POLICIES: [&str; 2] = ["IfNeeded", "Never"];
const SCOPES: [&str; 3] = ["*", "Cluster", "Namespaced"];
/// Upstream's limit on a webhook's `matchConditions`.
const MAX_MATCH_CONDITIONS: usize = 64;

/// The strategy of a webhook configuration kind (`mutating` for MutatingWebhookConfiguration).
pub(crate) struct WebhookConfigurationStrategy<K> {
    typed: Typed<K>,
    mutating: bool,
}

impl<K> WebhookConfigurationStrategy<K> {
    /// Wraps `typed` with the webhook rules; `mutating` adds `reinvocationPolicy`.
    pub(crate) fn new(typed: Typed<K>, mutating: bool) -> Self {
        WebhookConfigurationStrategy { typed, mutating }
    }
}

impl<K> Strategy for WebhookConfigurationStrategy<K>
where
    K: k8s_openapi::Resource
        + DeserializeOwned
        + Serialize
        + schemars::JsonSchema
        + Send
        + Sync
        + 'static,
{
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let mut decoded = self.typed.decode(value)?;
        default_webhook_configuration(&mut decoded.value, self.mutating);
        Ok(decoded)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn allow_unconditional_update(&self) -> bool {
        false
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validate(obj, self.mutating, &Options::CREATE)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validate(new, self.mutating, &Options::for_update(new, old))
    }
}

/// What the rules demand (upstream's `validationOptions`): all on create, relaxed on update
/// where the stored configuration already broke the rule.
struct Options {
    require_no_side_effects: bool,
    require_recognized_review_version: bool,
    require_unique_names: bool,
    allow_invalid_label_values: bool,
    skip_match_conditions: bool,
}

impl Options {
    const CREATE: Options = Options {
        require_no_side_effects: true,
        require_recognized_review_version: true,
        require_unique_names: true,
        allow_invalid_label_values: false,
        skip_match_conditions: false,
    };

    fn for_update(new: &Value, old: &Value) -> Options {
        let old_hooks = webhooks(old);
        let new_hooks = webhooks(new);
        let mut names = HashSet::new();
        Options {
            require_no_side_effects: old_hooks
                .iter()
                .all(|h| NO_SIDE_EFFECTS.contains(&text(h, "sideEffects"))),
            require_recognized_review_version: old_hooks.iter().all(|h| {
                let versions = strings(h, "admissionReviewVersions");
                versions.is_empty() || versions.iter().any(|v| REVIEW_VERSIONS.contains(v))
            }),
            require_unique_names: old_hooks.iter().all(|h| names.insert(text(h, "name"))),
            allow_invalid_label_values: old_hooks.iter().any(|h| {
                ["namespaceSelector", "objectSelector"].iter().any(|k| {
                    h.get(*k)
                        .filter(|s| s.is_object())
                        .is_some_and(|s| !label_selector_causes(s, "").is_empty())
                })
            }),
            skip_match_conditions: old_hooks.len() == new_hooks.len()
                && old_hooks
                    .iter()
                    .zip(new_hooks)
                    .all(|(o, n)| o.get("matchConditions") == n.get("matchConditions")),
        }
    }
}

/// The configuration's webhooks.
fn webhooks(obj: &Value) -> &[Value] {
    obj.get("webhooks")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A string field, `""` when unset (the typed decode makes a missing required string empty).
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A list of strings, empty when unset.
pub(crate) fn strings<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap_or("")).collect())
        .unwrap_or_default()
}

/// Go's `%#v` of a slice of strings of type `ty` (`[]string{"a", "b"}`).
pub(crate) fn go_slice(ty: &str, items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| field::go_quote(s)).collect();
    format!("[]{ty}{{{}}}", quoted.join(", "))
}

/// Every rule of a configuration, in upstream's order.
fn validate(obj: &Value, mutating: bool, opts: &Options) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, hook) in webhooks(obj).iter().enumerate() {
        let at = field::index("webhooks", i);
        webhook(hook, mutating, opts, &at, &mut out);
        review_versions(
            &strings(hook, "admissionReviewVersions"),
            opts.require_recognized_review_version,
            &field::child(&at, "admissionReviewVersions"),
            &mut out,
        );
        let name = text(hook, "name");
        if opts.require_unique_names && !name.is_empty() && !names.insert(name) {
            out.push(field::duplicate(&field::child(&at, "name"), Bad::Str(name)));
        }
    }
    out
}

/// One webhook (`validateValidatingWebhook` / `validateMutatingWebhook`).
fn webhook(hook: &Value, mutating: bool, opts: &Options, at: &str, out: &mut Vec<FieldCause>) {
    fully_qualified_name(&field::child(at, "name"), text(hook, "name"), out);
    let rules = hook.get("rules").and_then(Value::as_array);
    for (i, r) in rules.into_iter().flatten().enumerate() {
        rule_with_operations(r, &field::index(&field::child(at, "rules"), i), out);
    }
    one_of(hook, "failurePolicy", &FAILURE_POLICIES, at, out);
    one_of(hook, "matchPolicy", &MATCH_POLICIES, at, out);
    let allowed: &[&str] = if opts.require_no_side_effects {
        &NO_SIDE_EFFECTS
    } else {
        &SIDE_EFFECTS
    };
    let side_effects = text(hook, "sideEffects");
    let path = field::child(at, "sideEffects");
    if side_effects.is_empty() {
        out.push(field::required(
            &path,
            &format!("must specify one of {}", allowed.join(", ")),
        ));
    } else if !allowed.contains(&side_effects) {
        out.push(field::not_supported(&path, Bad::Str(side_effects), allowed));
    }
    if let Some(t) = hook.get("timeoutSeconds").and_then(Value::as_i64)
        && !(1..=30).contains(&t)
    {
        out.push(field::invalid(
            &field::child(at, "timeoutSeconds"),
            Bad::Int(t),
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    for key in ["namespaceSelector", "objectSelector"] {
        if let Some(selector) = hook.get(key).filter(|s| s.is_object()) {
            let path = field::child(at, key);
            let causes = label_selector_causes(selector, &path);
            out.extend(causes.into_iter().filter(|c| {
                // Lenient selectors let values through, not operators or keys.
                !(opts.allow_invalid_label_values && c.field.contains("].values["))
            }));
        }
    }
    if mutating {
        one_of(hook, "reinvocationPolicy", &REINVOCATION_POLICIES, at, out);
    }
    client_config(
        hook.get("clientConfig").unwrap_or(&Value::Null),
        &field::child(at, "clientConfig"),
        out,
    );
    if !opts.skip_match_conditions {
        match_conditions(hook, &field::child(at, "matchConditions"), out);
    }
}

/// An optional enum field: NotSupported when set to something else.
fn one_of(hook: &Value, key: &str, supported: &[&str], at: &str, out: &mut Vec<FieldCause>) {
    if let Some(v) = hook.get(key).and_then(Value::as_str)
        && !supported.contains(&v)
    {
        out.push(field::not_supported(
            &field::child(at, key),
            Bad::Str(v),
            supported,
        ));
    }
}

/// `IsFullyQualifiedName`: a DNS subdomain of at least three segments.
fn fully_qualified_name(path: &str, name: &str, out: &mut Vec<FieldCause>) {
    if name.is_empty() {
        out.push(field::required(path, ""));
        return;
    }
    let problems = dns1123_subdomain_problems(name);
    if !problems.is_empty() {
        out.push(field::invalid(path, Bad::Str(name), &problems.join(",")));
    } else if name.split('.').count() < 3 {
        out.push(field::invalid(
            path,
            Bad::Str(name),
            "should be a domain with at least three segments separated by dots",
        ));
    }
}

/// `validateRuleWithOperations` then `validateRule` (subresources allowed).
pub(crate) fn rule_with_operations(rule: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let operations = strings(rule, "operations");
    let path = field::child(at, "operations");
    if operations.is_empty() {
        out.push(field::required(&path, ""));
    }
    if operations.len() > 1 && operations.contains(&"*") {
        out.push(field::invalid(
            &path,
            Bad::Raw(&go_slice(
                "admissionregistration.OperationType",
                &operations,
            )),
            "if '*' is present, must not specify other operations",
        ));
    }
    for (i, op) in operations.iter().enumerate() {
        if !OPERATIONS.contains(op) {
            out.push(field::not_supported(
                &field::index(&path, i),
                Bad::Str(op),
                &OPERATIONS,
            ));
        }
    }
    let groups = strings(rule, "apiGroups");
    let path = field::child(at, "apiGroups");
    if groups.is_empty() {
        out.push(field::required(&path, ""));
    }
    if groups.len() > 1 && groups.contains(&"*") {
        out.push(field::invalid(
            &path,
            Bad::Raw(&go_slice("string", &groups)),
            "if '*' is present, must not specify other API groups",
        ));
    }
    let versions = strings(rule, "apiVersions");
    let path = field::child(at, "apiVersions");
    if versions.is_empty() {
        out.push(field::required(&path, ""));
    }
    if versions.len() > 1 && versions.contains(&"*") {
        out.push(field::invalid(
            &path,
            Bad::Raw(&go_slice("string", &versions)),
            "if '*' is present, must not specify other API versions",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v.is_empty() {
            out.push(field::required(&field::index(&path, i), ""));
        }
    }
    resources(
        &strings(rule, "resources"),
        &field::child(at, "resources"),
        out,
    );
    if let Some(scope) = rule.get("scope").and_then(Value::as_str)
        && !SCOPES.contains(&scope)
    {
        out.push(field::not_supported(
            &field::child(at, "scope"),
            Bad::Str(scope),
            &SCOPES,
        ));
    }
}

/// `validateResources`: `x`, `x/y`, `x/*`, `*/y`, `*` and `*/*`, without overlaps a wildcard
/// already covers.
fn resources(resources: &[&str], path: &str, out: &mut Vec<FieldCause>) {
    if resources.is_empty() {
        out.push(field::required(path, ""));
    }
    let mut with_any_subresource = HashSet::new(); // x/*
    let mut for_any_resource = HashSet::new(); // */x
    let (mut double_wildcard, mut single_wildcard, mut plain) = (false, false, false);
    for (i, entry) in resources.iter().enumerate() {
        let at = field::index(path, i);
        if entry.is_empty() {
            out.push(field::required(&at, ""));
            continue;
        }
        double_wildcard |= *entry == "*/*";
        single_wildcard |= *entry == "*";
        let Some((res, sub)) = entry.split_once('/') else {
            // As upstream: the last entry without a subresource decides.
            plain = *entry != "*";
            continue;
        };
        if with_any_subresource.contains(res) {
            out.push(field::invalid(
                &at,
                Bad::Str(entry),
                &format!("if '{res}/*' is present, must not specify {entry}"),
            ));
        }
        if for_any_resource.contains(sub) {
            out.push(field::invalid(
                &at,
                Bad::Str(entry),
                &format!("if '*/{sub}' is present, must not specify {entry}"),
            ));
        }
        if sub == "*" {
            with_any_subresource.insert(res);
        }
        if res == "*" {
            for_any_resource.insert(sub);
        }
    }
    if resources.len() > 1 && double_wildcard {
        out.push(field::invalid(
            path,
            Bad::Raw(&go_slice("string", resources)),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single_wildcard && plain {
        out.push(field::invalid(
            path,
            Bad::Raw(&go_slice("string", resources)),
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
}

/// Exactly one of `url` and `service`, each checked as upstream's `util/webhook` does.
fn client_config(cc: &Value, path: &str, out: &mut Vec<FieldCause>) {
    use crate::admission::webhook::client_config::{validate_service, validate_url};
    let url = cc.get("url").and_then(Value::as_str);
    let service = cc.get("service").filter(|s| s.is_object());
    match (url, service) {
        (Some(url), None) => validate_url(&field::child(path, "url"), url, out),
        (None, Some(service)) => validate_service(&field::child(path, "service"), service, out),
        _ => out.push(field::required(
            path,
            "exactly one of url or service is required",
        )),
    }
}

/// `validateMatchConditions`: at most 64, each with a qualified name (unique) and an
/// expression that compiles.
fn match_conditions(hook: &Value, path: &str, out: &mut Vec<FieldCause>) {
    let conditions = hook
        .get("matchConditions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    match_conditions_with(conditions, path, out, &|expression| {
        Expression::compile(expression)
            .err()
            .map(|e| format!("compilation failed: {e}"))
    });
}

/// `validateMatchConditions` over `conditions`, `compile` saying what is wrong with an
/// expression (upstream's compile error detail), if anything (shared with
/// ValidatingAdmissionPolicies, whose compiler declares other variables).
pub(crate) fn match_conditions_with(
    conditions: &[Value],
    path: &str,
    out: &mut Vec<FieldCause>,
    compile: &dyn Fn(&str) -> Option<String>,
) {
    if conditions.len() > MAX_MATCH_CONDITIONS {
        out.push(field::too_many(
            path,
            conditions.len() as i64,
            MAX_MATCH_CONDITIONS as i64,
        ));
    }
    let mut names = HashSet::new();
    for (i, condition) in conditions.iter().enumerate() {
        let at = field::index(path, i);
        let expression = text(condition, "expression").trim();
        let expression_path = field::child(&at, "expression");
        if expression.is_empty() {
            out.push(field::required(&expression_path, ""));
        } else if let Some(e) = compile(expression) {
            out.push(field::invalid(&expression_path, Bad::Str(expression), &e));
        }
        let name = text(condition, "name");
        let name_path = field::child(&at, "name");
        if name.is_empty() {
            out.push(field::required(&name_path, ""));
        } else {
            for problem in qualified_name_problems(name) {
                out.push(field::invalid(&name_path, Bad::Str(name), &problem));
            }
            if !names.insert(name) {
                out.push(field::duplicate(&name_path, Bad::Str(name)));
            }
        }
    }
}

/// `validateAdmissionReviewVersions`: at least one, no duplicates, DNS-1035 labels, and (when
/// required) one this server speaks.
fn review_versions(versions: &[&str], require_known: bool, path: &str, out: &mut Vec<FieldCause>) {
    if versions.is_empty() {
        out.push(field::required(
            path,
            &format!("must specify one of {}", REVIEW_VERSIONS.join(", ")),
        ));
        return;
    }
    let mut seen = HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        let at = field::index(path, i);
        if !seen.insert(*v) {
            out.push(field::invalid(&at, Bad::Str(v), "duplicate version"));
            continue;
        }
        for problem in dns1035_label_problems(v) {
            out.push(field::invalid(&at, Bad::Str(v), &problem));
        }
    }
    if require_known && !versions.iter().any(|v| REVIEW_VERSIONS.contains(v)) {
        out.push(field::invalid(
            path,
            Bad::Raw(&go_slice("string", versions)),
            &format!(
                "must include at least one of {}",
                REVIEW_VERSIONS.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "name": "check.example.com",
            "clientConfig": {"url": "https://127.0.0.1:9443/validate"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        })
    }

    fn messages(hooks: Vec<Value>, mutating: bool) -> Vec<String> {
        validate(&json!({"webhooks": hooks}), mutating, &Options::CREATE)
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    fn with(changes: Value) -> Value {
        let mut hook = good();
        for (k, v) in changes.as_object().unwrap() {
            hook[k] = v.clone();
        }
        hook
    }

    #[test]
    fn a_complete_webhook_is_valid() {
        assert!(messages(vec![good()], true).is_empty());
    }

    #[test]
    fn names_need_three_segments_and_are_unique() {
        assert_eq!(
            messages(
                vec![with(json!({"name": "example.com"})), good(), good()],
                false
            ),
            vec![
                r#"webhooks[0].name: Invalid value: "example.com": should be a domain with at least three segments separated by dots"#,
                r#"webhooks[2].name: Duplicate value: "check.example.com""#,
            ]
        );
        assert_eq!(
            messages(vec![with(json!({"name": ""}))], false),
            vec!["webhooks[0].name: Required value"]
        );
    }

    #[test]
    fn rules_are_checked_as_upstream() {
        let rule = json!([{"operations": ["*", "PATCH"], "apiGroups": ["*", "apps"], "apiVersions": [""],
            "resources": ["pods/*", "pods/status", "*", "deployments"], "scope": "Global"}]);
        assert_eq!(
            messages(vec![with(json!({"rules": rule}))], false),
            vec![
                r#"webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType{"*", "PATCH"}: if '*' is present, must not specify other operations"#,
                r#"webhooks[0].rules[0].operations[1]: Unsupported value: "PATCH": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE""#,
                r#"webhooks[0].rules[0].apiGroups: Invalid value: []string{"*", "apps"}: if '*' is present, must not specify other API groups"#,
                r#"webhooks[0].rules[0].apiVersions[0]: Required value"#,
                r#"webhooks[0].rules[0].resources[1]: Invalid value: "pods/status": if 'pods/*' is present, must not specify pods/status"#,
                r#"webhooks[0].rules[0].resources: Invalid value: []string{"pods/*", "pods/status", "*", "deployments"}: if '*' is present, must not specify other resources without subresources"#,
                r#"webhooks[0].rules[0].scope: Unsupported value: "Global": supported values: "*", "Cluster", "Namespaced""#,
            ]
        );
        let double = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*/*", "*/status"]}]);
        assert_eq!(
            messages(vec![with(json!({"rules": double}))], false),
            vec![
                r#"webhooks[0].rules[0].resources[1]: Invalid value: "*/status": if '*/*' is present, must not specify */status"#,
                r#"webhooks[0].rules[0].resources: Invalid value: []string{"*/*", "*/status"}: if '*/*' is present, must not specify other resources"#,
            ]
        );
    }

    #[test]
    fn policies_side_effects_timeouts_and_review_versions() {
        let hook = with(
            json!({"failurePolicy": "Never", "matchPolicy": "Loose", "sideEffects": "Some",
            "timeoutSeconds": 31, "reinvocationPolicy": "Always", "admissionReviewVersions": ["v2", "v2"]}),
        );
        assert_eq!(
            messages(vec![hook], true),
            vec![
                r#"webhooks[0].failurePolicy: Unsupported value: "Never": supported values: "Fail", "Ignore""#,
                r#"webhooks[0].matchPolicy: Unsupported value: "Loose": supported values: "Equivalent", "Exact""#,
                r#"webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun""#,
                r#"webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"#,
                r#"webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never""#,
                r#"webhooks[0].admissionReviewVersions[1]: Invalid value: "v2": duplicate version"#,
                r#"webhooks[0].admissionReviewVersions: Invalid value: []string{"v2", "v2"}: must include at least one of v1, v1beta1"#,
            ]
        );
        let bare = with(json!({"sideEffects": null, "admissionReviewVersions": []}));
        assert_eq!(
            messages(vec![bare], false),
            vec![
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
            ]
        );
    }

    #[test]
    fn client_config_is_exactly_one_of_url_or_service() {
        let both =
            json!({"url": "https://a.example.com", "service": {"name": "s", "namespace": "n"}});
        assert_eq!(
            messages(vec![with(json!({"clientConfig": both}))], false),
            vec![
                "webhooks[0].clientConfig: Required value: exactly one of url or service is required"
            ]
        );
        let svc = json!({"service": {"name": "s", "namespace": "n", "port": 70000}});
        assert_eq!(
            messages(vec![with(json!({"clientConfig": svc}))], false),
            vec![
                "webhooks[0].clientConfig.service.port: Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive"
            ]
        );
        let url = json!({"url": "http://u@h/x"});
        assert_eq!(
            messages(vec![with(json!({"clientConfig": url}))], false),
            vec![
                r#"webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#,
                r#"webhooks[0].clientConfig.url: Invalid value: "u": user information is not permitted in the URL"#,
            ]
        );
    }

    #[test]
    fn selectors_and_match_conditions() {
        let hook = with(json!({
            "objectSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b c"]}]},
            "matchConditions": [
                {"name": "ok", "expression": "object != null"},
                {"name": "ok", "expression": "object.("},
                {"name": "bad name!", "expression": " "},
            ],
        }));
        let out = messages(vec![hook.clone()], false);
        assert!(out[0].starts_with(r#"webhooks[0].objectSelector.matchExpressions[0].values[0]: Invalid value: "b c": a valid label must be"#), "{out:?}");
        assert!(out[1].starts_with(r#"webhooks[0].matchConditions[1].expression: Invalid value: "object.(": compilation failed: ERROR: <input>:1:8: Syntax error"#), "{out:?}");
        assert_eq!(
            out[2],
            r#"webhooks[0].matchConditions[1].name: Duplicate value: "ok""#
        );
        assert_eq!(
            out[3],
            "webhooks[0].matchConditions[2].expression: Required value"
        );
        assert!(out[4].starts_with(r#"webhooks[0].matchConditions[2].name: Invalid value: "bad name!": name part must consist of"#));
        assert_eq!(out.len(), 5);
        let many: Vec<Value> = (0..65)
            .map(|i| json!({"name": format!("c{i}"), "expression": "true"}))
            .collect();
        assert_eq!(
            messages(vec![with(json!({"matchConditions": many}))], false),
            vec!["webhooks[0].matchConditions: Too many: 65: must have at most 64 items"]
        );
    }

    #[test]
    fn updates_keep_what_the_stored_configuration_allowed() {
        let old = json!({"webhooks": [
            with(json!({"sideEffects": "Some", "objectSelector": {"matchLabels": {}, "matchExpressions": [{"key": "a", "operator": "In", "values": ["b c"]}]},
                "matchConditions": [{"name": "c", "expression": "object.("}]})),
            good(),
        ]});
        let mut new = old.clone();
        new["webhooks"][0]["timeoutSeconds"] = json!(5);
        let opts = Options::for_update(&new, &old);
        assert!(validate(&new, false, &opts).is_empty());
        // A changed condition is compiled again; the duplicate name stays allowed.
        new["webhooks"][0]["matchConditions"][0]["name"] = json!("d");
        let out: Vec<String> = validate(&new, false, &Options::for_update(&new, &old))
            .into_iter()
            .map(|c| c.message)
            .collect();
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("compilation failed"));
    }
}
