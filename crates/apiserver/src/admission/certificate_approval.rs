//! CertificateApproval (kube-apiserver's admission plugin of that name): approving or denying a
//! CertificateSigningRequest (an update through its `approval` subresource) needs the `approve`
//! verb on the `signers` resource of certificates.k8s.io named by the request's `signerName`
//! (or by its domain with `/*`), besides the RBAC permission on the subresource itself.

use super::{Plugin, Request, forbidden};
use crate::registry::certificates::certificatesigningrequests::APPROVAL;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateApproval;

impl Plugin for CertificateApproval {
    fn name(&self) -> &'static str {
        "CertificateApproval"
    }

    fn admit(&self, rest: &Rest, request: &Request<'_>, _obj: &mut Value) -> Result<(), ApiError> {
        if request.subresource != Some(APPROVAL) || !is_csr(request) {
            return Ok(());
        }
        let signer = signer_of(request.old_object);
        if may_for_signer(rest, request, "approve", signer) {
            return Ok(());
        }
        Err(forbidden(
            request,
            format!("user not permitted to approve requests with signerName {signer:?}"),
        ))
    }
}

/// Whether `request` writes certificates.k8s.io `certificatesigningrequests`.
pub(crate) fn is_csr(request: &Request<'_>) -> bool {
    request.rt.group == "certificates.k8s.io" && request.rt.plural == "certificatesigningrequests"
}

/// The `spec.signerName` of a stored request.
pub(crate) fn signer_of(obj: Option<&Value>) -> &str {
    obj.and_then(|o| o.pointer("/spec/signerName"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Upstream's `IsAuthorizedForSignerName`: `verb` on `signers` named `signer`, or named by its
/// domain and `/*`.
pub(crate) fn may_for_signer(rest: &Rest, request: &Request<'_>, verb: &str, signer: &str) -> bool {
    let user = request.user_info();
    let may = |name: String| {
        let attrs = crate::auth::attributes::Attributes::Resource(
            crate::auth::attributes::ResourceAttributes {
                verb: verb.into(),
                group: "certificates.k8s.io".into(),
                resource: "signers".into(),
                name,
                ..Default::default()
            },
        );
        rest.rbac.authorize_current(&user, &attrs).allowed
    };
    may(signer.to_string())
        || signer
            .split_once('/')
            .is_some_and(|(domain, _)| may(format!("{domain}/*")))
}
