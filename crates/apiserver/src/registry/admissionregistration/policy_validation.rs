//! ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding validation on write, as
//! kube-apiserver's `ValidateValidatingAdmissionPolicy` and
//! `ValidateValidatingAdmissionPolicyBinding` (`pkg/apis/admissionregistration/validation`),
//! with their messages and field paths, after the v1 defaults (`defaults.rs`).
//!
//! A policy: `failurePolicy`, `paramKind` (a group version and a kind), `matchConstraints`
//! (required, with at least one resource rule; rules as the webhooks', `resourceNames` path
//! segments, strict label selectors), `matchConditions` (as the webhooks'), `variables` (CEL
//! identifiers), `validations` (an expression, a single-line `message`, a non-blank
//! `messageExpression`, a supported `reason`) or `auditAnnotations` (at most 20, keys that make
//! `<policy>/<key>` a qualified name, unique, value expressions of at most 5 KiB). Every
//! expression is compiled with the variables upstream declares for it (`object`, `oldObject`,
//! `request`, `namespaceObject`, `authorizer` but in message expressions, `params` with a
//! `paramKind`, `variables` with variables), an error reported as `compilation failed: …`;
//! an expression whose type is known and is not what it must give (bool, string, string or
//! null) as `must evaluate to …`. Types are as far as this server's checker knows them: what it
//! cannot type (`dyn`) passes, where cel-go may know better.
//!
//! A binding: `policyName`, `paramRef` (name or selector, `parameterNotFoundAction`),
//! `matchResources` (reported under upstream's misspelt `spec.matchResouces`) and
//! `validationActions` (Deny, Warn, Audit; unique; not both Deny and Warn; at least one).
//!
//! An update of a policy whose `matchConditions` did not change does not compile them again.

use super::webhook_configurations::{
    go_slice, match_conditions_with, rule_with_operations, strings, text,
};
use crate::admission::validating_admission_policy::declarations::{request_ty, variables_ty};
use crate::crd::schema::cel::check::Ty;
use crate::crd::schema::cel::expression::Expression;
use crate::crd::schema::cel::values::RESERVED_WORDS;
use crate::crd::schema::field::{self, Bad};
use crate::crd::schema::objectmeta::dns1035_label_problems;
use crate::registry::apps::workload::label_selector_causes;
use crate::status::FieldCause;
use crate::validation::{dns1123_subdomain_problems, qualified_name_problems};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

const FAILURE_POLICIES: [&str; 2] = ["Fail", "Ignore"];
const MATCH_POLICIES: [&str; 2] = ["Equivalent", "Exact"];
const REASONS: [&str; 3] = ["Forbidden", "Invalid", "RequestEntityTooLarge"];
const ACTIONS: [&str; 3] = ["Audit", "Deny", "Warn"];
const NOT_FOUND_ACTIONS: [&str; 2] = ["Deny", "Allow"];
/// Upstream's `maxAuditAnnotations`.
const MAX_AUDIT_ANNOTATIONS: usize = 20;
/// Upstream's `maxAuditAnnotationValueExpressionLength`.
const MAX_VALUE_EXPRESSION: usize = 5 * 1024;

/// What a policy's expression may be compiled as.
#[derive(Clone, Copy, PartialEq)]
enum Returns {
    /// A bool (validations, match conditions).
    Bool,
    /// A string (message expressions).
    String,
    /// A string or null (audit annotations).
    StringOrNull,
}

/// The variables upstream declares for a policy's expressions.
#[derive(Clone, Copy)]
struct Declared<'v> {
    params: bool,
    authorizer: bool,
    /// `variables` (declared when the policy has variables), with the type of each.
    variables: Option<&'v Ty<'static>>,
}

impl Declared<'_> {
    /// The variables and their types: `request` as upstream's `AdmissionRequest`, `variables`
    /// with its fields, the others `dyn`.
    fn types(&self) -> HashMap<String, Ty<'static>> {
        let mut names = vec!["object", "oldObject", "namespaceObject"];
        if self.params {
            names.push("params");
        }
        if self.authorizer {
            names.push("authorizer");
        }
        let mut vars: HashMap<String, Ty<'static>> =
            names.iter().map(|n| (n.to_string(), Ty::Dyn)).collect();
        vars.insert("request".into(), request_ty());
        if let Some(variables) = self.variables {
            vars.insert("variables".into(), variables.clone());
        }
        vars
    }
}

/// Upstream's compile error detail for `src`, if it has one.
fn compile(src: &str, declared: Declared<'_>, returns: Returns) -> Option<String> {
    match Expression::output_type(src, declared.types()) {
        Ok(ty) => returns_problem(&ty, returns),
        Err(e) => Some(compile_failed(&e)),
    }
}

/// The detail of an expression that does not compile.
fn compile_failed(e: &str) -> String {
    format!("compilation failed: {e}")
}

/// `must evaluate to …` when `ty` is known and not what the expression must give.
fn returns_problem(ty: &Ty<'_>, returns: Returns) -> Option<String> {
    let fits = matches!(
        (returns, ty),
        (_, Ty::Dyn)
            | (Returns::Bool, Ty::Bool)
            | (Returns::String, Ty::String)
            | (Returns::StringOrNull, Ty::String | Ty::Null)
    );
    (!fits).then(|| {
        match returns {
            Returns::Bool => "must evaluate to bool",
            Returns::String => "must evaluate to string",
            _ => "must evaluate to one of [string null_type]",
        }
        .to_string()
    })
}

/// `IsValidPathSegmentName`.
fn path_segment_problems(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// `isCELIdentifier`.
fn is_cel_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !RESERVED_WORDS.contains(&name)
}

/// An optional enum field: NotSupported when set to something else.
fn one_of(v: &Value, key: &str, supported: &[&str], at: &str, out: &mut Vec<FieldCause>) {
    if let Some(s) = v.get(key).and_then(Value::as_str)
        && !supported.contains(&s)
    {
        out.push(field::not_supported(
            &field::child(at, key),
            Bad::Str(s),
            supported,
        ));
    }
}

/// A label selector that must be set and is validated strictly.
fn selector(m: &Value, key: &str, at: &str, out: &mut Vec<FieldCause>) {
    let path = field::child(at, key);
    match m.get(key).filter(|s| !s.is_null()) {
        None => out.push(field::required(&path, "")),
        Some(s) => out.extend(label_selector_causes(s, &path)),
    }
}

/// `validateMatchResources`.
fn match_resources(m: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let path = field::child(at, "matchPolicy");
    match m.get("matchPolicy").and_then(Value::as_str) {
        None => out.push(field::required(&path, "")),
        Some(p) if !MATCH_POLICIES.contains(&p) => {
            out.push(field::not_supported(&path, Bad::Str(p), &MATCH_POLICIES));
        }
        Some(_) => {}
    }
    selector(m, "namespaceSelector", at, out);
    selector(m, "objectSelector", at, out);
    for key in ["resourceRules", "excludeResourceRules"] {
        let rules = m.get(key).and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            named_rule(rule, &field::index(&field::child(at, key), i), out);
        }
    }
}

/// `validateNamedRuleWithOperations`.
fn named_rule(rule: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let mut names = HashSet::new();
    let path = field::child(at, "resourceNames");
    for (i, name) in strings(rule, "resourceNames").into_iter().enumerate() {
        let at = field::index(&path, i);
        for problem in path_segment_problems(name) {
            out.push(field::invalid(&at, Bad::Str(name), &problem));
        }
        if !names.insert(name) {
            out.push(field::duplicate(&at, Bad::Str(name)));
        }
    }
    rule_with_operations(rule, at, out);
}

/// `validateParamKind`.
fn param_kind(pk: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let api_version = text(pk, "apiVersion");
    let path = field::child(at, "apiVersion");
    if api_version.is_empty() {
        out.push(field::required(&path, ""));
    } else {
        let parsed = match (api_version, api_version.matches('/').count()) {
            ("/", _) => Ok(("", "")),
            (v, 0) => Ok(("", v)),
            (v, 1) => Ok(v.split_once('/').unwrap_or(("", ""))),
            (v, _) => Err(format!("unexpected GroupVersion string: {v}")),
        };
        match parsed {
            Err(e) => out.push(field::invalid(&path, Bad::Str(api_version), &e)),
            Ok((group, version)) => {
                if !group.is_empty() {
                    let problems = dns1123_subdomain_problems(group);
                    if !problems.is_empty() {
                        out.push(field::invalid(&path, Bad::Str(group), &problems.join(",")));
                    }
                }
                if version.is_empty() {
                    out.push(field::invalid(
                        &path,
                        Bad::Str(api_version),
                        "version must be specified",
                    ));
                } else {
                    let problems = dns1035_label_problems(version);
                    if !problems.is_empty() {
                        out.push(field::invalid(
                            &path,
                            Bad::Str(version),
                            &problems.join(","),
                        ));
                    }
                }
            }
        }
    }
    let kind = text(pk, "kind");
    let path = field::child(at, "kind");
    if kind.is_empty() {
        out.push(field::required(&path, ""));
    } else {
        let problems = dns1035_label_problems(&kind.to_lowercase());
        if !problems.is_empty() {
            out.push(field::invalid(
                &path,
                Bad::Str(kind),
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    problems.join(",")
                ),
            ));
        }
    }
}

/// Whether `s` holds a line break (CEL's `[\n\r]`).
fn has_newlines(s: &str) -> bool {
    s.contains(['\n', '\r'])
}

/// A policy's spec (`validateValidatingAdmissionPolicySpec`); `check_match_conditions` is false
/// on an update that kept them.
pub(crate) fn validate_policy(obj: &Value, check_match_conditions: bool) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let at = "spec";
    let path = field::child(at, "failurePolicy");
    match spec.get("failurePolicy").and_then(Value::as_str) {
        None => out.push(field::required(&path, "")),
        Some(p) if !FAILURE_POLICIES.contains(&p) => {
            out.push(field::not_supported(&path, Bad::Str(p), &FAILURE_POLICIES));
        }
        Some(_) => {}
    }
    let has_params = match spec.get("paramKind").filter(|p| p.is_object()) {
        Some(pk) => {
            param_kind(pk, &field::child(at, "paramKind"), &mut out);
            true
        }
        None => false,
    };
    match spec.get("matchConstraints").filter(|m| m.is_object()) {
        None => out.push(field::required(&field::child(at, "matchConstraints"), "")),
        Some(m) => {
            let path = field::child(at, "matchConstraints");
            match_resources(m, &path, &mut out);
            if strings_len(m, "resourceRules") == 0 {
                out.push(field::required(&field::child(&path, "resourceRules"), ""));
            }
        }
    }
    if check_match_conditions {
        let conditions = array(spec, "matchConditions");
        let declared = Declared {
            params: has_params,
            authorizer: true,
            variables: None,
        };
        match_conditions_with(
            conditions,
            &field::child(at, "matchConditions"),
            &mut out,
            &|src| compile(src, declared, Returns::Bool),
        );
    }
    let variables = array(spec, "variables");
    // Each variable is compiled with those before it (upstream's composition), and typed.
    let mut compiled = vec![None; variables.len()];
    let without_variables = Declared {
        params: has_params,
        authorizer: true,
        variables: None,
    };
    let variables_ty = variables_ty(variables, &without_variables.types(), |i, result| {
        compiled[i] = result.as_ref().err().map(|e| compile_failed(e));
    });
    let declared = Declared {
        variables: (!variables.is_empty()).then_some(&variables_ty),
        ..without_variables
    };
    for (i, v) in variables.iter().enumerate() {
        let at = field::index(&field::child(at, "variables"), i);
        let name = text(v, "name");
        if name.trim().is_empty() {
            out.push(field::required(
                &field::child(&at, "name"),
                "name is not specified",
            ));
        } else if !is_cel_identifier(name) {
            out.push(field::invalid(
                &field::child(&at, "name"),
                Bad::Str(name),
                "name is not a valid CEL identifier",
            ));
        }
        let expression = text(v, "expression");
        let path = field::child(&at, "expression");
        if expression.trim().is_empty() {
            out.push(field::required(&path, "expression is not specified"));
        } else if let Some(e) = &compiled[i] {
            out.push(field::invalid(&path, Bad::Str(expression), e));
        }
    }
    let validations = array(spec, "validations");
    let annotations = array(spec, "auditAnnotations");
    if validations.is_empty() && annotations.is_empty() {
        let detail = "validations or auditAnnotations must contain at least one item";
        out.push(field::required(&field::child(at, "validations"), detail));
        out.push(field::required(
            &field::child(at, "auditAnnotations"),
            detail,
        ));
        return out;
    }
    for (i, v) in validations.iter().enumerate() {
        validation(
            v,
            declared,
            &field::index(&field::child(at, "validations"), i),
            &mut out,
        );
    }
    let path = field::child(at, "auditAnnotations");
    if annotations.len() > MAX_AUDIT_ANNOTATIONS {
        let rendered: Vec<String> = annotations
            .iter()
            .map(|a| {
                format!(
                    "admissionregistration.AuditAnnotation{{Key:{}, ValueExpression:{}}}",
                    field::go_quote(text(a, "key")),
                    field::go_quote(text(a, "valueExpression"))
                )
            })
            .collect();
        out.push(field::invalid(
            &path,
            Bad::Raw(&format!(
                "[]admissionregistration.AuditAnnotation{{{}}}",
                rendered.join(", ")
            )),
            &format!("must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations"),
        ));
    }
    let policy = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut keys = HashSet::new();
    for (i, a) in annotations.iter().enumerate() {
        let at = field::index(&path, i);
        audit_annotation(a, policy, declared, &at, &mut out);
        let key = text(a, "key");
        if !keys.insert(key) {
            out.push(field::duplicate(&field::child(&at, "key"), Bad::Str(key)));
        }
    }
    out
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

fn strings_len(v: &Value, key: &str) -> usize {
    array(v, key).len()
}

/// `validateValidation`.
fn validation(v: &Value, declared: Declared<'_>, at: &str, out: &mut Vec<FieldCause>) {
    let expression = text(v, "expression");
    let path = field::child(at, "expression");
    if expression.trim().is_empty() {
        out.push(field::required(&path, "expression is not specified"));
    } else if let Some(e) = compile(expression, declared, Returns::Bool) {
        out.push(field::invalid(&path, Bad::Str(expression), &e));
    }
    let message_expression = text(v, "messageExpression");
    let path = field::child(at, "messageExpression");
    if !message_expression.is_empty() && message_expression.trim().is_empty() {
        out.push(field::invalid(
            &path,
            Bad::Str(message_expression),
            "must be non-empty if specified",
        ));
    } else if !message_expression.trim().is_empty() {
        // Message expressions see no authorizer.
        let declared = Declared {
            authorizer: false,
            ..declared
        };
        if let Some(e) = compile(message_expression, declared, Returns::String) {
            out.push(field::invalid(&path, Bad::Str(message_expression), &e));
        }
    }
    let message = text(v, "message");
    let path = field::child(at, "message");
    if !message.is_empty() && message.trim().is_empty() {
        out.push(field::invalid(
            &path,
            Bad::Str(message),
            "message must be non-empty if specified",
        ));
    } else if has_newlines(message.trim()) {
        out.push(field::invalid(
            &path,
            Bad::Str(message),
            "message must not contain line breaks",
        ));
    }
    one_of(v, "reason", &REASONS, at, out);
}

/// `validateAuditAnnotation`.
fn audit_annotation(
    a: &Value,
    policy: &str,
    declared: Declared<'_>,
    at: &str,
    out: &mut Vec<FieldCause>,
) {
    let key = text(a, "key");
    let path = field::child(at, "key");
    if policy.is_empty() {
        out.push(field::invalid(
            &path,
            Bad::Str(key),
            "requires metadata.name be non-empty",
        ));
    } else {
        let qualified = format!("{policy}/{key}");
        for problem in qualified_name_problems(&qualified) {
            out.push(field::invalid(&path, Bad::Str(&qualified), &problem));
        }
    }
    let value = text(a, "valueExpression");
    let trimmed = value.trim();
    let path = field::child(at, "valueExpression");
    if trimmed.is_empty() {
        out.push(field::required(&path, "valueExpression is not specified"));
    } else if trimmed.len() > MAX_VALUE_EXPRESSION {
        out.push(field::required(
            &path,
            &format!("must not exceed {MAX_VALUE_EXPRESSION} bytes in length"),
        ));
    } else if let Some(e) = compile(trimmed, declared, Returns::StringOrNull) {
        out.push(field::invalid(&path, Bad::Str(value), &e));
    }
}

/// A binding's spec (`validateValidatingAdmissionPolicyBindingSpec`).
pub(crate) fn validate_binding(obj: &Value) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let at = "spec";
    let policy = text(spec, "policyName");
    let path = field::child(at, "policyName");
    if policy.is_empty() {
        out.push(field::required(&path, ""));
    } else {
        for problem in dns1123_subdomain_problems(policy) {
            out.push(field::invalid(&path, Bad::Str(policy), &problem));
        }
    }
    if let Some(pr) = spec.get("paramRef").filter(|p| p.is_object()) {
        param_ref(pr, &field::child(at, "paramRef"), &mut out);
    }
    if let Some(m) = spec.get("matchResources").filter(|m| m.is_object()) {
        // Upstream's path is spelt so.
        match_resources(m, &field::child(at, "matchResouces"), &mut out);
    }
    let actions = strings(spec, "validationActions");
    let path = field::child(at, "validationActions");
    let mut seen = HashSet::new();
    for (i, action) in actions.iter().enumerate() {
        let at = field::index(&path, i);
        if !ACTIONS.contains(action) {
            out.push(field::not_supported(&at, Bad::Str(action), &ACTIONS));
        }
        if !seen.insert(*action) {
            out.push(field::duplicate(&at, Bad::Str(action)));
        }
    }
    if seen.contains("Deny") && seen.contains("Warn") {
        out.push(field::invalid(
            &path,
            Bad::Raw(&go_slice("admissionregistration.ValidationAction", &actions)),
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ));
    }
    if seen.is_empty() {
        out.push(field::required(
            &path,
            "at least one validation action is required",
        ));
    }
    out
}

/// `validateParamRef`.
fn param_ref(pr: &Value, at: &str, out: &mut Vec<FieldCause>) {
    let name = text(pr, "name");
    let selector = pr.get("selector").filter(|s| !s.is_null());
    let exclusive = "name and selector are mutually exclusive";
    if !name.is_empty() {
        let path = field::child(at, "name");
        for problem in path_segment_problems(name) {
            out.push(field::invalid(&path, Bad::Str(name), &problem));
        }
        if selector.is_some() {
            out.push(field::forbidden(&path, exclusive));
        }
    }
    if let Some(s) = selector {
        let path = field::child(at, "selector");
        out.extend(label_selector_causes(s, &path));
        if !name.is_empty() {
            out.push(field::forbidden(&path, exclusive));
        }
    }
    if name.is_empty() && selector.is_none() {
        out.push(field::required(
            at,
            "one of name or selector must be specified",
        ));
    }
    let path = field::child(at, "parameterNotFoundAction");
    match text(pr, "parameterNotFoundAction") {
        "" => out.push(field::required(&path, "")),
        a if !NOT_FOUND_ACTIONS.contains(&a) => {
            out.push(field::not_supported(&path, Bad::Str(a), &NOT_FOUND_ACTIONS));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::admissionregistration::defaults::{default_binding, default_policy};
    use serde_json::json;

    fn messages(causes: Vec<FieldCause>) -> Vec<String> {
        causes.into_iter().map(|c| c.message).collect()
    }

    fn policy(spec: Value) -> Value {
        let mut p = json!({"metadata": {"name": "p"}, "spec": spec});
        default_policy(&mut p);
        p
    }

    fn rules() -> Value {
        json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}]})
    }

    #[test]
    fn a_complete_policy_is_valid_and_defaulted() {
        let p = policy(json!({
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": rules(),
            "matchConditions": [{"name": "c", "expression": "params != null && authorizer != null"}],
            "variables": [{"name": "keys", "expression": "size(object.data)"}],
            "validations": [{"expression": "variables.keys < 3", "messageExpression": "'too many: ' + string(variables.keys)", "reason": "Forbidden"}],
            "auditAnnotations": [{"key": "owner", "valueExpression": "'x'"}],
        }));
        assert_eq!(messages(validate_policy(&p, true)), Vec::<String>::new());
        assert_eq!(p["spec"]["failurePolicy"], "Fail");
        assert_eq!(p["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert_eq!(
            p["spec"]["matchConstraints"]["namespaceSelector"],
            json!({})
        );
        assert_eq!(
            p["spec"]["matchConstraints"]["resourceRules"][0]["scope"],
            "*"
        );
    }

    #[test]
    fn required_fields_and_enums() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"failurePolicy": "Never",
            "paramKind": {"apiVersion": "a/b/c", "kind": "Config_Map"}}});
        assert_eq!(
            messages(validate_policy(&p, true)),
            vec![
                r#"spec.failurePolicy: Unsupported value: "Never": supported values: "Fail", "Ignore""#,
                r#"spec.paramKind.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
                r#"spec.paramKind.kind: Invalid value: "Config_Map": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                "spec.matchConstraints: Required value",
                "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
                "spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item",
            ]
        );
    }

    #[test]
    fn expressions_compile_with_the_declared_variables() {
        let p = policy(json!({
            "matchConstraints": {"resourceRules": []},
            "variables": [{"name": "in", "expression": "1"}, {"name": "", "expression": " "}],
            "validations": [
                {"expression": "params.x", "message": "a\nb"},
                {"expression": "object.("},
                {"expression": "size(object)", "messageExpression": "1", "reason": "Teapot"},
                {"expression": "true", "messageExpression": "authorizer.x", "message": " "},
            ],
            "auditAnnotations": [{"key": "bad key", "valueExpression": "1"}, {"key": "bad key", "valueExpression": "''"}],
        }));
        let out = messages(validate_policy(&p, true));
        let expected_start = [
            "spec.matchConstraints.resourceRules: Required value",
            r#"spec.variables[0].name: Invalid value: "in": name is not a valid CEL identifier"#,
            "spec.variables[1].name: Required value: name is not specified",
            "spec.variables[1].expression: Required value: expression is not specified",
            r#"spec.validations[0].expression: Invalid value: "params.x": compilation failed: ERROR: <input>:1:1: undeclared reference to 'params' (in container '')"#,
            r#"spec.validations[0].message: Invalid value: "a\nb": message must not contain line breaks"#,
            r#"spec.validations[1].expression: Invalid value: "object.(": compilation failed: ERROR: <input>:1:8: Syntax error"#,
            r#"spec.validations[2].expression: Invalid value: "size(object)": must evaluate to bool"#,
            r#"spec.validations[2].messageExpression: Invalid value: "1": must evaluate to string"#,
            r#"spec.validations[2].reason: Unsupported value: "Teapot": supported values: "Forbidden", "Invalid", "RequestEntityTooLarge""#,
            r#"spec.validations[3].messageExpression: Invalid value: "authorizer.x": compilation failed: ERROR: <input>:1:1: undeclared reference to 'authorizer' (in container '')"#,
            r#"spec.validations[3].message: Invalid value: " ": message must be non-empty if specified"#,
            r#"spec.auditAnnotations[0].key: Invalid value: "p/bad key": name part must consist of"#,
            r#"spec.auditAnnotations[0].valueExpression: Invalid value: "1": must evaluate to one of [string null_type]"#,
            r#"spec.auditAnnotations[1].key: Invalid value: "p/bad key": name part must consist of"#,
            r#"spec.auditAnnotations[1].key: Duplicate value: "bad key""#,
        ];
        assert_eq!(out.len(), expected_start.len(), "{out:#?}");
        for (got, want) in out.iter().zip(expected_start) {
            assert!(got.starts_with(want), "{got}\nwanted {want}");
        }
    }

    #[test]
    fn bindings() {
        let mut b = json!({"metadata": {"name": "b"}, "spec": {
            "paramRef": {"name": "a/b", "selector": {}, "parameterNotFoundAction": "Skip"},
            "matchResources": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "resourceNames": ["x", "x"]}]},
            "validationActions": ["Deny", "Warn", "Deny", "Log"],
        }});
        default_binding(&mut b);
        assert_eq!(
            messages(validate_binding(&b)),
            vec![
                "spec.policyName: Required value",
                r#"spec.paramRef.name: Invalid value: "a/b": may not contain '/'"#,
                "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
                "spec.paramRef.selector: Forbidden: name and selector are mutually exclusive",
                r#"spec.paramRef.parameterNotFoundAction: Unsupported value: "Skip": supported values: "Deny", "Allow""#,
                r#"spec.matchResouces.resourceRules[0].resourceNames[1]: Duplicate value: "x""#,
                r#"spec.validationActions[2]: Duplicate value: "Deny""#,
                r#"spec.validationActions[3]: Unsupported value: "Log": supported values: "Audit", "Deny", "Warn""#,
                r#"spec.validationActions: Invalid value: []admissionregistration.ValidationAction{"Deny", "Warn", "Deny", "Log"}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"#,
            ]
        );
        let empty = json!({"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": {}}});
        assert_eq!(
            messages(validate_binding(&empty)),
            vec![
                "spec.paramRef: Required value: one of name or selector must be specified",
                "spec.paramRef.parameterNotFoundAction: Required value",
                "spec.validationActions: Required value: at least one validation action is required",
            ]
        );
    }
}
