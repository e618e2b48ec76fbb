//! Validation of a webhook's `clientConfig` as upstream's `apiserver/pkg/util/webhook`
//! validates it: a `url` must be an `https` URL with a host and without user information,
//! fragment or query; a `service` needs a name and a namespace, a valid port, and a path made
//! of DNS subdomain segments. Used by CRD conversion webhooks (`spec.conversion`).

use crate::crd::schema::field::{self, Bad};
use crate::registry::admissionregistration::defaults::DEFAULT_SERVICE_PORT;
use crate::status::FieldCause;
use crate::validation::dns1123_subdomain_problems;
use serde_json::Value;

/// The parts of a URL Go's `url.Parse` gives that the rules look at.
struct UrlParts<'a> {
    scheme: String,
    host: &'a str,
    user: Option<&'a str>,
    fragment: &'a str,
    query: &'a str,
}

/// Splits `url` as Go's `url.Parse` does, or says why it cannot.
fn parse(url: &str) -> Result<UrlParts<'_>, String> {
    let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (scheme, rest) = match rest.find(':') {
        Some(0) => return Err(format!("parse {url:?}: missing protocol scheme")),
        Some(i)
            if rest[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && rest[..1].chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            (rest[..i].to_ascii_lowercase(), &rest[i + 1..])
        }
        _ => (String::new(), rest),
    };
    let (mut host, mut user) = ("", None);
    if let Some(after) = rest.strip_prefix("//") {
        let authority = &after[..after.find('/').unwrap_or(after.len())];
        match authority.rsplit_once('@') {
            Some((u, h)) => {
                user = Some(u);
                host = h;
            }
            None => host = authority,
        }
    }
    Ok(UrlParts {
        scheme,
        host,
        user,
        fragment,
        query,
    })
}

/// `ValidateWebhookURL` with https required.
pub fn validate_url(path: &str, url: &str, out: &mut Vec<FieldCause>) {
    const FORM: &str = "; desired format: https://host[/path]";
    let parts = match parse(url) {
        Ok(p) => p,
        Err(e) => {
            out.push(field::required(
                path,
                &format!("url must be a valid URL: {e}{FORM}"),
            ));
            return;
        }
    };
    if parts.scheme != "https" {
        out.push(field::invalid(
            path,
            Bad::Str(&parts.scheme),
            &format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if parts.host.is_empty() {
        out.push(field::invalid(
            path,
            Bad::Str(""),
            &format!("host must be provided{FORM}"),
        ));
    }
    if let Some(user) = parts.user {
        out.push(field::invalid(
            path,
            Bad::Str(user),
            "user information is not permitted in the URL",
        ));
    }
    if !parts.fragment.is_empty() {
        out.push(field::invalid(
            path,
            Bad::Str(parts.fragment),
            "fragments are not permitted in the URL",
        ));
    }
    if !parts.query.is_empty() {
        out.push(field::invalid(
            path,
            Bad::Str(parts.query),
            "query parameters are not permitted in the URL",
        ));
    }
}

/// `ValidateWebhookService`: `service` is `{name, namespace, path, port}` (port defaulted to 443).
pub fn validate_service(path: &str, service: &Value, out: &mut Vec<FieldCause>) {
    let text = |k: &str| service.get(k).and_then(Value::as_str).unwrap_or("");
    if text("name").is_empty() {
        out.push(field::required(
            &field::child(path, "name"),
            "service name is required",
        ));
    }
    if text("namespace").is_empty() {
        out.push(field::required(
            &field::child(path, "namespace"),
            "service namespace is required",
        ));
    }
    let port = service
        .get("port")
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(DEFAULT_SERVICE_PORT));
    if !(1..=65535).contains(&port) {
        out.push(field::invalid(
            &field::child(path, "port"),
            Bad::Int(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let Some(url_path) = service.get("path").and_then(Value::as_str) else {
        return;
    };
    let pp = field::child(path, "path");
    if url_path.is_empty() || url_path == "/" {
        return;
    }
    if url_path == "//" {
        out.push(field::invalid(
            &pp,
            Bad::Str(url_path),
            "segment[0] may not be empty",
        ));
        return;
    }
    if !url_path.starts_with('/') {
        out.push(field::invalid(
            &pp,
            Bad::Str(url_path),
            "must start with a '/'",
        ));
    }
    // As upstream: the first character is dropped whatever it is, then one trailing '/'.
    let mut check = url_path.get(1..).unwrap_or("");
    check = check.strip_suffix('/').unwrap_or(check);
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            out.push(field::invalid(
                &pp,
                Bad::Str(url_path),
                &format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for problem in dns1123_subdomain_problems(step) {
            out.push(field::invalid(
                &pp,
                Bad::Str(url_path),
                &format!("segment[{i}]: {problem}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url_messages(url: &str) -> Vec<String> {
        let mut out = Vec::new();
        validate_url("u", url, &mut out);
        out.into_iter().map(|c| c.message).collect()
    }

    #[test]
    fn urls_must_be_https_with_a_host_only() {
        assert!(url_messages("https://example.com:8443/convert").is_empty());
        assert_eq!(
            url_messages("http://example.com/x?a=b#f"),
            vec![
                r#"u: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#,
                r#"u: Invalid value: "f": fragments are not permitted in the URL"#,
                r#"u: Invalid value: "a=b": query parameters are not permitted in the URL"#,
            ]
        );
        assert_eq!(
            url_messages("https://me@/x"),
            vec![
                r#"u: Invalid value: "": host must be provided; desired format: https://host[/path]"#,
                r#"u: Invalid value: "me": user information is not permitted in the URL"#,
            ]
        );
    }

    #[test]
    fn services_need_a_name_a_namespace_and_a_clean_path() {
        let mut out = Vec::new();
        validate_service("s", &json!({"port": 0, "path": "/a//B_/"}), &mut out);
        let messages: Vec<String> = out.into_iter().map(|c| c.message).collect();
        assert_eq!(
            messages[0],
            "s.name: Required value: service name is required"
        );
        assert_eq!(
            messages[1],
            "s.namespace: Required value: service namespace is required"
        );
        assert_eq!(
            messages[2],
            "s.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            messages[3],
            r#"s.path: Invalid value: "/a//B_/": segment[1] may not be empty"#
        );
        assert!(messages[4].starts_with(
            r#"s.path: Invalid value: "/a//B_/": segment[2]: a lowercase RFC 1123 subdomain"#
        ));
    }
}
