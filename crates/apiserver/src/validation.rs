//! Name, label and annotation rules shared by every resource, worded as kube-apiserver words them.

use crate::status::FieldCause;
use serde_json::Value;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
/// Upstream's limit on the total size of annotations.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, of any length.
fn is_label_chars(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Problems with `s` as an RFC 1123 DNS subdomain (most object names).
pub fn dns1123_subdomain_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    if s.is_empty()
        // Upstream's subdomain regex limits only the total length, not each part's.
        || !s.split('.').all(is_label_chars)
    {
        out.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    out
}

/// Problems with `s` as a wildcard DNS subdomain (`*.example.com`: Ingress hosts).
pub fn wildcard_dns1123_subdomain_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    let ok = s
        .strip_prefix("*.")
        .is_some_and(|rest| rest.split('.').all(is_label_chars));
    if !ok {
        out.push("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
    }
    out
}

/// Problems with `s` as a port name (upstream's `IsValidPortName`: IANA service names).
pub fn port_name_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 15 {
        out.push("must be no more than 15 characters".to_string());
    }
    let b = s.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    } else if !b.iter().any(u8::is_ascii_lowercase) {
        out.push("must contain at least one letter (a-z)".into());
    } else if s.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    } else if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

/// Problems with `s` as an RFC 1123 DNS label (namespace names, Service names).
pub fn dns1123_label_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let chars_ok = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if b.is_empty()
        || !chars_ok
        || !b.first().is_some_and(u8::is_ascii_alphanumeric)
        || !b.last().is_some_and(u8::is_ascii_alphanumeric)
    {
        out.push(DNS1123_LABEL_MSG.to_string());
    }
    out
}

/// Problems with `s` as a path segment (the loosest name rule, used by custom resources).
pub fn path_segment_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s == "." || s == ".." {
        out.push(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            out.push(format!("may not contain '{bad}'"));
        }
    }
    out
}

fn qualified_name_part_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Problems with `s` as a qualified name (`[prefix/]name`: label and annotation keys).
pub fn qualified_name_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            out.push("prefix part must be non-empty".to_string());
        } else {
            for p in dns1123_subdomain_problems(prefix) {
                out.push(format!("prefix part {p}"));
            }
        }
        if name.contains('/') {
            out.push("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_string());
            return out;
        }
    }
    if name.is_empty() {
        out.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            out.push("name part must be no more than 63 characters".to_string());
        }
        if !qualified_name_part_ok(name) {
            out.push(QUALIFIED_NAME_MSG.to_string());
        }
    }
    out
}

/// Problems with `s` as a label value.
pub fn label_value_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    if !s.is_empty() && !qualified_name_part_ok(s) {
        out.push(LABEL_VALUE_MSG.to_string());
    }
    out
}

/// How a resource's names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most built-ins).
    Subdomain,
    /// RFC 1123 label (Namespace, Service).
    Label,
    /// Path segment only (custom resources, RBAC objects).
    PathSegment,
    /// An IP address in canonical form (IPAddresses, upstream's `ValidateIPAddressName`).
    IpAddress,
}

impl NameRule {
    /// The problems with `name` under this rule.
    pub fn problems(self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => dns1123_subdomain_problems(name),
            NameRule::Label => dns1123_label_problems(name),
            NameRule::PathSegment => path_segment_problems(name),
            NameRule::IpAddress => ip_address_problems(name),
        }
    }
}

/// Upstream's strict `IsValidIP`: a parseable address, written as Go's `netip` writes it (no
/// leading zeros, IPv6 in its RFC 5952 form).
pub fn ip_address_problems(value: &str) -> Vec<String> {
    match value.parse::<std::net::IpAddr>() {
        Err(_) => vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
        Ok(ip) if ip.to_string() != value => {
            vec![format!("must be in canonical form ({:?})", ip.to_string())]
        }
        Ok(_) => Vec::new(),
    }
}

/// Validates a label map (`ValidateLabels`): keys are qualified names, values label values;
/// upstream reports both on the map's own path.
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (k, v) in labels.as_object().into_iter().flatten() {
        for p in qualified_name_problems(k) {
            causes.push(FieldCause::invalid(path, &Value::String(k.clone()), p));
        }
        match v.as_str() {
            Some(s) => {
                for p in label_value_problems(s) {
                    causes.push(FieldCause::invalid(path, v, p));
                }
            }
            None => causes.push(FieldCause::type_invalid(format!("{path}.{k}"), v, "string")),
        }
    }
    causes
}

/// Validates an annotation map (`ValidateAnnotations`): keys are qualified names (compared in
/// lower case), and keys and values together stay within 256 KiB; reported on `path`.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let Some(annotations) = annotations.as_object() else {
        return causes;
    };
    let mut total = 0;
    for (k, v) in annotations {
        for p in qualified_name_problems(&k.to_lowercase()) {
            causes.push(FieldCause::invalid(path, &Value::String(k.clone()), p));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        causes.push(FieldCause {
            reason: "FieldValueTooLong",
            field: path.into(),
            message: format!(
                "{path}: Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
            ),
        });
    }
    causes
}

/// Validates the generic parts of `metadata`: name (by `rule`), generateName, labels, annotations,
/// finalizers and ownerReferences.
pub fn validate_object_meta(meta: &Value, rule: NameRule) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        if generate.is_empty() {
            causes.push(FieldCause::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for p in rule.problems(name) {
            causes.push(FieldCause::invalid(
                "metadata.name",
                &Value::String(name.into()),
                p,
            ));
        }
    }
    if let Some(labels) = meta.get("labels") {
        causes.extend(validate_labels(labels, "metadata.labels"));
    }
    if let Some(annotations) = meta.get("annotations") {
        causes.extend(validate_annotations(annotations, "metadata.annotations"));
    }
    if let Some(finalizers) = meta.get("finalizers").and_then(Value::as_array) {
        for (i, f) in finalizers.iter().enumerate() {
            let s = f.as_str().unwrap_or("");
            for p in qualified_name_problems(s) {
                causes.push(FieldCause::invalid(
                    format!("metadata.finalizers[{i}]"),
                    f,
                    p,
                ));
            }
        }
    }
    if let Some(owners) = meta.get("ownerReferences").and_then(Value::as_array) {
        let mut controllers = 0;
        for (i, owner) in owners.iter().enumerate() {
            for field in ["apiVersion", "kind", "name", "uid"] {
                if owner
                    .get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(FieldCause::invalid(
                        format!("metadata.ownerReferences[{i}].{field}"),
                        owner.get(field).unwrap_or(&Value::String(String::new())),
                        format!("{field} must not be empty"),
                    ));
                }
            }
            if owner.get("controller").and_then(Value::as_bool) == Some(true) {
                controllers += 1;
            }
        }
        if controllers > 1 {
            causes.push(FieldCause::invalid(
                "metadata.ownerReferences",
                &Value::Array(owners.clone()),
                "Only one reference can have Controller set to true",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(dns1123_subdomain_problems("my.name-1").is_empty());
        assert!(!dns1123_subdomain_problems("My_Name").is_empty());
        assert!(!dns1123_subdomain_problems("-a").is_empty());
        assert!(!dns1123_subdomain_problems(&"a".repeat(254)).is_empty());
        assert!(dns1123_subdomain_problems(&"a".repeat(100)).is_empty());
        assert!(!dns1123_subdomain_problems(&format!("{}_x", "a".repeat(63))).is_empty());
        assert!(!dns1123_subdomain_problems(&format!("{}Ⱥ", "a".repeat(62))).is_empty());
        assert!(dns1123_label_problems("ns-1").is_empty());
        assert!(!dns1123_label_problems("ns.1").is_empty());
        assert!(path_segment_problems("Any_Thing").is_empty());
        assert!(!path_segment_problems("a/b").is_empty());
    }

    #[test]
    fn labels_and_keys() {
        assert!(qualified_name_problems("example.com/role").is_empty());
        assert!(qualified_name_problems("app").is_empty());
        assert!(!qualified_name_problems("/app").is_empty());
        assert!(!qualified_name_problems("Example.com/x").is_empty());
        assert!(label_value_problems("").is_empty());
        assert!(!label_value_problems("-x").is_empty());
    }

    #[test]
    fn object_meta() {
        let causes = validate_object_meta(
            &json!({"name": "Bad_Name", "labels": {"ok": "v", "bad key": "v"}}),
            NameRule::Subdomain,
        );
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].field, "metadata.name");
        assert!(
            validate_object_meta(&json!({"generateName": "x-"}), NameRule::Subdomain).is_empty()
        );
        assert_eq!(
            validate_object_meta(&json!({}), NameRule::Subdomain)[0].reason,
            "FieldValueRequired"
        );
    }
}
