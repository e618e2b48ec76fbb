//! The CSR signer of kube-controller-manager (`pkg/controller/certificates/signer`) for the
//! `kubernetes.io/kube-apiserver-client` signer, with the cluster CA that the server trusts for
//! client certificates: a request that is Approved (and not Failed) and has no certificate yet
//! gets one, so `kubectl certificate approve` issues a certificate the server then accepts.
//!
//! As upstream: the usages must include `client auth` and may add only `digital signature` and
//! `key encipherment`, or the request gets condition Failed `SignerValidationFailure` with
//! upstream's message; the certificate is the request's subject and key, backdated five
//! minutes, valid for `spec.expirationSeconds` (at least 10 minutes) or at most a year
//! (`--cluster-signing-duration`'s default). The certificate is written through `status` as the
//! signer's service account would (the server's own identity here). Requests for other signers
//! are left to their own signers. Runs only when the server serves TLS (without a CA there is
//! nothing to sign with).

use super::changes::{Change, Changes};
use super::{str_at as s, write_options};
use crate::admission::certificate_subject_restriction::KUBE_APISERVER_CLIENT;
use crate::registry::certificates::certificatesigningrequests::validation::request_pem;
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest, now};
use crate::status::ApiError;
use crate::storage::EventType;
use crate::tls::pki::CertificateAuthority;
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of the certificates written (kube-controller-manager's).
const MANAGER: &str = "kube-controller-manager";

/// The longest certificate issued (`--cluster-signing-duration`'s default, a year).
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The shortest (twice the backdating).
const MIN_DURATION: Duration = Duration::from_secs(600);

/// Runs until the store closes.
pub async fn run(rest: Rest, ca: CertificateAuthority) {
    let Some(csrs) =
        rest.catalog
            .snapshot()
            .find("certificates.k8s.io", "v1", "certificatesigningrequests")
    else {
        return;
    };
    let mut changes = Changes::new(&rest, Some(csrs.storage_key.clone()));
    while let Some(change) = changes.next().await {
        let names: Vec<String> = match change {
            Change::Resync { .. } => match rest.list(&csrs, None, &ListOptions::default()).await {
                Ok(list) => list
                    .items
                    .iter()
                    .map(|o| s(&o.value(), "/metadata/name").to_string())
                    .collect(),
                Err(_) => continue,
            },
            Change::Events(events) => events
                .into_iter()
                .filter(|e| e.event_type != EventType::Deleted)
                .map(|e| e.key.name.to_string())
                .collect(),
        };
        for name in names {
            if let Err(e) = sign(&rest, &csrs, &ca, &name).await {
                tracing::debug!(csr = name, error = %e, "signing certificate signing request");
            }
        }
    }
}

/// Whether `csr` has a condition `kind` that is True.
fn has(csr: &Value, kind: &str) -> bool {
    csr.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| s(c, "/type") == kind && matches!(s(c, "/status"), "True" | ""))
        })
}

/// Upstream's `validAPIServerClientUsages`.
fn usage_problem(usages: &[String]) -> Option<String> {
    for usage in usages {
        if !matches!(
            usage.as_str(),
            "digital signature" | "key encipherment" | "client auth"
        ) {
            return Some(format!("invalid usage for client certificate: {usage}"));
        }
    }
    (!usages.iter().any(|u| u == "client auth"))
        .then(|| "missing required usage for client certificate: client auth".into())
}

/// Signs request `name` when it is approved, not failed, unsigned and for this signer.
async fn sign(
    rest: &Rest,
    csrs: &Arc<ResourceType>,
    ca: &CertificateAuthority,
    name: &str,
) -> Result<(), ApiError> {
    let csr = match rest.get_value(csrs, None, name) {
        Ok(csr) => csr,
        Err(e) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e),
    };
    let issued = !s(&csr, "/status/certificate").is_empty();
    if !has(&csr, "Approved")
        || has(&csr, "Failed")
        || issued
        || s(&csr, "/spec/signerName") != KUBE_APISERVER_CLIENT
    {
        return Ok(());
    }
    let usages: Vec<String> = csr
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(|u| {
            u.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut updated = csr.clone();
    if !updated.get("status").is_some_and(Value::is_object) {
        updated["status"] = json!({});
    }
    if let Some(problem) = usage_problem(&usages) {
        let stamp = now();
        let failed = json!({"type": "Failed", "status": "True",
            "reason": "SignerValidationFailure", "message": problem,
            "lastUpdateTime": stamp, "lastTransitionTime": stamp});
        match updated["status"]["conditions"].as_array_mut() {
            Some(list) => list.push(failed),
            None => updated["status"]["conditions"] = json!([failed]),
        }
    } else {
        let requested = csr
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        let valid_for = requested.map_or(MAX_DURATION, |d| d.clamp(MIN_DURATION, MAX_DURATION));
        let pem = request_pem(&csr).unwrap_or_default();
        let certificate = ca
            .sign_request(&pem, &usages, valid_for)
            .map_err(|e| ApiError::internal(format!("error auto signing csr: {e}")))?;
        updated["status"]["certificate"] =
            json!(base64::engine::general_purpose::STANDARD.encode(certificate));
    }
    rest.update(
        csrs,
        None,
        name,
        updated,
        &write_options(MANAGER),
        Some("status"),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_need_client_auth_and_nothing_beyond_signing_usages() {
        let of = |u: &[&str]| usage_problem(&u.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(of(&["client auth"]), None);
        assert_eq!(
            of(&["digital signature", "key encipherment", "client auth"]),
            None
        );
        assert_eq!(
            of(&["server auth"]).as_deref(),
            Some("invalid usage for client certificate: server auth")
        );
        assert_eq!(
            of(&["digital signature"]).as_deref(),
            Some("missing required usage for client certificate: client auth")
        );
    }
}
