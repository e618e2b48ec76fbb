//! CertificateSigning (kube-apiserver's admission plugin of that name): setting or changing a
//! CertificateSigningRequest's `status.certificate` (an update through `status`) needs the
//! `sign` verb on the `signers` resource named by its `signerName` (or its domain with `/*`).

use super::certificate_approval::{is_csr, may_for_signer, signer_of};
use super::{Plugin, Request, forbidden};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateSigning;

impl Plugin for CertificateSigning {
    fn name(&self) -> &'static str {
        "CertificateSigning"
    }

    fn admit(&self, rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if request.subresource != Some("status") || !is_csr(request) {
            return Ok(());
        }
        let certificate = |v: Option<&Value>| {
            v.and_then(|v| v.pointer("/status/certificate"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if certificate(Some(obj)) == certificate(request.old_object) {
            return Ok(());
        }
        let signer = signer_of(request.old_object);
        if may_for_signer(rest, request, "sign", signer) {
            return Ok(());
        }
        Err(forbidden(
            request,
            format!("user not permitted to sign requests with signerName {signer:?}"),
        ))
    }
}
