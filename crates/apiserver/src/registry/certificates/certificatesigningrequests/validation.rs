//! Validation of CertificateSigningRequests, as upstream's `pkg/apis/certificates/validation`:
//! a request that parses as a PEM `CERTIFICATE REQUEST` with a valid signature, known and unique
//! usages, a signer name of the form `example.com/signer-name`, at least 600 s of requested
//! duration, well-formed conditions (Approved, Denied and Failed only True, Approved and Denied
//! exclusive, no duplicates), a status certificate of PEM `CERTIFICATE` blocks; and on update,
//! which path may change what: no path removes an Approved/Denied/Failed condition, only
//! `approval` adds or changes Approved/Denied, only `status` sets the certificate (once).

use crate::status::FieldCause;
use crate::validation::{dns1123_label_problems, dns1123_subdomain_problems};
use base64::Engine as _;
use serde_json::Value;

/// Which write an update came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// The object itself (metadata only).
    Object,
    /// `/status` (the signer's certificate, Failed conditions).
    Status,
    /// `/approval` (Approved and Denied conditions).
    Approval,
}

/// The usages upstream knows, sorted as its messages list them.
const USAGES: [&str; 23] = [
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// The request's PEM text (`spec.request` is base64 in JSON).
pub(crate) fn request_pem(obj: &Value) -> Option<String> {
    let encoded = obj.pointer("/spec/request")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Why the request is not a signed PKCS#10 request, in Go's words where they are known.
pub(crate) fn request_problem(pem: Option<&str>) -> Option<String> {
    let Some(pem) = pem else {
        return Some("PEM block type must be CERTIFICATE REQUEST".into());
    };
    let block = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok();
    if block
        .as_ref()
        .is_none_or(|(_, b)| b.label != "CERTIFICATE REQUEST")
    {
        return Some("PEM block type must be CERTIFICATE REQUEST".into());
    }
    match rcgen::CertificateSigningRequestParams::from_pem(pem) {
        Ok(_) => None,
        Err(rcgen::Error::InvalidCertificationRequestSignature) => {
            Some("x509: signature verification failure".into())
        }
        Err(_) => Some("x509: malformed certificate request".into()),
    }
}

/// Go's `%#v` of a byte slice, as upstream shows an invalid request.
fn go_bytes(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("0x{b:x}")).collect();
    format!("[]byte{{{}}}", parts.join(", "))
}

/// The causes a new request is refused for.
pub(crate) fn create_causes(obj: &Value) -> Vec<FieldCause> {
    causes(obj, false)
}

fn causes(obj: &Value, tolerate_old: bool) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let pem = request_pem(obj);
    if let Some(problem) = request_problem(pem.as_deref()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(
                obj.pointer("/spec/request")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            )
            .unwrap_or_default();
        causes.push(FieldCause::invalid_shown(
            "spec.request",
            &go_bytes(&raw),
            problem,
        ));
    }
    let usages: Vec<&Value> = obj
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(|u| u.iter().collect())
        .unwrap_or_default();
    if usages.is_empty() {
        causes.push(FieldCause::required("spec.usages", ""));
    }
    let known: Vec<String> = USAGES.iter().map(|u| u.to_string()).collect();
    if !tolerate_old {
        for (i, usage) in usages.iter().enumerate() {
            if !usage.as_str().is_some_and(|u| USAGES.contains(&u)) {
                causes.push(FieldCause::not_supported(
                    format!("spec.usages[{i}]"),
                    usage,
                    &known,
                ));
            }
        }
        for (i, usage) in usages.iter().enumerate() {
            if usages[..i].contains(usage) {
                causes.push(FieldCause::duplicate(format!("spec.usages[{i}]"), usage));
            }
        }
    }
    let signer = obj
        .pointer("/spec/signerName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if signer == "kubernetes.io/legacy-unknown" {
        causes.push(FieldCause::invalid(
            "spec.signerName",
            &Value::from(signer),
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        causes.extend(signer_name_causes(signer));
    }
    if let Some(seconds) = obj
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        && seconds < 600
    {
        causes.push(FieldCause::invalid(
            "spec.expirationSeconds",
            &Value::from(seconds),
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
    causes.extend(condition_causes(obj));
    if let Some(problem) = certificate_problem(obj) {
        causes.push(FieldCause::invalid_shown(
            "status.certificate",
            "\"<certificate data>\"",
            problem,
        ));
    }
    causes
}

/// Upstream's `ValidateSignerName`.
fn signer_name_causes(signer: &str) -> Vec<FieldCause> {
    const FIELD: &str = "spec.signerName";
    if signer.is_empty() {
        return vec![FieldCause::required(FIELD, "")];
    }
    let Some((domain, path)) = signer.split_once('/').filter(|(_, p)| !p.contains('/')) else {
        return vec![FieldCause::invalid(
            FIELD,
            &Value::from(signer),
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    let mut causes = Vec::new();
    if domain.len() > 253 {
        causes.push(FieldCause {
            reason: "FieldValueTooLong",
            message: format!("{FIELD}: Too long: may not be more than 253 bytes"),
            field: FIELD.into(),
        });
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if let Some((label, problems)) = labels
        .iter()
        .map(|l| (l, dns1123_label_problems(l)))
        .find(|(_, p)| !p.is_empty())
    {
        for problem in problems {
            causes.push(FieldCause::invalid(
                FIELD,
                &Value::from(domain),
                format!("validating label {label:?}: {problem}"),
            ));
        }
    }
    if labels.len() < 2 {
        causes.push(FieldCause::invalid(
            FIELD,
            &Value::from(domain),
            "should be a domain with at least two segments separated by dots",
        ));
    }
    if let Some((label, problems)) = path
        .split('.')
        .map(|l| (l, dns1123_subdomain_problems(l)))
        .find(|(_, p)| !p.is_empty())
    {
        for problem in problems {
            causes.push(FieldCause::invalid(
                FIELD,
                &Value::from(path),
                format!("validating label {label:?}: {problem}"),
            ));
        }
    }
    let max = 253 + 253 + 63 + 1 + 1;
    if signer.len() > max {
        causes.push(FieldCause {
            reason: "FieldValueTooLong",
            message: format!("{FIELD}: Too long: may not be more than {max} bytes"),
            field: FIELD.into(),
        });
    }
    causes
}

fn conditions(obj: &Value) -> Vec<Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn of_type<'a>(conditions: &'a [Value], kind: &str) -> Vec<&'a Value> {
    conditions.iter().filter(|c| c["type"] == kind).collect()
}

/// Upstream's `validateConditions`.
fn condition_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let list = conditions(obj);
    let (mut approved, mut denied) = (false, false);
    for (i, c) in list.iter().enumerate() {
        let at = format!("status.conditions[{i}]");
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            causes.push(FieldCause::required(format!("{at}.type"), ""));
        }
        let status = c.get("status").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] = if matches!(kind, "Approved" | "Denied" | "Failed") {
            &["True"]
        } else {
            &["False", "True", "Unknown"]
        };
        if status.is_empty() {
            causes.push(FieldCause::required(format!("{at}.status"), ""));
        } else if !allowed.contains(&status) {
            causes.push(FieldCause::not_supported(
                format!("{at}.status"),
                &Value::from(status),
                &allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ));
        }
        let exclusive = match kind {
            "Approved" => {
                approved = true;
                denied
            }
            "Denied" => {
                denied = true;
                approved
            }
            _ => false,
        };
        if exclusive {
            causes.push(FieldCause::invalid(
                format!("{at}.type"),
                &Value::from(kind),
                "Approved and Denied conditions are mutually exclusive",
            ));
        }
        if list[..i].iter().any(|b| b.get("type") == c.get("type")) {
            causes.push(FieldCause::duplicate(
                format!("{at}.type"),
                &Value::from(kind),
            ));
        }
    }
    causes
}

/// Why `status.certificate` is not PEM `CERTIFICATE` blocks (none when it is empty).
fn certificate_problem(obj: &Value) -> Option<String> {
    let encoded = obj.pointer("/status/certificate")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    if bytes.is_empty() {
        return None;
    }
    let mut blocks = 0;
    for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let Ok(pem) = pem else { break };
        if pem.label != "CERTIFICATE" {
            return Some(format!(
                "only CERTIFICATE PEM blocks are allowed, found {:?}",
                pem.label
            ));
        }
        if pem.parse_x509().is_err() {
            return Some("x509: malformed certificate".into());
        }
        blocks += 1;
    }
    (blocks == 0).then(|| "must contain at least one CERTIFICATE PEM block".into())
}

/// The causes an update through `path` is refused for.
pub(crate) fn update_causes(new: &Value, old: &Value, path: Path) -> Vec<FieldCause> {
    let mut causes = causes(new, true);
    let (before, after) = (conditions(old), conditions(new));
    for kind in ["Approved", "Denied", "Failed"] {
        if of_type(&after, kind).len() < of_type(&before, kind).len() {
            causes.push(FieldCause::forbidden(
                "status.conditions",
                format!("updates may not remove a condition of type {kind:?}"),
            ));
        }
    }
    if path != Path::Approval {
        for kind in ["Approved", "Denied"] {
            let (was, is) = (of_type(&before, kind), of_type(&after, kind));
            if is.len() > was.len() {
                causes.push(FieldCause::forbidden(
                    "status.conditions",
                    format!("updates may not add a condition of type {kind:?}"),
                ));
            } else if is.len() == was.len() && is != was {
                causes.push(FieldCause::forbidden(
                    "status.conditions",
                    format!("updates may not modify a condition of type {kind:?}"),
                ));
            }
        }
    }
    let certificate = |v: &Value| {
        v.pointer("/status/certificate")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if certificate(new) != certificate(old) {
        if path != Path::Status {
            causes.push(FieldCause::forbidden(
                "status.certificate",
                "updates may not set certificate content",
            ));
        } else if !certificate(old).is_empty() {
            causes.push(FieldCause::forbidden(
                "status.certificate",
                "updates may not modify existing certificate content",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jane");
        let csr = params.serialize_request(&key).expect("csr");
        base64::engine::general_purpose::STANDARD.encode(csr.pem().expect("pem"))
    }

    fn messages(causes: Vec<FieldCause>) -> Vec<String> {
        causes.into_iter().map(|c| c.message).collect()
    }

    #[test]
    fn a_request_needs_a_signed_csr_usages_and_a_signer() {
        let good = json!({"spec": {"request": request(), "usages": ["client auth"],
            "signerName": "kubernetes.io/kube-apiserver-client"}});
        assert!(
            create_causes(&good).is_empty(),
            "{:?}",
            create_causes(&good)
        );
        let bad = json!({"spec": {"request": "aGk=", "usages": ["client auth", "flying", "client auth"],
            "signerName": "example", "expirationSeconds": 60}});
        assert_eq!(
            messages(create_causes(&bad)),
            [
                "spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST",
                "spec.usages[1]: Unsupported value: \"flying\": supported values: \"any\", \"cert sign\", \"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", \"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\"",
                "spec.usages[2]: Duplicate value: \"client auth\"",
                "spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form 'example.com/signer-name'",
                "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
            ]
        );
    }

    #[test]
    fn each_path_changes_only_its_own_part_of_the_status() {
        let old = json!({"spec": {"request": request(), "usages": ["client auth"],
            "signerName": "example.com/x"}});
        let mut approved = old.clone();
        approved["status"] = json!({"conditions": [{"type": "Approved", "status": "True"}]});
        assert!(update_causes(&approved, &old, Path::Approval).is_empty());
        assert_eq!(
            messages(update_causes(&approved, &old, Path::Status)),
            ["status.conditions: Forbidden: updates may not add a condition of type \"Approved\""]
        );
        // Approved and Denied at once, and an approval taken back.
        let mut both = approved.clone();
        both["status"]["conditions"] = json!([{"type": "Approved", "status": "True"},
            {"type": "Denied", "status": "True"}]);
        assert_eq!(
            messages(update_causes(&both, &approved, Path::Approval)),
            [
                "status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"
            ]
        );
        assert_eq!(
            messages(update_causes(&old, &approved, Path::Approval)),
            [
                "status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""
            ]
        );
        let mut issued = approved.clone();
        issued["status"]["certificate"] =
            json!(base64::engine::general_purpose::STANDARD.encode("junk"));
        assert_eq!(
            messages(update_causes(&issued, &approved, Path::Approval)),
            [
                "status.certificate: Invalid value: \"<certificate data>\": must contain at least one CERTIFICATE PEM block",
                "status.certificate: Forbidden: updates may not set certificate content",
            ]
        );
    }
}
