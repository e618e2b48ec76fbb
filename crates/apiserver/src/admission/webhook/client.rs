//! Calling a webhook: where (`clientConfig.url`, or `clientConfig.service` resolved through the
//! Service's Endpoints or EndpointSlices to an address, so that a Service may stand for a
//! webhook on 127.0.0.1), over HTTPS verified against `caBundle` (the server name of a service
//! is `<name>.<namespace>.svc`, as upstream dials it), within `timeoutSeconds` (sent as
//! `?timeout=`). Failures read as client-go's errors (`Post "<url>": <cause>`).
//!
//! Calls go through the [`WebhookClient`] of the webhook's `clientConfig`
//! ([`super::client_manager`]), which keeps its connections open between calls.

use super::Hook;
use super::client_manager::{DialError, WebhookClient};
use crate::registry::admissionregistration::defaults::DEFAULT_SERVICE_PORT;
use crate::rest::Rest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// TLS settings trusting the PEM certificates of `ca_bundle` (none trusted without one: this
/// server does not read the system's trust store for webhooks), without session resumption.
pub fn tls_config(ca_bundle: Option<&[u8]>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_bundle {
        for cert in CertificateDer::pem_slice_iter(pem).flatten() {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3 is supported by ring")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        });
    // As Go's TLS client without a session cache: every new connection verifies the
    // webhook's certificate in full against `caBundle`.
    let mut config = config;
    config.resumption = rustls::client::Resumption::disabled();
    // HTTP/2 when the webhook offers it, as Go's transport negotiates, else HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Where a call goes.
struct Target {
    /// The URL as upstream prints it in errors (with `?timeout=`).
    url: String,
    /// The address to connect to (None when the host must be resolved).
    addr: Option<SocketAddr>,
    /// `host:port`, as the `Host` header names it (and to resolve).
    authority: String,
    /// Path and query.
    path_and_query: String,
}

/// The host name a webhook's certificate must name: the URL's host, or
/// `<service>.<namespace>.svc`.
pub fn server_name(cc: &WebhookClientConfig) -> String {
    if let Some(url) = &cc.url {
        return url
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|uri| {
                uri.host()
                    .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            })
            .unwrap_or_default();
    }
    cc.service
        .as_ref()
        .map(|svc| format!("{}.{}.svc", svc.name, svc.namespace))
        .unwrap_or_default()
}

/// What a call needs to know of the webhook it calls: admission webhooks and CRD conversion
/// webhooks both call through this.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// Where it is called.
    pub client_config: &'a WebhookClientConfig,
    /// How long a call may take (sent as `?timeout=`).
    pub timeout: std::time::Duration,
    /// The pooled client of `client_config`.
    pub client: &'a WebhookClient,
}

impl<'a> From<&'a Hook> for Endpoint<'a> {
    fn from(hook: &'a Hook) -> Self {
        Endpoint {
            client_config: &hook.client_config,
            timeout: hook.timeout,
            client: &hook.client,
        }
    }
}

/// Posts `review` to `hook` and returns the decoded answer, or the reason the call failed.
pub async fn call(rest: &Rest, hook: &Hook, review: &Value) -> Result<Value, String> {
    call_endpoint(rest, Endpoint::from(hook), review).await
}

/// Posts `review` to `endpoint` and returns the decoded answer, or the reason the call failed.
pub async fn call_endpoint(
    rest: &Rest,
    endpoint: Endpoint<'_>,
    review: &Value,
) -> Result<Value, String> {
    let timeout_secs = endpoint.timeout.as_secs().max(1);
    let target = target(rest, endpoint.client_config, timeout_secs)?;
    let post = |cause: String| format!("Post {:?}: {cause}", target.url);
    let body = serde_json::to_vec(review).map_err(|e| e.to_string())?;
    let dial = match target.addr {
        Some(addr) => addr.to_string(),
        None => target.authority.clone(),
    };
    let uri: hyper::Uri = format!("https://{dial}{}", target.path_and_query)
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| post(e.to_string()))?;
    let exchange = async {
        let request = hyper::Request::post(uri)
            .header(hyper::header::HOST, &target.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json, */*")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| post(e.to_string()))?;
        let response = endpoint
            .client
            .http()
            .request(request)
            .await
            .map_err(|e| post(request_cause(&e)))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| post(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            // client-go: a Status body speaks for itself, anything else is summarized.
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from));
            return Err(message.unwrap_or_else(|| {
                format!(
                    "an error on the server ({:?}) has prevented the request from succeeding",
                    String::from_utf8_lossy(&bytes)
                )
            }));
        }
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| format!("failed to decode the webhook's response: {e}"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), exchange).await {
        Ok(result) => result,
        Err(_) => Err(post("context deadline exceeded".into())),
    }
}

/// What went wrong with a request the pooled client could not send: the dial's failure in Go's
/// words, or hyper's.
fn request_cause(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(dial) = s.downcast_ref::<DialError>() {
            return dial.0.clone();
        }
        if let Some(hyper) = s.downcast_ref::<hyper::Error>() {
            return hyper.to_string();
        }
        source = s.source();
    }
    e.to_string()
}

/// An I/O failure in Go's words where there is one.
pub(super) fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "read: connection reset by peer".into(),
        _ => e.to_string(),
    }
}

/// A TLS failure in Go's words where there is one.
pub(super) fn tls_cause(e: &std::io::Error) -> String {
    let text = e.to_string();
    let cause = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match cause {
        // A CA of the same name that did not sign it is, to Go, an unknown authority too.
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature,
        )) => {
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                .into()
        }
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired))
        | Some(rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext {
            ..
        })) => "tls: failed to verify certificate: x509: certificate has expired or is not yet valid".into(),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        )) => "tls: failed to verify certificate: x509: certificate is not valid for the requested name".into(),
        _ => text,
    }
}

/// Resolves the webhook's `clientConfig`.
fn target(rest: &Rest, cc: &WebhookClientConfig, timeout_secs: u64) -> Result<Target, String> {
    let timeout = format!("timeout={timeout_secs}s");
    if let Some(url) = &cc.url {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
        if uri.scheme_str() != Some("https") {
            return Err(format!(
                "unsupported protocol scheme {:?}",
                uri.scheme_str().unwrap_or("")
            ));
        }
        let host = uri
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(443);
        let path = uri.path();
        let path_and_query = match uri.query() {
            Some(q) => format!("{path}?{q}&{timeout}"),
            None => format!("{path}?{timeout}"),
        };
        let addr = host
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port));
        let authority = match addr {
            Some(a) => a.to_string(),
            None => format!("{host}:{port}"),
        };
        return Ok(Target {
            url: format!(
                "https://{}{path_and_query}",
                uri.authority().map_or("", |a| a.as_str())
            ),
            addr,
            authority,
            path_and_query,
        });
    }
    let Some(svc) = &cc.service else {
        return Err("webhook has no clientConfig url or service".into());
    };
    let port = svc.port.unwrap_or(DEFAULT_SERVICE_PORT);
    let path = svc.path.clone().unwrap_or_default();
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let host = format!("{}.{}.svc", svc.name, svc.namespace);
    let path_and_query = format!("{path}?{timeout}");
    let url = format!("https://{host}:{port}{path_and_query}");
    let addr = service_endpoint(rest, &svc.namespace, &svc.name, port)
        .map_err(|cause| format!("Post {url:?}: {cause}"))?;
    Ok(Target {
        url,
        addr: Some(addr),
        authority: format!("{host}:{port}"),
        path_and_query,
    })
}

/// An address serving `port` of the Service: its port's target from the Endpoints of the
/// Service (or an EndpointSlice labelled with its name), the first ready address.
fn service_endpoint(
    rest: &Rest,
    namespace: &str,
    name: &str,
    port: i32,
) -> Result<SocketAddr, String> {
    let catalog = rest.catalog.snapshot();
    let get = |group: &str, resource: &str| {
        catalog
            .find(group, "v1", resource)
            .and_then(|rt| rest.store.get(&rest.key(&rt, Some(namespace), name)))
            .map(|o| o.value())
    };
    let Some(service) = get("", "services") else {
        return Err(format!("service \"{name}\" not found"));
    };
    let Some(service_port) = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_i64) == Some(i64::from(port)))
        })
    else {
        return Err(format!(
            "no service port {port} found for service \"{name}\""
        ));
    };
    let port_name = service_port
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let pick = |addresses: Vec<String>, target: Option<i64>| -> Option<SocketAddr> {
        let target = u16::try_from(target?).ok()?;
        addresses
            .iter()
            .find_map(|a| a.parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, target))
    };
    if let Some(endpoints) = get("", "endpoints") {
        for subset in endpoints
            .get("subsets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ips = subset
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("ip").and_then(Value::as_str).map(String::from))
                .collect();
            let target = subset
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
                .and_then(|p| p.get("port").and_then(Value::as_i64));
            if let Some(addr) = pick(ips, target) {
                return Ok(addr);
            }
        }
    }
    if let Some(slices) = catalog.find("discovery.k8s.io", "v1", "endpointslices") {
        for slice in rest.store.current(&slices.storage_key) {
            let slice = slice.value();
            let label = slice
                .pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str);
            if slice.pointer("/metadata/namespace").and_then(Value::as_str) != Some(namespace)
                || label != Some(name)
            {
                continue;
            }
            let ips = slice
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false))
                .flat_map(|e| {
                    e.get("addresses")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(String::from))
                        .collect::<Vec<_>>()
                })
                .collect();
            let target = slice
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
                .and_then(|p| p.get("port").and_then(Value::as_i64));
            if let Some(addr) = pick(ips, target) {
                return Ok(addr);
            }
        }
    }
    Err(format!("no endpoints available for service \"{name}\""))
}
