//! The cluster's certificates: a CA, the serving certificate it signs, and client certificates
//! for users (CN = user name, O = groups, as kube-apiserver's X.509 authenticator reads them).
//!
//! What it guarantees: a directory's certificates are made once (ECDSA P-256, what `ring`
//! generates) and reused on every later start, so a kubeconfig written once keeps working; a
//! serving certificate that lacks a SAN asked for now is re-issued by the same CA.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The names every serving certificate carries (kube-apiserver's defaults for a cluster named
/// `kubernetes` in `cluster.local`).
pub const DEFAULT_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// File names in a certificate directory.
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";

/// How long generated certificates are valid: a CA for ten years, the rest for one (kubeadm's
/// choices).
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct CertifiedPem {
    /// The certificate chain, PEM.
    pub cert: String,
    /// The private key, PKCS#8 PEM.
    pub key: String,
}

/// The cluster's certificate authority.
#[derive(Clone, Debug)]
pub struct CertificateAuthority {
    /// The CA's certificate and key.
    pub pem: CertifiedPem,
}

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key was malformed, or signing failed.
    #[error("{0}")]
    Certificate(String),
}

fn cert_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(e.to_string())
}

/// Reads `path`, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `contents` to `path`; private keys are readable by their owner only.
pub(crate) fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

fn validity(params: &mut CertificateParams, valid_for: Duration) {
    let now = time::OffsetDateTime::now_utc();
    // An hour of slack for clocks that are a little behind, as kubeadm allows.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + valid_for;
}

impl CertificateAuthority {
    /// The CA in `dir` (`ca.crt`, `ca.key`), created when missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        if let (Some(cert), Some(key)) = (read_optional(&cert_path)?, read_optional(&key_path)?) {
            return Ok(CertificateAuthority {
                pem: CertifiedPem { cert, key },
            });
        }
        let ca = Self::generate()?;
        write_file(&key_path, &ca.pem.key, true)?;
        write_file(&cert_path, &ca.pem.cert, false)?;
        Ok(ca)
    }

    /// A new CA, `kubernetes-ca` as kubeadm names it.
    pub fn generate() -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(cert_err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "kubernetes-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        validity(&mut params, CA_VALIDITY);
        let cert = params.self_signed(&key).map_err(cert_err)?;
        Ok(CertificateAuthority {
            pem: CertifiedPem {
                cert: cert.pem(),
                key: key.serialize_pem(),
            },
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key = KeyPair::from_pem(&self.pem.key).map_err(cert_err)?;
        Issuer::from_ca_cert_pem(&self.pem.cert, key).map_err(cert_err)
    }

    /// Signs a PKCS#10 request (PEM) as kube-controller-manager's CSR signer does: the
    /// request's subject, subject alternative names and public key, the key usages `usages`
    /// name (CertificateSigningRequest `spec.usages` values), valid from five minutes ago for
    /// `valid_for`. Returns the certificate, PEM.
    pub fn sign_request(
        &self,
        request_pem: &str,
        usages: &[String],
        valid_for: Duration,
    ) -> Result<String, PkiError> {
        let mut request =
            rcgen::CertificateSigningRequestParams::from_pem(request_pem).map_err(cert_err)?;
        let params = &mut request.params;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages.clear();
        params.extended_key_usages.clear();
        for usage in usages {
            match usage.as_str() {
                "digital signature" => params.key_usages.push(KeyUsagePurpose::DigitalSignature),
                "content commitment" => params.key_usages.push(KeyUsagePurpose::ContentCommitment),
                "key encipherment" => params.key_usages.push(KeyUsagePurpose::KeyEncipherment),
                "key agreement" => params.key_usages.push(KeyUsagePurpose::KeyAgreement),
                "data encipherment" => params.key_usages.push(KeyUsagePurpose::DataEncipherment),
                "cert sign" => params.key_usages.push(KeyUsagePurpose::KeyCertSign),
                "crl sign" => params.key_usages.push(KeyUsagePurpose::CrlSign),
                "encipher only" => params.key_usages.push(KeyUsagePurpose::EncipherOnly),
                "decipher only" => params.key_usages.push(KeyUsagePurpose::DecipherOnly),
                "any" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::Any),
                "server auth" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ServerAuth),
                "client auth" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ClientAuth),
                "code signing" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::CodeSigning),
                "email protection" | "s/mime" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::EmailProtection),
                "timestamping" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::TimeStamping),
                "ocsp signing" => params
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::OcspSigning),
                // "signing", the IPsec and SGC usages have no rcgen form; upstream's signer
                // maps "signing" to digital signature.
                "signing" => params.key_usages.push(KeyUsagePurpose::DigitalSignature),
                _ => {}
            }
        }
        params.key_usages.dedup();
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + valid_for;
        let cert = request.signed_by(&self.issuer()?).map_err(cert_err)?;
        Ok(cert.pem())
    }

    /// A serving certificate for `names` (DNS names or IP addresses).
    pub fn issue_serving(&self, names: &[String]) -> Result<CertifiedPem, PkiError> {
        let key = KeyPair::generate().map_err(cert_err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        for name in names {
            params.subject_alt_names.push(match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(name.clone().try_into().map_err(cert_err)?),
            });
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_VALIDITY);
        let cert = params.signed_by(&key, &self.issuer()?).map_err(cert_err)?;
        Ok(CertifiedPem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A client certificate for `user` in `group` (its one organization: rcgen writes one value
    /// per attribute type), valid for `valid_for`.
    pub fn issue_client(
        &self,
        user: &str,
        group: Option<&str>,
        valid_for: Duration,
    ) -> Result<CertifiedPem, PkiError> {
        let key = KeyPair::generate().map_err(cert_err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(group) = group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.distinguished_name.push(DnType::CommonName, user);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, valid_for);
        let cert = params.signed_by(&key, &self.issuer()?).map_err(cert_err)?;
        Ok(CertifiedPem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// The serving certificate in `dir`, issued (again) when missing or when it lacks one of
    /// `names`.
    pub fn load_or_issue_serving(
        &self,
        dir: &Path,
        names: &[String],
    ) -> Result<CertifiedPem, PkiError> {
        let (cert_path, key_path) = (dir.join(SERVING_CERT), dir.join(SERVING_KEY));
        if let (Some(cert), Some(key)) = (read_optional(&cert_path)?, read_optional(&key_path)?)
            && covers(&cert, names)
        {
            return Ok(CertifiedPem { cert, key });
        }
        let pem = self.issue_serving(names)?;
        write_file(&key_path, &pem.key, true)?;
        write_file(&cert_path, &pem.cert, false)?;
        Ok(pem)
    }

    /// The client certificate `<name>.crt`/`<name>.key` in `dir`, issued when missing.
    pub fn load_or_issue_client(
        &self,
        dir: &Path,
        file: &str,
        user: &str,
        group: Option<&str>,
    ) -> Result<CertifiedPem, PkiError> {
        let (cert_path, key_path) = (
            dir.join(format!("{file}.crt")),
            dir.join(format!("{file}.key")),
        );
        if let (Some(cert), Some(key)) = (read_optional(&cert_path)?, read_optional(&key_path)?) {
            return Ok(CertifiedPem { cert, key });
        }
        let pem = self.issue_client(user, group, LEAF_VALIDITY)?;
        write_file(&key_path, &pem.key, true)?;
        write_file(&cert_path, &pem.cert, false)?;
        Ok(pem)
    }
}

/// Whether the certificate `pem` names every one of `names` and is still valid.
fn covers(pem: &str, names: &[String]) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    if !cert.validity().is_valid() {
        return false;
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let present: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    names.iter().all(|n| {
        let n = n
            .parse::<IpAddr>()
            .map_or_else(|_| n.clone(), |ip| ip.to_string());
        present.contains(&n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("ca");
        let again = CertificateAuthority::load_or_create(dir.path()).expect("ca");
        assert_eq!(ca.pem.cert, again.pem.cert);
        let names: Vec<String> = DEFAULT_SANS.iter().map(|s| s.to_string()).collect();
        let serving = ca
            .load_or_issue_serving(dir.path(), &names)
            .expect("serving");
        assert!(covers(&serving.cert, &names));
        let same = ca
            .load_or_issue_serving(dir.path(), &names)
            .expect("serving");
        assert_eq!(serving.cert, same.cert);
        let mut more = names.clone();
        more.push("api.example.com".into());
        let reissued = ca
            .load_or_issue_serving(dir.path(), &more)
            .expect("serving");
        assert_ne!(serving.cert, reissued.cert);
        assert!(covers(&reissued.cert, &more));
    }
}
