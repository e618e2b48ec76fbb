//! `status.typeChecking` of ValidatingAdmissionPolicies, as upstream's policy controller writes
//! it: each `spec.validations[i].expression` and `messageExpression` is checked, and what fails
//! becomes an `expressionWarnings` entry (`fieldRef` `spec.validations[i].expression`); the
//! policy's behaviour does not change. `status.observedGeneration` tells which generation was
//! checked.
//!
//! What is covered, with the CEL engine this server has (its checker types what a schema
//! declares and takes anything else as `dyn`):
//! - an expression that does not compile is reported with the compiler's message, whatever
//!   the kinds (upstream refuses such a policy when it is written; this server stores it and
//!   warns here);
//! - the kinds `matchConstraints.resourceRules` name without wildcards (at most 10, by group,
//!   version and kind, as upstream) whose schema is known — custom resources with an
//!   `openAPIV3Schema` — type `object` and `oldObject`; a `paramKind` that is such a custom
//!   resource types `params`. Each kind's issues (undefined fields, undeclared references,
//!   mismatched operands) read `<group>/<version>, Kind=<kind>: <issues>` as upstream's.
//!
//! Not covered: built-in kinds (their schemas are not structural here), so expressions over
//! them are only checked for compiling; `metadata` is `dyn` (upstream types it as ObjectMeta);
//! `namespaceObject` and `authorizer` are `dyn`. `request` and `variables` are typed as upstream
//! types them (`declarations.rs`).

use super::declarations::{request_ty, variables_ty};
use crate::crd::schema::cel::check::{Ty, schema_ty};
use crate::crd::schema::cel::expression::Expression;
use crate::crd::schema::{Node, compile_node};
use crate::resource::SchemaSource;
use crate::rest::Rest;
use serde_json::{Value, json};
use std::collections::HashMap;

/// At most this many kinds are checked (upstream's `maxTypesToCheck`).
const MAX_KINDS: usize = 10;

/// The variables every policy expression may name.
const VARIABLES: [&str; 7] = [
    "object",
    "oldObject",
    "params",
    "request",
    "namespaceObject",
    "variables",
    "authorizer",
];

/// A kind an expression is checked against: `<group>/<version>, Kind=<kind>` and its schema.
struct Kind {
    name: String,
    schema: Node,
}

/// The schema of a custom resource's version, as policies see its objects (`apiVersion`,
/// `kind` strings, `metadata` anything).
fn custom_schema(schema: &Value) -> Node {
    let mut schema = schema.clone();
    if let Some(map) = schema.as_object_mut() {
        let properties = map.entry("properties").or_insert_with(|| json!({}));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert("apiVersion".into(), json!({"type": "string"}));
            properties.insert("kind".into(), json!({"type": "string"}));
            properties.insert(
                "metadata".into(),
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        }
    }
    compile_node(&schema, false)
}

/// The schema of `rt`, when it is a custom resource with one.
fn schema_of(rt: &crate::resource::ResourceType) -> Option<Node> {
    match &rt.schema {
        SchemaSource::Custom(Some(schema)) => Some(custom_schema(schema)),
        _ => None,
    }
}

/// The kinds the policy's resource rules name exactly, whose schema is known.
fn kinds(rest: &Rest, policy: &Value) -> Vec<Kind> {
    let catalog = rest.catalog.snapshot();
    let strings = |rule: &Value, key: &str| -> Vec<String> {
        rule.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let mut found: Vec<(String, String, String, Node)> = Vec::new();
    let rules = policy
        .pointer("/spec/matchConstraints/resourceRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for rule in rules {
        let groups = strings(rule, "apiGroups");
        let versions = strings(rule, "apiVersions");
        if groups.iter().chain(&versions).any(|g| g.contains('*')) {
            continue;
        }
        let resources: Vec<String> = strings(rule, "resources")
            .into_iter()
            .filter(|r| !r.contains('*') && !r.contains('/'))
            .collect();
        for group in &groups {
            for version in &versions {
                for resource in &resources {
                    let Some(rt) = catalog.find(group, version, resource) else {
                        continue;
                    };
                    if found
                        .iter()
                        .any(|(g, v, k, _)| *g == rt.group && *v == rt.version && *k == rt.kind)
                    {
                        continue;
                    }
                    if let Some(schema) = schema_of(&rt) {
                        found.push((
                            rt.group.clone(),
                            rt.version.clone(),
                            rt.kind.clone(),
                            schema,
                        ));
                    }
                    if found.len() == MAX_KINDS {
                        break;
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    found
        .into_iter()
        .map(|(group, version, kind, schema)| Kind {
            name: format!("{group}/{version}, Kind={kind}"),
            schema,
        })
        .collect()
}

/// The schema of the policy's `paramKind`, when it is a custom resource with one.
fn param_schema(rest: &Rest, policy: &Value) -> Option<Node> {
    let param_kind = policy.pointer("/spec/paramKind")?;
    let api_version = param_kind.get("apiVersion").and_then(Value::as_str)?;
    let kind = param_kind.get("kind").and_then(Value::as_str)?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let catalog = rest.catalog.snapshot();
    let rt = catalog
        .all()
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.kind == kind)?
        .clone();
    schema_of(&rt)
}

/// The variables of a policy expression: `object` and `oldObject` typed `object`, `params`
/// by its schema when known, `request` as upstream's `AdmissionRequest`, `variables` by the
/// policy's variables (`declarations.rs`), the others `dyn`.
fn variables<'a>(
    object: Ty<'a>,
    params: Option<&'a Node>,
    declared: &[Value],
) -> HashMap<String, Ty<'a>> {
    let mut vars: HashMap<String, Ty<'a>> =
        VARIABLES.iter().map(|v| (v.to_string(), Ty::Dyn)).collect();
    vars.insert("object".into(), object.clone());
    vars.insert("oldObject".into(), object);
    vars.insert("request".into(), request_ty());
    if let Some(params) = params {
        vars.insert("params".into(), schema_ty(params));
    }
    vars.remove("variables");
    let typed = variables_ty(declared, &vars, |_, _| {});
    vars.insert("variables".into(), typed);
    vars
}

/// The warning for one expression, if it has one.
fn check_expression(
    src: &str,
    kinds: &[Kind],
    params: Option<&Node>,
    declared: &[Value],
) -> Option<String> {
    if let Err(compile_error) = Expression::type_check(src, variables(Ty::Dyn, params, declared)) {
        return Some(compile_error);
    }
    let mut messages = Vec::new();
    for kind in kinds {
        let typed = variables(schema_ty(&kind.schema), params, declared);
        if let Ok(Some(issues)) = Expression::type_check(src, typed) {
            messages.push(format!("{}: {issues}\n", kind.name));
        }
    }
    (!messages.is_empty()).then(|| messages.join("\n"))
}

/// The `expressionWarnings` of `policy` (a stored ValidatingAdmissionPolicy).
pub fn expression_warnings(rest: &Rest, policy: &Value) -> Vec<Value> {
    let kinds = kinds(rest, policy);
    let params = param_schema(rest, policy);
    let declared = policy
        .pointer("/spec/variables")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut warnings = Vec::new();
    let validations = policy
        .pointer("/spec/validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, validation) in validations.enumerate() {
        for field in ["expression", "messageExpression"] {
            let Some(src) = validation
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if let Some(warning) = check_expression(src, &kinds, params.as_ref(), declared) {
                warnings.push(json!({
                    "fieldRef": format!("spec.validations[{i}].{field}"),
                    "warning": warning,
                }));
            }
        }
    }
    warnings
}

/// Writes `status.typeChecking` and `status.observedGeneration` of every policy whose status
/// does not describe its current generation.
pub async fn update_statuses(rest: &Rest) {
    let catalog = rest.catalog.snapshot();
    let Some(rt) = catalog.find(super::GROUP, "v1", "validatingadmissionpolicies") else {
        return;
    };
    for stored in rest.store.current(&rt.storage_key) {
        let policy = stored.value();
        let generation = policy
            .pointer("/metadata/generation")
            .and_then(Value::as_i64);
        if generation.is_none()
            || policy
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64)
                == generation
        {
            continue;
        }
        let name = policy
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut status = policy.get("status").cloned().unwrap_or_else(|| json!({}));
        status["observedGeneration"] = json!(generation);
        let warnings = expression_warnings(rest, &policy);
        status["typeChecking"] = if warnings.is_empty() {
            json!({})
        } else {
            json!({ "expressionWarnings": warnings })
        };
        let mut updated = policy.clone();
        updated["status"] = status;
        let opts = crate::controllers::write_options("validatingadmissionpolicy-status-controller");
        if let Err(e) = rest
            .update(&rt, None, &name, updated, &opts, Some("status"))
            .await
        {
            tracing::debug!(policy = %name, error = %e, "writing a policy's type checking");
        }
    }
}
