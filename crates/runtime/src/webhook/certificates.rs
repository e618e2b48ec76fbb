//! The webhook server's certificate: generated for local development (a throwaway CA and a
//! serving certificate for the names the API server dials, the CA to put in `caBundle`), or read
//! from a mounted secret directory (`tls.crt`, `tls.key`: cert-manager's and kubebuilder's
//! layout) and reloaded when the files change, as controller-runtime's `certwatcher` does. Every
//! TLS handshake takes the current certificate, so a rotation needs no restart.

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The certificate file of a secret directory.
pub const CERT_FILE: &str = "tls.crt";
/// The key file of a secret directory.
pub const KEY_FILE: &str = "tls.key";

/// A certificate problem.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM is not a certificate chain and a key rustls can use.
    #[error("invalid certificate or key: {0}")]
    Invalid(String),
}

/// PEM texts of a generated CA and serving certificate.
#[derive(Debug, Clone)]
pub struct LocalCertificates {
    /// The CA certificate: the webhook configurations' `caBundle`.
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl LocalCertificates {
    /// A new CA and a certificate it signs for `names` (DNS names such as
    /// `<service>.<namespace>.svc`, or IP addresses such as `127.0.0.1`).
    pub fn generate(names: &[&str]) -> Result<Self, CertificateError> {
        let invalid = |e: rcgen::Error| CertificateError::Invalid(e.to_string());
        let ca_key = rcgen::KeyPair::generate().map_err(invalid)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(invalid)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kubeforge webhook CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(invalid)?;
        let key = rcgen::KeyPair::generate().map_err(invalid)?;
        let params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(invalid)?;
        let cert = params.signed_by(&key, &ca).map_err(invalid)?;
        Ok(LocalCertificates {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `tls.crt`, `tls.key` and `ca.crt` into `dir`, as a mounted secret has them.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(KEY_FILE), &self.key_pem)?;
        std::fs::write(dir.join(CERT_FILE), &self.cert_pem)?;
        std::fs::write(dir.join("ca.crt"), &self.ca_pem)
    }
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, CertificateError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(CertificateError::Invalid("no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| CertificateError::Invalid(e.to_string()))?;
    let signing = any_supported_type(&key).map_err(|e| CertificateError::Invalid(e.to_string()))?;
    Ok(CertifiedKey::new(certs, signing))
}

/// The certificate the server presents, swappable while it runs.
#[derive(Debug)]
pub struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
    dir: Option<PathBuf>,
    seen: RwLock<Option<(SystemTime, SystemTime)>>,
}

impl Certificates {
    /// A fixed certificate from PEM texts.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Arc<Self>, CertificateError> {
        Ok(Arc::new(Certificates {
            current: RwLock::new(Arc::new(certified_key(
                cert_pem.as_bytes(),
                key_pem.as_bytes(),
            )?)),
            dir: None,
            seen: RwLock::new(None),
        }))
    }

    /// The certificate of a secret directory (`tls.crt`, `tls.key`); [`Certificates::watch`]
    /// reloads it when the files change.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Arc<Self>, CertificateError> {
        let dir = dir.into();
        let (key, stamps) = read_dir(&dir)?;
        Ok(Arc::new(Certificates {
            current: RwLock::new(Arc::new(key)),
            dir: Some(dir),
            seen: RwLock::new(Some(stamps)),
        }))
    }

    /// Reloads the directory's files if they changed since they were last read; a pair that
    /// does not load (half written) keeps the current certificate until the next look.
    pub fn reload_if_changed(&self) -> Result<bool, CertificateError> {
        let Some(dir) = &self.dir else {
            return Ok(false);
        };
        let stamps = (
            modified(&dir.join(CERT_FILE))?,
            modified(&dir.join(KEY_FILE))?,
        );
        if *self.seen.read().unwrap_or_else(|e| e.into_inner()) == Some(stamps) {
            return Ok(false);
        }
        let (key, stamps) = read_dir(dir)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = Some(stamps);
        tracing::info!(dir = %dir.display(), "webhook certificate reloaded");
        Ok(true)
    }

    /// Looks at the directory every `every` and reloads a changed certificate (a mounted secret
    /// is updated by the kubelet with an atomic symlink swap, which changes the files' times).
    pub async fn watch(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.reload_if_changed() {
                tracing::warn!(error = %e, "webhook certificate not reloaded");
            }
        }
    }
}

fn modified(path: &Path) -> Result<SystemTime, CertificateError> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|source| CertificateError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn read_dir(dir: &Path) -> Result<(CertifiedKey, (SystemTime, SystemTime)), CertificateError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| CertificateError::Read { path, source })
    };
    let stamps = (
        modified(&dir.join(CERT_FILE))?,
        modified(&dir.join(KEY_FILE))?,
    );
    let key = certified_key(&read(CERT_FILE)?, &read(KEY_FILE)?)?;
    Ok((key, stamps))
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}
