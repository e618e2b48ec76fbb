//! The review resources: create-only, answered from RBAC and the requester's identity, never
//! stored. `SelfSubjectAccessReview` (`kubectl auth can-i`), `SubjectAccessReview`,
//! `LocalSubjectAccessReview`, `SelfSubjectRulesReview` (`kubectl auth can-i --list`) and
//! `SelfSubjectReview` (`kubectl auth whoami`).

use super::attributes::{Attributes, ResourceAttributes};
use super::rbac::Rbac;
use super::user::UserInfo;
use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::{ApiError, FieldCause};
use serde_json::{Map, Value, json};

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The attributes an access review's spec asks about, or the causes that make it invalid.
fn asked(spec: &Value, non_resource_allowed: bool) -> Result<Attributes, Vec<FieldCause>> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(_), Some(n)) => Err(vec![FieldCause::invalid(
            "spec.nonResourceAttributes",
            n,
            "cannot be specified in combination with resourceAttributes",
        )]),
        (None, None) => Err(vec![FieldCause::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )]),
        (None, Some(n)) if !non_resource_allowed => Err(vec![FieldCause::invalid(
            "spec.nonResourceAttributes",
            n,
            "disallowed on this kind of request",
        )]),
        (None, Some(n)) => Ok(Attributes::NonResource {
            verb: text(n, "verb"),
            path: text(n, "path"),
        }),
        (Some(r), None) => Ok(Attributes::Resource(ResourceAttributes {
            verb: text(r, "verb"),
            group: text(r, "group"),
            version: text(r, "version"),
            resource: text(r, "resource"),
            subresource: text(r, "subresource"),
            namespace: text(r, "namespace"),
            name: text(r, "name"),
        })),
    }
}

/// The request object with the server's `status`, as the review is answered.
fn answered(mut review: Value, status: Value) -> Value {
    if let Some(o) = review.as_object_mut() {
        let meta = o
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("creationTimestamp".into(), Value::Null);
        }
        o.insert("status".into(), status);
    }
    review
}

fn access_status(allowed: bool, reason: String) -> Value {
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    status
}

/// Answers a review of kind `rt.kind` posted by `user` (to `namespace` for the local review).
pub async fn answer(
    rest: &Rest,
    user: &UserInfo,
    rt: &ResourceType,
    namespace: Option<&str>,
    body: Value,
) -> Result<Value, ApiError> {
    let review = rt.strategy.decode(body)?.value;
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let invalid = |causes| ApiError::invalid(&rt.group, &rt.kind, "", causes);
    let rbac = Rbac::new(&rest.store);
    match rt.kind.as_str() {
        "SelfSubjectAccessReview" => {
            let attrs = asked(&spec, true).map_err(invalid)?;
            let d = rbac.authorize(user, &attrs).await;
            Ok(answered(review, access_status(d.allowed, d.reason)))
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let local = rt.kind == "LocalSubjectAccessReview";
            let mut attrs = asked(&spec, !local).map_err(invalid)?;
            if let (Some(ns), Attributes::Resource(a)) = (namespace, &mut attrs) {
                if a.namespace.is_empty() {
                    a.namespace = ns.to_string();
                } else if a.namespace != ns {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
            }
            let name = text(&spec, "user");
            let groups = strings(&spec, "groups");
            if name.is_empty() && groups.is_empty() {
                return Err(invalid(vec![FieldCause::invalid(
                    "spec.user",
                    &json!(""),
                    "at least one of user or group must be specified",
                )]));
            }
            // The subject is exactly as asked: no groups are implied.
            let subject = UserInfo {
                name,
                uid: text(&spec, "uid"),
                groups,
                extra: Default::default(),
            };
            let d = rbac.authorize(&subject, &attrs).await;
            Ok(answered(review, access_status(d.allowed, d.reason)))
        }
        "SelfSubjectRulesReview" => {
            let ns = text(&spec, "namespace");
            let rules = if user.is_privileged() {
                // Members of system:masters may do everything: cluster-admin's rules.
                serde_json::from_value(super::bootstrap::cluster_admin_rules()).unwrap_or_default()
            } else {
                rbac.rules(user, &ns).await
            };
            let (resource, non_resource): (Vec<_>, Vec<_>) = rules
                .into_iter()
                .partition(|r| r.non_resource_urls.is_empty());
            let resource_rules: Vec<Value> = resource
                .into_iter()
                .map(|r| {
                    json!({"verbs": r.verbs, "apiGroups": r.api_groups,
                        "resources": r.resources, "resourceNames": r.resource_names})
                })
                .collect();
            let non_resource_rules: Vec<Value> = non_resource
                .into_iter()
                .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
                .collect();
            Ok(answered(
                review,
                json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                    "incomplete": false}),
            ))
        }
        "SelfSubjectReview" => {
            let mut info = json!({"username": user.name, "groups": user.groups});
            if !user.uid.is_empty() {
                info["uid"] = json!(user.uid);
            }
            if !user.extra.is_empty() {
                info["extra"] = json!(user.extra);
            }
            Ok(answered(review, json!({"userInfo": info})))
        }
        other => Err(ApiError::method_not_allowed(format!(
            "{other} cannot be reviewed"
        ))),
    }
}
