//! X.509 client certificates: the subject's common name is the user, its organizations the
//! groups (upstream's `CommonNameUserConversion`). The chain was verified against the cluster
//! CA during the TLS handshake; a certificate without a common name names nobody, and the
//! request goes on to the other authenticators.

use crate::auth::user::UserInfo;

/// The user a verified client certificate (DER) names.
pub fn user_of(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())?
        .to_string();
    let groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(UserInfo::authenticated(&name, String::new(), groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::pki::CertificateAuthority;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::time::Duration;

    #[test]
    fn common_name_is_the_user_and_organizations_the_groups() {
        let ca = CertificateAuthority::generate().expect("ca");
        let pem = ca
            .issue_client("jane", Some("system:masters"), Duration::from_secs(60))
            .expect("cert");
        let der = CertificateDer::from_pem_slice(pem.cert.as_bytes()).expect("der");
        let user = user_of(der.as_ref()).expect("user");
        assert_eq!(user.name, "jane");
        assert_eq!(user.groups, ["system:masters", "system:authenticated"]);
        assert!(user.is_privileged());
    }
}
