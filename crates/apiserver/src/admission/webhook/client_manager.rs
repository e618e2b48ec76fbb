//! The webhook clients, one per distinct `clientConfig` (as upstream's `webhook.ClientManager`
//! caches a REST client per config): each keeps its HTTPS connections open between calls
//! (hyper-util's pooled client; HTTP/2 when the webhook agrees to it through ALPN, as Go's
//! transport negotiates, one connection carrying concurrent calls; else HTTP/1.1 keep-alive;
//! idle connections closed after 90 s as Go's transport closes them), so a webhook call is one
//! round trip once a connection is warm.
//!
//! A client is shared by every webhook and conversion webhook with the same `clientConfig`
//! (`url` or `service`, `caBundle`) and lives as long as one of them does: a configuration that
//! changes its `clientConfig` (a rotated `caBundle`, another URL) gets a new client with new
//! connections, verified against the new bundle, and the old client closes its connections when
//! the last webhook using it is gone.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long an idle connection is kept (Go's `http.Transport.IdleConnTimeout` as client-go sets
/// it).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How long an HTTP/2 connection may stay silent before it is pinged (client-go's
/// `ReadIdleTimeout`).
const H2_READ_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is dropped (client-go's
/// `PingTimeout`).
const H2_PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The clients of the webhooks in force, by `clientConfig`.
#[derive(Debug, Default)]
pub struct ClientManager {
    clients: Mutex<HashMap<String, Weak<WebhookClient>>>,
}

impl ClientManager {
    /// The client for `client_config`: the one a webhook with the same `clientConfig` already
    /// holds, or a new one.
    pub fn client(&self, client_config: &WebhookClientConfig) -> Arc<WebhookClient> {
        // The whole config is the key (upstream keys its cache by the config's JSON too).
        let key = serde_json::to_string(client_config).unwrap_or_default();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key).and_then(Weak::upgrade) {
            return client;
        }
        clients.retain(|_, c| c.strong_count() > 0);
        let client = Arc::new(WebhookClient::new(client_config));
        clients.insert(key, Arc::downgrade(&client));
        client
    }
}

/// A pooled HTTPS client for one `clientConfig`.
pub struct WebhookClient {
    http: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient").finish_non_exhaustive()
    }
}

impl WebhookClient {
    fn new(client_config: &WebhookClientConfig) -> Self {
        let tls =
            super::client::tls_config(client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            // An HTTP/2 connection is pinged when idle and dropped when the webhook stops
            // answering (client-go's ReadIdleTimeout and PingTimeout).
            .timer(TokioTimer::new())
            .http2_keep_alive_interval(H2_READ_IDLE_TIMEOUT)
            .http2_keep_alive_timeout(H2_PING_TIMEOUT)
            .build(Connector {
                tls: tokio_rustls::TlsConnector::from(tls),
                server_name: super::client::server_name(client_config),
            });
        WebhookClient { http }
    }

    /// The pooled HTTP client.
    pub(super) fn http(&self) -> &Client<Connector, Full<Bytes>> {
        &self.http
    }
}

/// A failed dial, in Go's words (`dial tcp …`, `tls: …`), as the call reports it.
#[derive(Debug)]
pub(super) struct DialError(pub String);

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DialError {}

/// Dials the address of a request's URI (resolved when it is a name), then TLS verified
/// against the client's `caBundle` for the name its `clientConfig` gives the webhook (the URL's
/// host, or `<service>.<namespace>.svc`). Connections are pooled per address, so a Service
/// whose endpoints move is dialled at its new address.
#[derive(Clone)]
pub(super) struct Connector {
    tls: tokio_rustls::TlsConnector,
    server_name: String,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TlsConnection>;
    type Error = DialError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DialError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let host_port = uri.authority().map(|a| a.as_str()).unwrap_or("");
            let addr = match host_port.parse::<std::net::SocketAddr>() {
                Ok(a) => a,
                Err(_) => tokio::net::lookup_host(host_port)
                    .await
                    .map_err(|e| DialError(format!("dial tcp: lookup {host_port}: {e}")))?
                    .next()
                    .ok_or_else(|| {
                        DialError(format!("dial tcp: lookup {host_port}: no such host"))
                    })?,
            };
            let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                DialError(format!("dial tcp {addr}: {}", super::client::io_cause(&e)))
            })?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(server_name).map_err(|e| DialError(e.to_string()))?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| DialError(super::client::tls_cause(&e)))?;
            Ok(TokioIo::new(TlsConnection(stream)))
        })
    }
}

/// A TLS connection to a webhook.
pub(super) struct TlsConnection(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl Connection for TlsConnection {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        if self.0.get_ref().1.alpn_protocol() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, ca: &[u8]) -> WebhookClientConfig {
        WebhookClientConfig {
            url: Some(url.into()),
            ca_bundle: Some(k8s_openapi::ByteString(ca.to_vec())),
            service: None,
        }
    }

    #[test]
    fn one_client_per_config_while_it_is_used() {
        let manager = ClientManager::default();
        let a = manager.client(&config("https://127.0.0.1:9443/a", b"ca-1"));
        let same = manager.client(&config("https://127.0.0.1:9443/a", b"ca-1"));
        assert!(Arc::ptr_eq(&a, &same));
        // A rotated caBundle or another URL is another client.
        let rotated = manager.client(&config("https://127.0.0.1:9443/a", b"ca-2"));
        assert!(!Arc::ptr_eq(&a, &rotated));
        let other = manager.client(&config("https://127.0.0.1:9443/b", b"ca-1"));
        assert!(!Arc::ptr_eq(&a, &other));
        // Once no webhook holds it, a config's client is forgotten.
        drop((a, same));
        let _fresh = manager.client(&config("https://127.0.0.1:9443/c", b"ca-1"));
        let clients = manager.clients.lock().unwrap();
        assert_eq!(clients.len(), 3, "{:?}", clients.keys().collect::<Vec<_>>());
    }
}
