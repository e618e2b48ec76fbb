//! Validation of ResourceQuotas, as upstream's `ValidateResourceQuota`,
//! `ValidateResourceQuotaUpdate` and `ValidateResourceQuotaStatusUpdate`
//! (`pkg/apis/core/validation`): every name of `spec.hard` (and of `status.hard`/`status.used`) a
//! standard resource for quota or a qualified name, every quantity non-negative and whole for the
//! resources counted in units (object counts, extended resources), the scopes known, compatible
//! with the resources they limit and not contradicting each other, the scope selector's
//! operators and values as each scope takes them, and the scopes fixed once created. Also the
//! resource name and quantity rules LimitRanges share (`validateResourceName`,
//! `validateContainerResourceName`, `ValidateResourceQuantityValue`), with upstream's messages.
//!
//! Maps are visited in key order (Go visits them in random order, so its messages come in any
//! order). Values are shown as Go shows them: names quoted, a quantity as its canonical string
//! (unquoted, through its `String`, or quoted where upstream passes the string), the scopes and
//! the selector as Go's `%#v` of the internal types.

use crate::crd::schema::field::{self, Bad, go_quote};
use crate::quantity::Quantity;
use crate::status::{ApiError, FieldCause};
use crate::validation::qualified_name_problems;
use serde_json::{Map, Value};

/// Upstream's `isInvalidQuotaResource`.
const NOT_QUOTA_RESOURCE: &str = "must be a standard resource for quota";
/// Upstream's `isNotIntegerErrorMsg`.
const NOT_INTEGER: &str = "must be an integer";
/// Upstream's `isNegativeErrorMsg`.
const NEGATIVE: &str = "must be greater than or equal to 0";

/// Resources with a standard meaning to quota (`standardQuotaResources`), besides hugepages.
const STANDARD_QUOTA_RESOURCES: [&str; 19] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// Resources counted in whole units (`integerResources`), besides extended resources.
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// The compute resources the pod scopes apply to (`podComputeQuotaResources`).
const POD_COMPUTE_RESOURCES: [&str; 6] = [
    "cpu",
    "memory",
    "limits.cpu",
    "limits.memory",
    "requests.cpu",
    "requests.memory",
];

/// The scopes whose selector operator must be `Exists`.
const EXISTS_ONLY_SCOPES: [&str; 5] = [
    "BestEffort",
    "NotBestEffort",
    "Terminating",
    "NotTerminating",
    "CrossNamespacePodAffinity",
];

/// Scopes that cannot be asked for together.
const CONFLICTING_SCOPES: [(&str, &str); 2] = [
    ("BestEffort", "NotBestEffort"),
    ("Terminating", "NotTerminating"),
];

/// The causes a ResourceQuota is refused for on create (`ValidateResourceQuota`).
pub(crate) fn create_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = spec_causes(obj.get("spec").unwrap_or(&Value::Null));
    causes.extend(status_causes(obj));
    causes
}

/// The causes an update of a ResourceQuota is refused for (`ValidateResourceQuotaUpdate`): the
/// spec's rules, and `spec.scopes` unchanged (as a set).
pub(crate) fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut causes = spec_causes(new.get("spec").unwrap_or(&Value::Null));
    let scopes = |o: &Value| -> std::collections::BTreeSet<String> {
        strings(o.pointer("/spec/scopes"))
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    if scopes(new) != scopes(old) {
        causes.push(field::invalid(
            "spec.scopes",
            Bad::Raw(&scopes_shown(new.pointer("/spec/scopes"))),
            "field is immutable",
        ));
    }
    causes
}

/// The causes a write through `resourcequotas/status` is refused for
/// (`ValidateResourceQuotaStatusUpdate`): the names and quantities of `status.hard` and
/// `status.used`.
pub(crate) fn status_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for list in ["hard", "used"] {
        let path = format!("status.{list}");
        for (name, value) in sorted(obj.pointer(&format!("/status/{list}"))) {
            let at = field::key(&path, &name);
            causes.extend(quota_resource_name_causes(&name, &at));
            causes.extend(quantity_value_causes(&name, value, &at));
        }
    }
    causes
}

/// `ValidateResourceQuotaSpec`.
fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let hard = sorted(spec.get("hard"));
    for (name, value) in &hard {
        let at = field::key("spec.hard", name);
        causes.extend(quota_resource_name_causes(name, &at));
        causes.extend(quantity_value_causes(name, value, &at));
    }
    let hard: Vec<&str> = hard.iter().map(|(k, _)| k.as_str()).collect();
    causes.extend(scopes_causes(spec, &hard));
    if let Some(selector) = spec.get("scopeSelector").filter(|s| s.is_object()) {
        causes.extend(scope_selector_causes(spec, selector, &hard));
    }
    causes
}

/// `validateResourceQuotaScopes`.
fn scopes_causes(spec: &Value, hard: &[&str]) -> Vec<FieldCause> {
    let Some(scopes) = strings(spec.get("scopes")).filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    let shown = scopes_shown(spec.get("scopes"));
    let mut causes = Vec::new();
    for scope in &scopes {
        if !is_standard_scope(scope) {
            causes.push(field::invalid(
                "spec.scopes",
                Bad::Raw(&shown),
                "unsupported scope",
            ));
        }
        for resource in hard {
            if is_standard_quota_resource(resource) && !scope_applies_to(scope, resource) {
                causes.push(field::invalid(
                    "spec.scopes",
                    Bad::Raw(&shown),
                    "unsupported scope applied to resource",
                ));
            }
        }
    }
    for (a, b) in CONFLICTING_SCOPES {
        if scopes.iter().any(|s| s == a) && scopes.iter().any(|s| s == b) {
            causes.push(field::invalid(
                "spec.scopes",
                Bad::Raw(&shown),
                "conflicting scopes",
            ));
        }
    }
    causes
}

/// `validateScopedResourceSelectorRequirement` (upstream names the requirements' fields without
/// their index).
fn scope_selector_causes(spec: &Value, selector: &Value, hard: &[&str]) -> Vec<FieldCause> {
    const PATH: &str = "spec.scopeSelector.matchExpressions";
    let mut causes = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let requirements = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for requirement in requirements {
        let scope = str_of(requirement, "scopeName");
        let operator = str_of(requirement, "operator");
        if !is_standard_scope(scope) {
            causes.push(field::invalid(
                &field::child(PATH, "scopeName"),
                Bad::Str(scope),
                "unsupported scope",
            ));
        }
        for resource in hard {
            if is_standard_quota_resource(resource) && !scope_applies_to(scope, resource) {
                causes.push(field::invalid(
                    PATH,
                    Bad::Raw(&selector_shown(selector)),
                    "unsupported scope applied to resource",
                ));
            }
        }
        if EXISTS_ONLY_SCOPES.contains(&scope) && operator != "Exists" {
            causes.push(field::invalid(
                &field::child(PATH, "operator"),
                Bad::Str(operator),
                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        let values = requirement.get("values");
        let count = values.and_then(Value::as_array).map_or(0, Vec::len);
        match operator {
            "In" | "NotIn" if count == 0 => causes.push(field::required(
                &field::child(PATH, "values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            )),
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if count != 0 => causes.push(field::invalid(
                &field::child(PATH, "values"),
                Bad::Raw(&go_slice("[]string", values)),
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
            )),
            "Exists" | "DoesNotExist" => {}
            _ => causes.push(field::invalid(
                &field::child(PATH, "operator"),
                Bad::Str(operator),
                "not a valid selector operator",
            )),
        }
        seen.push(scope);
    }
    for (a, b) in CONFLICTING_SCOPES {
        if seen.contains(&a) && seen.contains(&b) {
            // Upstream shows `spec.scopes` here, not the selector.
            causes.push(field::invalid(
                PATH,
                Bad::Raw(&scopes_shown(spec.get("scopes"))),
                "conflicting scopes",
            ));
        }
    }
    causes
}

/// `IsStandardResourceQuotaScope` (`VolumeAttributesClass` is behind a feature gate that 1.33
/// leaves off).
fn is_standard_scope(scope: &str) -> bool {
    matches!(
        scope,
        "Terminating"
            | "NotTerminating"
            | "BestEffort"
            | "NotBestEffort"
            | "PriorityClass"
            | "CrossNamespacePodAffinity"
    )
}

/// `IsResourceQuotaScopeValidForResource`.
fn scope_applies_to(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => {
            resource == "pods" || POD_COMPUTE_RESOURCES.contains(&resource)
        }
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// `IsQuotaHugePageResourceName`.
fn is_quota_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// `IsStandardQuotaResourceName`.
pub(crate) fn is_standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name) || is_quota_hugepages(name)
}

/// `IsStandardResourceName`: upstream's list is the quota resources' and `storage`.
fn is_standard_resource(name: &str) -> bool {
    name == "storage" || is_standard_quota_resource(name)
}

/// `IsNativeResource`: unprefixed, or in the `kubernetes.io/` domain.
pub(crate) fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: outside `kubernetes.io/`, not `requests.`-prefixed, and a qualified
/// name once quota prefixes it with `requests.`.
pub(crate) fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && qualified_name_problems(&format!("requests.{name}")).is_empty()
}

/// `IsOvercommitAllowed`: native resources but hugepages.
pub(crate) fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !name.starts_with("hugepages-")
}

/// `IsIntegerResourceName`.
fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

fn name_invalid(path: &str, name: &str, detail: &str) -> FieldCause {
    field::invalid(path, Bad::Str(name), detail)
}

/// `validateResourceName`: a qualified name, and a standard resource when it has no domain.
pub(crate) fn resource_name_causes(name: &str, path: &str) -> Vec<FieldCause> {
    let causes: Vec<FieldCause> = qualified_name_problems(name)
        .iter()
        .map(|problem| name_invalid(path, name, problem))
        .collect();
    if !causes.is_empty() {
        return causes;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        return vec![name_invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    Vec::new()
}

/// `validateContainerResourceName`: as [`resource_name_causes`], then a standard container
/// resource when unprefixed, or an extended resource name when outside `kubernetes.io/`.
pub(crate) fn container_resource_name_causes(name: &str, path: &str) -> Vec<FieldCause> {
    let mut causes = resource_name_causes(name, path);
    if !name.contains('/') {
        let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
            || name.starts_with("hugepages-");
        if !standard {
            causes.push(name_invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        causes.push(name_invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    causes
}

/// `ValidateResourceQuotaResourceName`.
fn quota_resource_name_causes(name: &str, path: &str) -> Vec<FieldCause> {
    let mut causes = resource_name_causes(name, path);
    if !name.contains('/') && !is_standard_quota_resource(name) {
        causes.push(name_invalid(path, name, NOT_QUOTA_RESOURCE));
    }
    causes
}

/// Upstream's decoding error for a quantity that does not parse (`resource.ErrFormatWrong`),
/// in the words of a body that cannot be decoded: the request is a 400 BadRequest, before any
/// validation.
pub(crate) fn quantity_format_error(kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"v1\" cannot be handled as a {kind}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    ))
}

/// Whether some value of the resource lists `lists` (objects of quantities) is not a quantity.
pub(crate) fn has_malformed_quantity<'a>(lists: impl IntoIterator<Item = &'a Value>) -> bool {
    lists
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(Map::values)
        .any(|v| quantity(v).is_none())
}

/// A quantity as the client wrote it (a string, or a bare number as Go's decoder takes it);
/// None when it is not one (the decoder refuses those before validation upstream).
pub(crate) fn quantity(value: &Value) -> Option<Quantity> {
    match value {
        Value::String(s) => Quantity::parse(s),
        Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

/// `ValidateResourceQuantityValue`: not negative, and whole for resources counted in units.
/// (Upstream checks wholeness on `MilliValue`, which stops at the largest int64.)
pub(crate) fn quantity_value_causes(name: &str, value: &Value, path: &str) -> Vec<FieldCause> {
    let Some(q) = quantity(value) else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    if q.nanos() < 0 {
        causes.push(field::invalid(path, Bad::Str(&q.to_string()), NEGATIVE));
    }
    let milli = q
        .milli_value()
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    if is_integer_resource(name) && milli % 1000 != 0 {
        causes.push(field::invalid(path, Bad::Raw(&q.to_string()), NOT_INTEGER));
    }
    causes
}

/// The entries of a resource list, by name.
pub(crate) fn sorted(list: Option<&Value>) -> Vec<(String, &Value)> {
    let mut entries: Vec<(String, &Value)> = list
        .and_then(Value::as_object)
        .map(Map::iter)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A list of strings; None when absent or null.
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    let items = v?.as_array()?;
    Some(
        items
            .iter()
            .map(|s| s.as_str().unwrap_or("").to_string())
            .collect(),
    )
}

/// Go's `%#v` of a slice of strings of type `ty`: `ty(nil)` when absent, `ty{"a", "b"}`.
fn go_slice(ty: &str, v: Option<&Value>) -> String {
    match strings(v) {
        None => format!("{ty}(nil)"),
        Some(items) => {
            let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
            format!("{ty}{{{}}}", quoted.join(", "))
        }
    }
}

/// `spec.scopes` as Go's `%#v` shows the internal `[]core.ResourceQuotaScope`.
fn scopes_shown(v: Option<&Value>) -> String {
    go_slice("[]core.ResourceQuotaScope", v)
}

/// `spec.scopeSelector` as Go's `%#v` shows the internal `core.ScopeSelector`.
fn selector_shown(selector: &Value) -> String {
    const TY: &str = "core.ScopedResourceSelectorRequirement";
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => format!("[]{TY}(nil)"),
        Some(items) => {
            let shown: Vec<String> = items
                .iter()
                .map(|r| {
                    format!(
                        "{TY}{{ScopeName:{}, Operator:{}, Values:{}}}",
                        go_quote(str_of(r, "scopeName")),
                        go_quote(str_of(r, "operator")),
                        go_slice("[]string", r.get("values"))
                    )
                })
                .collect();
            format!("[]{TY}{{{}}}", shown.join(", "))
        }
    };
    format!("core.ScopeSelector{{MatchExpressions:{expressions}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(causes: &[FieldCause]) -> Vec<&str> {
        causes.iter().map(|c| c.message.as_str()).collect()
    }

    fn quota(spec: Value) -> Value {
        json!({"metadata": {"name": "q"}, "spec": spec})
    }

    #[test]
    fn a_valid_quota_passes() {
        let q = quota(json!({
            "hard": {"pods": "10", "requests.cpu": "1500m", "count/deployments.apps": "2",
                     "requests.nvidia.com/gpu": "4", "hugepages-2Mi": "1Gi",
                     "gold.storageclass.storage.k8s.io/requests.storage": "10Gi"},
        }));
        assert!(create_causes(&q).is_empty(), "{:?}", create_causes(&q));
        let scoped = quota(json!({
            "hard": {"pods": "1", "cpu": "1"},
            "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
                {"scopeName": "NotTerminating", "operator": "Exists"}]},
        }));
        assert!(create_causes(&scoped).is_empty());
    }

    #[test]
    fn names_and_quantities() {
        let q = quota(json!({"hard": {
            "foo": "1", "storage": "1Gi", "pods": "1.5", "services": "-1",
            "nvidia.com/gpu": "500m", "requests.cpu": "-100m"}}));
        assert_eq!(
            messages(&create_causes(&q)),
            vec![
                r#"spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified"#,
                r#"spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota"#,
                "spec.hard[nvidia.com/gpu]: Invalid value: 500m: must be an integer",
                "spec.hard[pods]: Invalid value: 1500m: must be an integer",
                r#"spec.hard[requests.cpu]: Invalid value: "-100m": must be greater than or equal to 0"#,
                r#"spec.hard[services]: Invalid value: "-1": must be greater than or equal to 0"#,
                r#"spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota"#,
            ]
        );
    }

    #[test]
    fn scopes() {
        let q = quota(json!({"hard": {"pods": "1", "requests.storage": "1Gi"},
                             "scopes": ["BestEffort", "NotBestEffort", "Nope"]}));
        let shown = r#"[]core.ResourceQuotaScope{"BestEffort", "NotBestEffort", "Nope"}"#;
        assert_eq!(
            messages(&create_causes(&q)),
            vec![
                format!(
                    "spec.scopes: Invalid value: {shown}: unsupported scope applied to resource"
                ),
                format!(
                    "spec.scopes: Invalid value: {shown}: unsupported scope applied to resource"
                ),
                format!("spec.scopes: Invalid value: {shown}: unsupported scope"),
                format!("spec.scopes: Invalid value: {shown}: conflicting scopes"),
            ]
        );
        let compute = quota(json!({"hard": {"cpu": "1"}, "scopes": ["BestEffort"]}));
        assert_eq!(
            messages(&create_causes(&compute)),
            vec![
                r#"spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource"#
            ]
        );
    }

    #[test]
    fn scope_selector() {
        let q = quota(
            json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "Terminating", "operator": "In", "values": ["x"]},
            {"scopeName": "PriorityClass", "operator": "NotIn"},
            {"scopeName": "NotTerminating", "operator": "Exists", "values": ["y"]},
            {"scopeName": "Bogus", "operator": "Gt"}]}}),
        );
        assert_eq!(
            messages(&create_causes(&q)),
            vec![
                "spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                "spec.scopeSelector.matchExpressions.values: Invalid value: []string{\"y\"}: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                "spec.scopeSelector.matchExpressions.scopeName: Invalid value: \"Bogus\": unsupported scope",
                "spec.scopeSelector.matchExpressions.operator: Invalid value: \"Gt\": not a valid selector operator",
                "spec.scopeSelector.matchExpressions: Invalid value: []core.ResourceQuotaScope(nil): conflicting scopes",
            ]
        );
        let applied = quota(json!({"hard": {"services": "1"}, "scopeSelector": {
            "matchExpressions": [{"scopeName": "BestEffort", "operator": "Exists"}]}}));
        assert_eq!(
            messages(&create_causes(&applied)),
            vec![
                r#"spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{core.ScopedResourceSelectorRequirement{ScopeName:"BestEffort", Operator:"Exists", Values:[]string(nil)}}}: unsupported scope applied to resource"#
            ]
        );
    }

    #[test]
    fn updates_keep_the_scopes_and_status_is_checked() {
        let old = quota(json!({"hard": {"pods": "1"}, "scopes": ["Terminating"]}));
        let same = quota(json!({"hard": {"pods": "2"}, "scopes": ["Terminating"]}));
        assert!(update_causes(&same, &old).is_empty());
        let changed = quota(json!({"hard": {"pods": "2"}, "scopes": ["NotTerminating"]}));
        assert_eq!(
            messages(&update_causes(&changed, &old)),
            vec![
                r#"spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotTerminating"}: field is immutable"#
            ]
        );
        let status = json!({"status": {"hard": {"pods": "1"}, "used": {"pods": "-1", "x": "1"}}});
        assert_eq!(
            messages(&status_causes(&status)),
            vec![
                r#"status.used[pods]: Invalid value: "-1": must be greater than or equal to 0"#,
                r#"status.used[x]: Invalid value: "x": must be a standard resource type or fully qualified"#,
                r#"status.used[x]: Invalid value: "x": must be a standard resource for quota"#,
            ]
        );
    }
}
