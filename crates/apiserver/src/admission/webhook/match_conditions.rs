//! `matchConditions`: CEL expressions over `object`, `oldObject` and `request` (the
//! AdmissionRequest) that must all be true for a webhook to be called (upstream's
//! `matchconditions.Matcher`). Any false skips the webhook; otherwise an error fails the request
//! under `failurePolicy: Fail` (403, `<resource> "<name>" is forbidden: expression '…' resulted
//! in error: …`) and skips the webhook under `Ignore`. `authorizer` checks what the request's
//! user may do, with the server's RBAC authorizer (`crd::schema::cel::authz`).

use super::rules::Matched;
use super::{Hook, review};
use crate::admission::Request;
use crate::admission::validating_admission_policy::authorizer;
use crate::crd::schema::cel::expression::{self, Expression};
use crate::rest::Rest;
use crate::status::ApiError;
use k8s_openapi::api::admissionregistration::v1::MatchCondition;
use kube_cel::cel::Value as Cel;
use serde_json::Value;

/// One compiled condition.
#[derive(Debug)]
pub struct Condition {
    /// Its expression as written.
    pub expression: String,
    /// The program, or why it does not compile.
    pub program: Result<Expression, String>,
}

/// Compiles a webhook's conditions.
pub fn compile(conditions: Vec<MatchCondition>) -> Vec<Condition> {
    conditions
        .into_iter()
        .map(|c| Condition {
            program: Expression::compile(&c.expression),
            expression: c.expression,
        })
        .collect()
}

/// Whether `hook`'s conditions let it be called for `request`, matched as `matched` with the
/// objects converted to it; an error answers the request. As upstream's, `request.kind` names
/// the matched kind and `request.resource` the request's resource.
pub fn matches(
    rest: &Rest,
    hook: &Hook,
    request: &Request<'_>,
    matched: &Matched,
    obj: Option<&Value>,
    old_object: Option<&Value>,
) -> Result<bool, ApiError> {
    if hook.match_conditions.is_empty() {
        return Ok(true);
    }
    let review = review::build("v1", "", request, matched, None, None);
    let mut admission_request = review["request"].clone();
    if let Some(map) = admission_request.as_object_mut() {
        map.remove("object");
        map.remove("oldObject");
        if let Some(own) = map.get("requestResource").cloned() {
            map.insert("resource".into(), own);
        }
    }
    let null = Value::Null;
    let mut variables = vec![
        ("object", expression::to_cel(obj.unwrap_or(&null))),
        ("oldObject", expression::to_cel(old_object.unwrap_or(&null))),
        ("request", expression::to_cel(&admission_request)),
    ];
    if hook
        .match_conditions
        .iter()
        .any(|c| c.expression.contains("authorizer"))
    {
        variables.push(("authorizer", authorizer(rest, request)));
    }
    let mut errors = Vec::new();
    for condition in &hook.match_conditions {
        let result = condition
            .program
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| p.evaluate_cel(&variables))
            .and_then(|v| match v {
                Cel::Bool(b) => Ok(b),
                other => Err(format!(
                    "expected boolean result, got {}",
                    expression::type_name(&other)
                )),
            });
        match result {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(e) => errors.push(format!(
                "expression '{}' resulted in error: {e}",
                condition.expression
            )),
        }
    }
    if errors.is_empty() {
        return Ok(true);
    }
    if hook.ignore_failures {
        return Ok(false);
    }
    let detail = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let rt = request.rt;
    let resource = crate::status::qualified(&rt.plural, &rt.group);
    Err(ApiError::forbidden(
        &rt.group,
        &rt.plural,
        request.name,
        format!("{resource} {:?} is forbidden: {detail}", request.name),
    ))
}
