//! What a project, a domain, a group, a version and a kind may be called — kubebuilder's rules
//! (which are the API server's) plus what the generated Rust needs — and the names derived
//! from them (plural, module and variable names).

/// Why a name was refused; the message says what would be accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct NameError {
    /// What the name is (`project name`, `group`, ...).
    pub what: &'static str,
    /// The name given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn refuse(what: &'static str, value: &str, reason: impl Into<String>) -> NameError {
    NameError {
        what,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Whether `label` is a DNS-1123 label: at most 63 lowercase alphanumerics or `-`, starting
/// and ending with an alphanumeric.
fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Checks a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels.
fn dns1123_subdomain(what: &'static str, value: &str) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(refuse(what, value, "must not be empty"));
    }
    if value.len() > 253 {
        return Err(refuse(what, value, "must be no more than 253 characters"));
    }
    if !value.split('.').all(is_dns1123_label) {
        return Err(refuse(
            what,
            value,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character (e.g. \
             'example.com')",
        ));
    }
    Ok(())
}

/// Crate names Cargo or Rust reserve.
const RESERVED_CRATES: &[&str] = &[
    "core",
    "std",
    "alloc",
    "proc_macro",
    "proc-macro",
    "test",
    "self",
    "crate",
    "super",
];

/// A project name: a DNS-1123 label (it names the binary, the namespace `NAME-system` and the
/// objects of its manifests) that Cargo accepts as a package name.
pub fn project_name(name: &str) -> Result<(), NameError> {
    const WHAT: &str = "project name";
    if !is_dns1123_label(name) {
        return Err(refuse(
            WHAT,
            name,
            "must be a DNS-1123 label: at most 63 lowercase alphanumeric characters or '-', \
             starting and ending with an alphanumeric character (e.g. 'guestbook-operator')",
        ));
    }
    if name.as_bytes()[0].is_ascii_digit() {
        return Err(refuse(
            WHAT,
            name,
            "must start with a letter (it names the Rust crate)",
        ));
    }
    if name.len() + "-controller-manager-leader-election".len() > 253 {
        return Err(refuse(
            WHAT,
            name,
            "is too long for the names derived from it",
        ));
    }
    if RESERVED_CRATES.contains(&name) {
        return Err(refuse(WHAT, name, "is reserved by Rust"));
    }
    Ok(())
}

/// A domain: a DNS-1123 subdomain (`example.com`).
pub fn domain(domain: &str) -> Result<(), NameError> {
    dns1123_subdomain("domain", domain)
}

/// A group: a DNS-1123 subdomain, which with the domain (`GROUP.DOMAIN`) is one too.
pub fn group(group: &str, domain: &str) -> Result<(), NameError> {
    dns1123_subdomain("group", group)?;
    dns1123_subdomain("group", &full_group(group, domain))
}

/// A version, as kubebuilder accepts it: `v` and a number, then optionally `alpha` or `beta` and a number (`v1`,
/// `v1alpha1`, `v2beta3`).
pub fn version(version: &str) -> Result<(), NameError> {
    let valid = version.strip_prefix('v').is_some_and(|rest| {
        let major_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (major, stage) = rest.split_at(major_end);
        let number =
            |digits: &str| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        !major.is_empty()
            && (stage.is_empty()
                || stage.strip_prefix("alpha").is_some_and(number)
                || stage.strip_prefix("beta").is_some_and(number))
    });
    if valid {
        Ok(())
    } else {
        Err(refuse(
            "version",
            version,
            "must be 'v' and a number, optionally followed by 'alpha' or 'beta' and a \
             number (e.g. v1, v1alpha1, v2beta3)",
        ))
    }
}

/// Names the generated Rust uses next to the kind's: a kind named so would not compile.
const TAKEN_KINDS: &[&str] = &[
    "Self",
    "Result",
    "Option",
    "Some",
    "None",
    "Ok",
    "Err",
    "Box",
    "Vec",
    "String",
    "Arc",
    "BTreeMap",
    "Api",
    "Client",
    "Resource",
    "ResourceExt",
    "Context",
    "Action",
    "Request",
    "Controller",
    "RunnableController",
    "ReconcileError",
    "Manager",
    "Recorder",
    "EventType",
    "Event",
    "ConfigMap",
    "Condition",
    "Time",
    "Timestamp",
    "Lister",
    "InformerScope",
    "OperationResult",
    "Access",
    "CustomResource",
    "KubeSchema",
    "JsonSchema",
    "Serialize",
    "Deserialize",
    "TestEnv",
];

/// Rust's keywords (strict and reserved), which no module may be named.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A kind: UpperCamelCase ASCII (a letter, then letters and digits), at most 63 characters.
pub fn kind(kind: &str) -> Result<(), NameError> {
    const WHAT: &str = "kind";
    let mut chars = kind.chars();
    let starts_upper = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return Err(refuse(
            WHAT,
            kind,
            "must be UpperCamelCase: an uppercase letter, then letters and digits (e.g. \
             'CronJob')",
        ));
    }
    if kind.len() > 63 {
        return Err(refuse(WHAT, kind, "must be no more than 63 characters"));
    }
    if RUST_KEYWORDS.contains(&snake(kind).as_str()) {
        return Err(refuse(
            WHAT,
            kind,
            "names a Rust keyword in snake_case, which its modules are named in; choose another",
        ));
    }
    if TAKEN_KINDS.contains(&kind) {
        return Err(refuse(
            WHAT,
            kind,
            "is a name the generated Rust already uses; choose another",
        ));
    }
    Ok(())
}

/// The API group of `group` in `domain`.
pub fn full_group(group: &str, domain: &str) -> String {
    format!("{group}.{domain}")
}

/// The plural resource name, as kube-derive makes it (`captains`, `policies`, `boxes`).
pub fn plural(kind: &str) -> String {
    let word = kind.to_ascii_lowercase();
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| word.ends_with(end))
    {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y')
        && stem
            .chars()
            .last()
            .is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    {
        return format!("{stem}ies");
    }
    format!("{word}s")
}

/// `CronJob` as a Rust item name: `cron_job`.
pub fn snake(kind: &str) -> String {
    let mut out = String::with_capacity(kind.len() + 4);
    let chars: Vec<char> = kind.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let previous_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i > 0 && (previous_lower || (next_lower && chars[i - 1].is_ascii_uppercase())) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// The Rust module of a group and version: `crew_v1`, `web_app_v1beta1`.
pub fn module(group: &str, version: &str) -> String {
    format!("{group}_{version}").replace(['.', '-'], "_")
}

/// The Rust crate name of a project: `guestbook_operator`.
pub fn crate_name(project: &str) -> String {
    project.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_dns_labels_cargo_accepts() {
        for good in ["guestbook", "guestbook-operator", "a1"] {
            assert_eq!(project_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Guestbook",
            "guest_book",
            "-guest",
            "guest-",
            "1guest",
            "test",
            &"a".repeat(64),
        ] {
            assert!(project_name(bad).is_err(), "{bad}");
        }
        let error = project_name("Guestbook").unwrap_err().to_string();
        assert!(
            error.starts_with("invalid project name \"Guestbook\": must be a DNS-1123 label"),
            "{error}"
        );
    }

    #[test]
    fn groups_and_domains_are_dns_subdomains() {
        assert_eq!(domain("example.com"), Ok(()));
        assert_eq!(group("crew", "example.com"), Ok(()));
        assert_eq!(group("batch.tutorial", "kubebuilder.io"), Ok(()));
        for bad in ["", "Crew", "crew_", "crew..x", "-crew", "crew.", "cr ew"] {
            assert!(group(bad, "example.com").is_err(), "{bad}");
        }
        assert!(domain("Example.com").is_err());
        let long = "a".repeat(63);
        let domain = [long.as_str(); 3].join(".");
        assert_eq!(
            group(&long, &domain).unwrap_err().reason,
            "must be no more than 253 characters"
        );
    }

    #[test]
    fn versions_are_kube_versions() {
        for good in ["v1", "v2", "v10", "v1alpha1", "v2beta3", "v1beta12"] {
            assert_eq!(version(good), Ok(()), "{good}");
        }
        for bad in [
            "", "1", "v", "V1", "v1alpha", "v1gamma1", "v1beta1x", "v1.2",
        ] {
            assert!(version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_are_upper_camel_case_and_free_in_rust() {
        for good in ["Captain", "CronJob", "S3Bucket", "X"] {
            assert_eq!(kind(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "captain",
            "Cron-Job",
            "Cron_Job",
            "9Lives",
            "Café",
            "Self",
            "Match",
            "Type",
            "ConfigMap",
            &format!("A{}", "b".repeat(63)),
        ] {
            assert!(kind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_names() {
        assert_eq!(plural("Captain"), "captains");
        assert_eq!(plural("Policy"), "policies");
        assert_eq!(plural("Day"), "days");
        assert_eq!(plural("Box"), "boxes");
        assert_eq!(plural("Match"), "matches");
        assert_eq!(plural("Bus"), "buses");
        assert_eq!(snake("Captain"), "captain");
        assert_eq!(snake("CronJob"), "cron_job");
        assert_eq!(snake("HTTPRoute"), "http_route");
        assert_eq!(snake("S3Bucket"), "s3_bucket");
        assert_eq!(module("web-app", "v1beta1"), "web_app_v1beta1");
        assert_eq!(module("batch.tutorial", "v1"), "batch_tutorial_v1");
        assert_eq!(crate_name("guestbook-operator"), "guestbook_operator");
        assert_eq!(full_group("crew", "example.com"), "crew.example.com");
    }
}
