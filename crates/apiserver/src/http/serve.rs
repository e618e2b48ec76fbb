//! The connection layer: accepting TCP connections and serving HTTP/1.1 and HTTP/2 on them —
//! over TLS (the protocol chosen by ALPN) or in plain text (HTTP/2 with prior knowledge, h2c,
//! told apart by its preface) — with the bounds a server facing untrusted clients needs.
//!
//! What it guarantees:
//! - **No connection is held by a silent client.** A client has [`ConnectionLimits::header_read_timeout`]
//!   (32 s, kube-apiserver's `ReadHeaderTimeout`) to finish the TLS handshake or send the first
//!   bytes that say which protocol it speaks, and then each request's headers; an HTTP/1.1 keep-alive connection waiting for its
//!   next request is closed after the same time (hyper starts that timer when it waits for a
//!   head). HTTP/2 connections are pinged and closed when the peer stops answering.
//! - **Open connections are capped** ([`ConnectionLimits::max_connections`], derived from the
//!   process's file-descriptor limit): past the cap a new connection is closed at once, so the
//!   server keeps descriptors for the connections it serves and a flood cannot make the accept
//!   loop fail. Errors from `accept` (such as running out of descriptors) pause accepting briefly
//!   instead of spinning or stopping the server.
//! - **Shutdown is graceful**: the listener closes, connections finish the requests in flight;
//!   one that has not sent its first request yet (a client's spare) is dropped at once.
//!
//! - **Every request knows its connection**: a [`Connection`] extension says whether it came over
//!   TLS and carries the verified client certificate's identity, for authentication.
//!
//! Request-level bounds (in-flight limits, deadlines, panics) are in `filters.rs`.

use crate::auth::authn::Connection;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// The HTTP/2 connection preface a client with prior knowledge starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection stays open).
    pub header_read_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(32),
            max_connections: default_max_connections(),
        }
    }
}

/// Descriptors kept free for everything that is not a client connection (the database, log
/// files, outgoing connections of in-process operators).
const RESERVED_DESCRIPTORS: u64 = 128;

/// The connection cap the process's file-descriptor limit allows.
pub fn default_max_connections() -> usize {
    let soft = fd_limit().map_or(1024, |(soft, _)| soft);
    soft.saturating_sub(RESERVED_DESCRIPTORS).clamp(16, 65_536) as usize
}

/// The process's file-descriptor limits (soft, hard).
fn fd_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
            return Some((lim.rlim_cur as u64, lim.rlim_max as u64));
        }
        None
    }
    #[cfg(not(unix))]
    None
}

/// Raises the process's soft file-descriptor limit to its hard limit (as Go's runtime does at
/// start since Go 1.19), so that the connection cap is not a few hundred. Returns the new soft
/// limit.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let (soft, hard) = fd_limit()?;
        if soft >= hard {
            return Some(soft);
        }
        let lim = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: `setrlimit` only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
            return Some(hard);
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    None
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// lets the connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // ECONNABORTED and friends concern one connection; EMFILE/ENFILE/ENOBUFS
                    // pass when descriptors are released: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                max = limits.max_connections,
                "connection refused: too many open connections"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closing = closing_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(tls) => serve_tls_connection(stream, tls, app, limits, &mut closing).await,
                None => serve_connection(stream, app, limits, &mut closing).await,
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Connections hold `open` permits until they end.
    let _ = open.acquire_many(limits.max_connections as u32).await;
}

/// Which protocol a connection speaks, from its first bytes (read without consuming them).
async fn sniff_protocol(stream: &TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // A partial preface: peek returns at once while no more bytes came, so wait a little.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Each request learns where its connection comes from (the audit log's sourceIPs).
fn with_peer_addr(app: Router, stream: &TcpStream) -> Router {
    match stream.peer_addr() {
        Ok(peer) => app.layer(axum::Extension(super::PeerAddr(peer))),
        Err(_) => app,
    }
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) {
    let sniffed = tokio::time::timeout(limits.header_read_timeout, sniff_protocol(&stream));
    let is_h2 = match until_closing(sniffed, closing).await {
        Some(Ok(Ok(h2))) => h2,
        // Silent past the header timeout, gone, or silent until the server closes: nothing to
        // answer.
        _ => return,
    };
    let app = with_peer_addr(app, &stream);
    let connection = Connection::plain();
    serve_http(stream, is_h2, connection, app, limits, closing).await;
}

/// A TLS connection: the handshake within the header timeout, then the protocol ALPN chose.
async fn serve_tls_connection(
    stream: TcpStream,
    tls: TlsAcceptor,
    app: Router,
    limits: ConnectionLimits,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) {
    let app = with_peer_addr(app, &stream);
    let handshake = tokio::time::timeout(limits.header_read_timeout, tls.accept(stream));
    let stream = match until_closing(handshake, closing).await {
        Some(Ok(Ok(stream))) => stream,
        None => return,
        Some(Ok(Err(e))) => {
            // A client certificate the cluster CA did not sign ends here, as upstream's does.
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Some(Err(_)) => return,
    };
    let (_, session) = stream.get_ref();
    let is_h2 = session.alpn_protocol() == Some(b"h2");
    let connection = Connection::tls(session.peer_certificates());
    serve_http(stream, is_h2, connection, app, limits, closing).await;
}

/// `step`'s result, or None once the server starts closing: a connection that has not sent its
/// first request by then (a client's spare, opened while it raced for a pooled one) is dropped
/// rather than waited for until the header timeout.
async fn until_closing<T>(
    step: impl Future<Output = T>,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<T> {
    tokio::select! {
        done = step => Some(done),
        _ = closing.wait_for(|c| *c) => None,
    }
}

/// Serves HTTP on an established connection; every request carries `connection`.
async fn serve_http<S>(
    stream: S,
    is_h2: bool,
    connection: Connection,
    app: Router,
    limits: ConnectionLimits,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let app = app.layer(axum::Extension(connection));
    let service = TowerToHyperService::new(app);
    if is_h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
            .max_concurrent_streams(250)
            .serve_connection(io, service);
        drive(conn, closing, |c| c.graceful_shutdown()).await;
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(io, service);
        drive(conn, closing, |c| c.graceful_shutdown()).await;
    }
}

/// Runs a connection to its end; when the server starts closing, asks it to finish gracefully.
async fn drive<C, E>(
    conn: C,
    closing: &mut tokio::sync::watch::Receiver<bool>,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(conn);
    if !*closing.borrow() {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = closing.wait_for(|c| *c) => {}
        }
    }
    graceful(conn.as_mut());
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended");
    }
}
