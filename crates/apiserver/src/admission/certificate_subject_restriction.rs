//! CertificateSubjectRestriction (kube-apiserver's admission plugin of that name): a
//! CertificateSigningRequest for the `kubernetes.io/kube-apiserver-client` signer may not ask
//! for the `system:masters` group (an organization of its subject), whoever creates it.

use super::certificate_approval::is_csr;
use super::{Operation, Plugin, Request, forbidden};
use crate::registry::certificates::certificatesigningrequests::validation::request_pem;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;

/// The signer whose certificates the API server honours as client certificates.
pub(crate) const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateSubjectRestriction;

impl Plugin for CertificateSubjectRestriction {
    fn name(&self) -> &'static str {
        "CertificateSubjectRestriction"
    }

    fn admit(&self, _rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if request.operation != Operation::Create
            || request.subresource.is_some()
            || !is_csr(request)
            || obj.pointer("/spec/signerName").and_then(Value::as_str)
                != Some(KUBE_APISERVER_CLIENT)
        {
            return Ok(());
        }
        // An unparsable request is validation's to refuse.
        let Some(pem) = request_pem(obj) else {
            return Ok(());
        };
        let Ok(params) = rcgen::CertificateSigningRequestParams::from_pem(&pem) else {
            return Ok(());
        };
        let masters = params
            .params
            .distinguished_name
            .iter()
            .any(|(kind, value)| {
                *kind == rcgen::DnType::OrganizationName
                    && dn_text(value) == Some(crate::auth::user::MASTERS)
            });
        if masters {
            return Err(forbidden(
                request,
                "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed",
            ));
        }
        Ok(())
    }
}

fn dn_text(value: &rcgen::DnValue) -> Option<&str> {
    match value {
        rcgen::DnValue::Utf8String(s) => Some(s),
        rcgen::DnValue::PrintableString(s) => Some(s.as_str()),
        _ => None,
    }
}
