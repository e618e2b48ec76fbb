//! Serving over TLS (rustls with the `ring` provider), HTTP/1.1 and h2 chosen by ALPN, and the
//! certificates that takes ([`pki`]): the cluster CA, the serving certificate, the
//! administrator's client certificate.
//!
//! Client certificates are asked for but not required (Go's `VerifyClientCertIfGiven`, what
//! kube-apiserver uses): one that is presented must chain to the cluster CA (or a
//! `--client-ca-file` certificate) or the handshake fails; the verified certificate's subject
//! is then the request's identity (see `auth::authn::x509`).

pub mod pki;

use pki::{CertificateAuthority, CertifiedPem, DEFAULT_SANS, PkiError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the server serves TLS: where its certificates live (made there once when missing) or
/// which files to use instead.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    cert_dir: PathBuf,
    extra_sans: Vec<String>,
    serving: Option<(PathBuf, PathBuf)>,
    client_ca: Option<PathBuf>,
}

impl TlsOptions {
    /// Certificates in `dir`: the CA (`ca.crt`/`ca.key`), the serving certificate
    /// (`apiserver.crt`/`apiserver.key`) and the administrator's client certificate
    /// (`admin.crt`/`admin.key`), each made on first use and reused after.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        TlsOptions {
            cert_dir: dir.as_ref().to_path_buf(),
            extra_sans: Vec::new(),
            serving: None,
            client_ca: None,
        }
    }

    /// Another name (DNS name or IP address) the serving certificate carries, beyond
    /// [`DEFAULT_SANS`] (`--tls-san`).
    pub fn san(mut self, name: impl Into<String>) -> Self {
        self.extra_sans.push(name.into());
        self
    }

    /// Serves this certificate chain and key (PEM files) instead of one made by the cluster CA
    /// (`--tls-cert-file`, `--tls-private-key-file`). Kubeconfigs then trust the chain's last
    /// certificate.
    pub fn serving_cert_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.serving = Some((cert.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// Also accepts client certificates signed by the CAs in this PEM bundle
    /// (`--client-ca-file`); the cluster CA's stay accepted.
    pub fn client_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.client_ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// The directory the certificates are kept in.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }
}

/// What a server serving TLS holds: the acceptor, and what its clients need to trust it and
/// to be its administrator.
#[derive(Clone)]
pub struct ServingTls {
    /// Accepts TLS connections (ALPN `h2`, `http/1.1`).
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// The PEM CA bundle clients verify the server with (a kubeconfig's
    /// `certificate-authority-data`, the `kube-root-ca.crt` ConfigMap).
    pub ca_pem: String,
    /// The administrator's client certificate (CN `kubernetes-admin`, O `system:masters`).
    pub admin: CertifiedPem,
    /// The cluster CA, which issues client certificates.
    pub authority: CertificateAuthority,
}

impl std::fmt::Debug for ServingTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingTls").finish_non_exhaustive()
    }
}

/// The administrator's user name in the generated client certificate (kubeadm's).
pub const ADMIN_USER: &str = "kubernetes-admin";

fn pem_err(path: &Path, e: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl ServingTls {
    /// Makes (or reads) the certificates `options` name and the rustls configuration.
    pub fn prepare(options: &TlsOptions) -> Result<Self, PkiError> {
        let dir = &options.cert_dir;
        let authority = CertificateAuthority::load_or_create(dir)?;
        let (serving, ca_pem) = match &options.serving {
            Some((cert_path, key_path)) => {
                let cert = read(cert_path)?;
                let key = read(key_path)?;
                let last = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .filter_map(Result::ok)
                    .last()
                    .ok_or_else(|| pem_err(cert_path, "no certificate"))?;
                let ca_pem = pem_of(&last);
                (CertifiedPem { cert, key }, ca_pem)
            }
            None => {
                let mut names: Vec<String> = DEFAULT_SANS.iter().map(|s| s.to_string()).collect();
                for san in &options.extra_sans {
                    if !names.contains(san) {
                        names.push(san.clone());
                    }
                }
                (
                    authority.load_or_issue_serving(dir, &names)?,
                    authority.pem.cert.clone(),
                )
            }
        };
        let admin = authority.load_or_issue_client(
            dir,
            "admin",
            ADMIN_USER,
            Some(crate::auth::user::MASTERS),
        )?;
        let mut roots = rustls::RootCertStore::empty();
        let mut bundles = vec![(dir.join("ca.crt"), authority.pem.cert.clone())];
        if let Some(path) = &options.client_ca {
            bundles.push((path.clone(), read(path)?));
        }
        for (path, pem) in &bundles {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| pem_err(path, e))?;
                roots.add(cert).map_err(|e| pem_err(path, e))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| PkiError::Certificate(e.to_string()))?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(serving.cert.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| pem_err(dir, e))?;
        let key =
            PrivateKeyDer::from_pem_slice(serving.key.as_bytes()).map_err(|e| pem_err(dir, e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PkiError::Certificate(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| PkiError::Certificate(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServingTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ca_pem,
            admin,
            authority,
        })
    }
}

/// A DER certificate as PEM.
fn pem_of(der: &CertificateDer<'_>) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
