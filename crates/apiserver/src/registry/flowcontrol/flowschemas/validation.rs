//! Validation of FlowSchemas, as upstream's `pkg/apis/flowcontrol/validation` does it: the
//! matching precedence (1 to 10000, 1 only for `exempt`), the distinguisher method, the priority
//! level reference, each rule's subjects and resource and non-resource rules, the status
//! conditions, and that the mandatory schemas (`exempt`, `catch-all`) keep their fixed spec.

use crate::crd::schema::field::{self, Bad};
use crate::registry::flowcontrol::bootstrap::{EXEMPT, mandatory_schema_spec, semantic};
use crate::registry::flowcontrol::go_strings;
use crate::resource::VERBS;
use crate::status::FieldCause;
use crate::validation::{dns1123_label_problems, dns1123_subdomain_problems};
use serde_json::Value;

/// The highest matching precedence (upstream's `FlowSchemaMaxMatchingPrecedence`).
const MAX_MATCHING_PRECEDENCE: i64 = 10000;

/// The verbs a rule may name besides `*`: every resource's, and `proxy`.
fn supported(verb: &str) -> bool {
    VERBS.contains(&verb) || verb == "proxy"
}

/// The supported verbs, sorted as upstream lists them in its message.
fn supported_verbs() -> Vec<&'static str> {
    let mut verbs: Vec<&str> = VERBS.iter().copied().chain(["proxy"]).collect();
    verbs.sort_unstable();
    verbs
}

/// The causes a FlowSchema is refused for (on create and on update alike, as upstream).
pub(crate) fn causes(obj: &Value) -> Vec<FieldCause> {
    let (name, spec) = super::super::name_and_spec(obj);
    let mut causes = spec_causes(name, spec);
    if let Some(fixed) = mandatory_schema_spec(name)
        && semantic(spec) != semantic(&fixed)
    {
        causes.push(FieldCause::invalid_shown(
            "spec",
            &go_spec(spec),
            format!("spec of '{name}' must equal the fixed value"),
        ));
    }
    causes.extend(status_causes(obj));
    causes
}

/// The causes a status update is refused for: each condition needs a type, once.
pub(crate) fn status_causes(obj: &Value) -> Vec<FieldCause> {
    conditions_causes(obj)
}

/// The conditions check shared with PriorityLevelConfigurations.
pub(crate) fn conditions_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, condition) in conditions.enumerate() {
        let path = format!("status.conditions[{i}].type");
        let kind = str_of(condition, "type");
        if !seen.insert(kind) {
            causes.push(field::duplicate(&path, Bad::Str(kind)));
        }
        if kind.is_empty() {
            causes.push(field::required(&path, "must not be empty"));
        }
    }
    causes
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect()
}

fn present<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    v.get(field).filter(|x| !x.is_null())
}

/// Upstream's `ValidateFlowSchemaSpec`.
fn spec_causes(name: &str, spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let precedence = spec
        .get("matchingPrecedence")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let path = "spec.matchingPrecedence";
    if precedence <= 0 {
        causes.push(field::invalid(
            path,
            Bad::Int(precedence),
            "must be a positive value",
        ));
    }
    if precedence > MAX_MATCHING_PRECEDENCE {
        causes.push(field::invalid(
            path,
            Bad::Int(precedence),
            &format!("must not be greater than {MAX_MATCHING_PRECEDENCE}"),
        ));
    }
    if precedence == 1 && name != EXEMPT {
        causes.push(field::invalid(
            path,
            Bad::Int(precedence),
            "only the schema named 'exempt' may have matchingPrecedence 1",
        ));
    }
    if let Some(method) = present(spec, "distinguisherMethod") {
        let kind = str_of(method, "type");
        if !matches!(kind, "ByNamespace" | "ByUser") {
            let shown = format!(
                "flowcontrol.FlowDistinguisherMethod{{Type:{}}}",
                field::go_quote(kind)
            );
            causes.push(field::not_supported(
                "spec.distinguisherMethod.type",
                Bad::Raw(&shown),
                &["ByNamespace", "ByUser"],
            ));
        }
    }
    let level = spec
        .pointer("/priorityLevelConfiguration/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let level_path = "spec.priorityLevelConfiguration.name";
    if level.is_empty() {
        causes.push(field::required(
            level_path,
            "must reference a priority level",
        ));
    } else {
        for problem in dns1123_subdomain_problems(level) {
            causes.push(field::invalid(level_path, Bad::Str(level), &problem));
        }
    }
    let rules = spec.get("rules").and_then(Value::as_array);
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        causes.extend(rule_causes(rule, &format!("spec.rules[{i}]")));
    }
    causes
}

/// Upstream's `ValidateFlowSchemaPolicyRulesWithSubjects`.
fn rule_causes(rule: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let subjects = rule.get("subjects").and_then(Value::as_array);
    match subjects {
        Some(subjects) if !subjects.is_empty() => {
            for (i, subject) in subjects.iter().enumerate() {
                causes.extend(subject_causes(subject, &format!("{path}.subjects[{i}]")));
            }
        }
        _ => causes.push(field::required(
            &format!("{path}.subjects"),
            "subjects must contain at least one value",
        )),
    }
    let resource_rules = rule.get("resourceRules").and_then(Value::as_array);
    let non_resource_rules = rule.get("nonResourceRules").and_then(Value::as_array);
    if resource_rules.is_none_or(Vec::is_empty) && non_resource_rules.is_none_or(Vec::is_empty) {
        causes.push(field::required(
            path,
            "at least one of resourceRules and nonResourceRules has to be non-empty",
        ));
    }
    for (i, r) in resource_rules.into_iter().flatten().enumerate() {
        causes.extend(resource_rule_causes(
            r,
            &format!("{path}.resourceRules[{i}]"),
        ));
    }
    for (i, r) in non_resource_rules.into_iter().flatten().enumerate() {
        causes.extend(non_resource_rule_causes(
            r,
            &format!("{path}.nonResourceRules[{i}]"),
        ));
    }
    causes
}

/// Upstream's `ValidateFlowSchemaSubject`.
fn subject_causes(subject: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let forbid = |causes: &mut Vec<FieldCause>, member: &str, kind: &str| {
        if present(subject, member).is_some() {
            causes.push(field::forbidden(
                &format!("{path}.{member}"),
                &format!("{member} is forbidden when subject kind is not '{kind}'"),
            ));
        }
    };
    match str_of(subject, "kind") {
        "ServiceAccount" => {
            let sa_path = format!("{path}.serviceAccount");
            match present(subject, "serviceAccount") {
                None => causes.push(field::required(
                    &sa_path,
                    "serviceAccount is required when subject kind is 'ServiceAccount'",
                )),
                Some(sa) => {
                    let name = str_of(sa, "name");
                    if name.is_empty() {
                        causes.push(field::required(&format!("{sa_path}.name"), ""));
                    } else if name != "*" {
                        for problem in dns1123_subdomain_problems(name) {
                            causes.push(field::invalid(
                                &format!("{sa_path}.name"),
                                Bad::Str(name),
                                &problem,
                            ));
                        }
                    }
                    let namespace = str_of(sa, "namespace");
                    if namespace.is_empty() {
                        causes.push(field::required(
                            &format!("{sa_path}.namespace"),
                            "must specify namespace for service account",
                        ));
                    } else {
                        for problem in dns1123_label_problems(namespace) {
                            causes.push(field::invalid(
                                &format!("{sa_path}.namespace"),
                                Bad::Str(namespace),
                                &problem,
                            ));
                        }
                    }
                }
            }
            forbid(&mut causes, "user", "User");
            forbid(&mut causes, "group", "Group");
        }
        "User" => {
            named_subject(subject, path, "user", "User", &mut causes);
            forbid(&mut causes, "serviceAccount", "ServiceAccount");
            forbid(&mut causes, "group", "Group");
        }
        "Group" => {
            named_subject(subject, path, "group", "Group", &mut causes);
            forbid(&mut causes, "serviceAccount", "ServiceAccount");
            forbid(&mut causes, "user", "User");
        }
        other => causes.push(field::not_supported(
            &format!("{path}.kind"),
            Bad::Str(other),
            &["Group", "ServiceAccount", "User"],
        )),
    }
    causes
}

/// A `user` or `group` subject: present, with a name.
fn named_subject(
    subject: &Value,
    path: &str,
    member: &str,
    kind: &str,
    causes: &mut Vec<FieldCause>,
) {
    let member_path = format!("{path}.{member}");
    match present(subject, member) {
        None => causes.push(field::required(
            &member_path,
            &format!("{member} is required when subject kind is '{kind}'"),
        )),
        Some(s) => {
            if str_of(s, "name").is_empty() {
                causes.push(field::required(&format!("{member_path}.name"), ""));
            }
        }
    }
}

/// The verbs of a rule: present, `*` alone, or only supported verbs.
fn verbs_causes(rule: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    let verbs = strings(rule, "verbs");
    let verbs_path = format!("{path}.verbs");
    if verbs.is_empty() {
        causes.push(field::required(
            &verbs_path,
            "verbs must contain at least one value",
        ));
    } else if verbs.iter().any(|v| v == "*") {
        if verbs.len() > 1 {
            causes.push(field::invalid(
                &verbs_path,
                Bad::Raw(&go_strings(&verbs)),
                "if '*' is present, must not specify other verbs",
            ));
        }
    } else if !verbs.iter().all(|v| supported(v)) {
        causes.push(field::not_supported(
            &verbs_path,
            Bad::Raw(&go_strings(&verbs)),
            &supported_verbs(),
        ));
    }
}

/// A list that must not be empty and in which `*` stands alone.
fn wildcard_list_causes(
    rule: &Value,
    path: &str,
    member: &str,
    required: &str,
    others: &str,
    causes: &mut Vec<FieldCause>,
) {
    let items = strings(rule, member);
    let member_path = format!("{path}.{member}");
    if items.is_empty() {
        causes.push(field::required(&member_path, required));
    } else if items.len() > 1 && items.iter().any(|v| v == "*") {
        causes.push(field::invalid(
            &member_path,
            Bad::Raw(&go_strings(&items)),
            &format!("if '*' is present, must not specify other {others}"),
        ));
    }
}

/// Upstream's `ValidateFlowSchemaResourcePolicyRule`.
fn resource_rule_causes(rule: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    verbs_causes(rule, path, &mut causes);
    wildcard_list_causes(
        rule,
        path,
        "apiGroups",
        "resource rules must supply at least one api group",
        "api groups",
        &mut causes,
    );
    wildcard_list_causes(
        rule,
        path,
        "resources",
        "resource rules must supply at least one resource",
        "resources",
        &mut causes,
    );
    let namespaces = strings(rule, "namespaces");
    let cluster = rule
        .get("clusterScope")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ns_path = format!("{path}.namespaces");
    if namespaces.is_empty() && !cluster {
        causes.push(field::required(
            &ns_path,
            "resource rules that are not cluster scoped must supply at least one namespace",
        ));
    } else if namespaces.iter().any(|n| n == "*") {
        if namespaces.len() > 1 {
            causes.push(field::invalid(
                &ns_path,
                Bad::Raw(&go_strings(&namespaces)),
                "if '*' is present, must not specify other namespaces",
            ));
        }
    } else {
        for (i, namespace) in namespaces.iter().enumerate() {
            for problem in dns1123_label_problems(namespace) {
                causes.push(field::invalid(
                    &format!("{ns_path}[{i}]"),
                    Bad::Str(namespace),
                    &format!("each member of this list must be '*' or a DNS-1123 label; {problem}"),
                ));
            }
        }
    }
    causes
}

/// Upstream's `ValidateFlowSchemaNonResourcePolicyRule`.
fn non_resource_rule_causes(rule: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    verbs_causes(rule, path, &mut causes);
    let urls = strings(rule, "nonResourceURLs");
    let urls_path = format!("{path}.nonResourceURLs");
    if urls.is_empty() {
        causes.push(field::required(
            &urls_path,
            "nonResourceURLs must contain at least one value",
        ));
    } else if urls.iter().any(|u| u == "*") {
        if urls.len() > 1 {
            causes.push(field::invalid(
                &urls_path,
                Bad::Raw(&go_strings(&urls)),
                "if '*' is present, must not specify other non-resource URLs",
            ));
        }
    } else {
        for (i, url) in urls.iter().enumerate() {
            if let Some(problem) = url_path_problem(url) {
                causes.push(field::invalid(
                    &format!("{urls_path}[{i}]"),
                    Bad::Str(url),
                    problem,
                ));
            }
        }
    }
    causes
}

/// Upstream's `ValidateNonResourceURLPath`: a slash first, no white-space, no double slash, and
/// a wildcard only as a whole last segment.
fn url_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("must not be empty");
    }
    if path == "/" {
        return None;
    }
    if !path.starts_with('/') {
        return Some("must start with slash");
    }
    if path.contains(' ') {
        return Some("must not contain white-space");
    }
    if path.contains("//") {
        return Some("must not contain double slash");
    }
    let wildcards = path.matches('*').count();
    if wildcards > 1 || (wildcards == 1 && !path.ends_with("/*")) {
        return Some("wildcard can only do suffix matching");
    }
    None
}

/// The spec as Go's `%#v` begins to print it (upstream prints the whole internal struct, pointer
/// addresses included, so only its shape can be matched).
fn go_spec(spec: &Value) -> String {
    let level = spec
        .pointer("/priorityLevelConfiguration/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let method = match present(spec, "distinguisherMethod") {
        Some(m) => format!(
            "&flowcontrol.FlowDistinguisherMethod{{Type:{}}}",
            field::go_quote(str_of(m, "type"))
        ),
        None => "(*flowcontrol.FlowDistinguisherMethod)(nil)".to_string(),
    };
    let rules = spec
        .get("rules")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    format!(
        "flowcontrol.FlowSchemaSpec{{PriorityLevelConfiguration:flowcontrol.PriorityLevelConfigurationReference{{Name:{}}}, MatchingPrecedence:{}, DistinguisherMethod:{method}, Rules:[]flowcontrol.PolicyRulesWithSubjects{{...{rules} rules}}}}",
        field::go_quote(level),
        spec.get("matchingPrecedence")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::flowcontrol::messages;
    use serde_json::json;

    #[test]
    fn precedence_and_reference_rules() {
        let fs = json!({"metadata": {"name": "a"}, "spec": {"matchingPrecedence": 1, "priorityLevelConfiguration": {"name": ""},
            "distinguisherMethod": {"type": "ByGroup"}}});
        assert_eq!(
            messages(causes(&fs)),
            [
                "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
                r#"spec.distinguisherMethod.type: Unsupported value: flowcontrol.FlowDistinguisherMethod{Type:"ByGroup"}: supported values: "ByNamespace", "ByUser""#,
                "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
            ]
        );
    }

    #[test]
    fn rules_and_subjects() {
        let fs = json!({"metadata": {"name": "a"}, "spec": {"matchingPrecedence": 10001, "priorityLevelConfiguration": {"name": "x"},
        "rules": [
            {"subjects": [{"kind": "User"}, {"kind": "Robot"}, {"kind": "ServiceAccount", "serviceAccount": {"name": "*"}, "group": {"name": "g"}}],
             "resourceRules": [{"verbs": ["get", "fly"], "apiGroups": ["*", "apps"], "resources": [], "namespaces": ["Bad"]}],
             "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["healthz", "/a/*/b"]}]},
            {"subjects": []},
        ]}});
        assert_eq!(
            messages(causes(&fs)),
            [
                "spec.matchingPrecedence: Invalid value: 10001: must not be greater than 10000",
                "spec.rules[0].subjects[0].user: Required value: user is required when subject kind is 'User'",
                r#"spec.rules[0].subjects[1].kind: Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User""#,
                "spec.rules[0].subjects[2].serviceAccount.namespace: Required value: must specify namespace for service account",
                "spec.rules[0].subjects[2].group: Forbidden: group is forbidden when subject kind is not 'Group'",
                r#"spec.rules[0].resourceRules[0].verbs: Unsupported value: []string{"get", "fly"}: supported values: "create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch""#,
                r#"spec.rules[0].resourceRules[0].apiGroups: Invalid value: []string{"*", "apps"}: if '*' is present, must not specify other api groups"#,
                "spec.rules[0].resourceRules[0].resources: Required value: resource rules must supply at least one resource",
                r#"spec.rules[0].resourceRules[0].namespaces[0]: Invalid value: "Bad": each member of this list must be '*' or a DNS-1123 label; a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                r#"spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: "healthz": must start with slash"#,
                r#"spec.rules[0].nonResourceRules[0].nonResourceURLs[1]: Invalid value: "/a/*/b": wildcard can only do suffix matching"#,
                "spec.rules[1].subjects: Required value: subjects must contain at least one value",
                "spec.rules[1]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty",
            ]
        );
    }

    #[test]
    fn mandatory_schemas_keep_their_spec() {
        let mut fs =
            json!({"metadata": {"name": "catch-all"}, "spec": mandatory_schema_spec("catch-all")});
        assert!(causes(&fs).is_empty(), "{:?}", causes(&fs));
        fs["spec"]["matchingPrecedence"] = json!(9000);
        let found = causes(&fs);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "spec");
        assert!(
            found[0]
                .message
                .ends_with(": spec of 'catch-all' must equal the fixed value")
        );
    }

    #[test]
    fn conditions_need_distinct_types() {
        let fs =
            json!({"status": {"conditions": [{"type": "Dangling"}, {"type": "Dangling"}, {}]}});
        assert_eq!(
            messages(status_causes(&fs)),
            [
                r#"status.conditions[1].type: Duplicate value: "Dangling""#,
                "status.conditions[2].type: Required value: must not be empty",
            ]
        );
    }
}
