//! The Fluentd Forward client: one connection per output, owned by a writer task that batches
//! what is waiting (Message mode for one event, PackedForward mode for more), asks for an ack per
//! chunk when `requestAck`, and on any failure closes the connection and retries the same
//! chunk with `retryWait * 1.5^(i-1)` backoff (capped at `maxRetryWait`) up to `maxRetry`
//! times, as fluent-logger-golang does.

use super::Health;
use crate::forward::{self, Entry, EventTime};
use crate::settings::{Retry, parse_go_duration, positive_or};
use crate::types::{FluentdSpec, Network};
use bytes::BytesMut;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// The tag every event is posted with (after the prefix).
pub const TAG: &str = "eventhorizon";
/// Events sent in one Forward message at most.
pub const MAX_BATCH: usize = 256;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `host:port`.
    Tcp(String),
    /// A unix socket.
    Unix(PathBuf),
}

/// A fluentd output's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where.
    pub endpoint: Endpoint,
    /// Connect (and ack) timeout.
    pub timeout: Duration,
    /// Write timeout (`None`: no limit).
    pub write_timeout: Option<Duration>,
    /// Events waiting at most.
    pub buffer_limit: usize,
    /// Reconnect/rewrite attempts.
    pub retry: Retry,
    /// Succeed once buffered.
    pub r#async: bool,
    /// EventTime instead of seconds.
    pub sub_second: bool,
    /// Ask for acks.
    pub request_ack: bool,
    /// The tag.
    pub tag: String,
}

impl Config {
    /// Resolves `spec` (defaults for values `<= 0`, durations parsed).
    pub fn from_spec(spec: &FluentdSpec) -> Result<Config, String> {
        let endpoint = match spec.network {
            Network::Tcp => {
                let host = if spec.host.is_empty() {
                    "127.0.0.1"
                } else {
                    &spec.host
                };
                let port = positive_or(spec.port as i64, 24224);
                if port > 65535 {
                    return Err(format!("fluentd.port {port} is out of range"));
                }
                Endpoint::Tcp(if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                })
            }
            Network::Unix if spec.socket_path.is_empty() => {
                return Err("fluentd.network unix needs fluentd.socketPath".into());
            }
            Network::Unix => Endpoint::Unix(PathBuf::from(&spec.socket_path)),
        };
        let timeout =
            parse_go_duration(&spec.timeout).map_err(|e| format!("fluentd.timeout: {e}"))?;
        let write_timeout = parse_go_duration(&spec.write_timeout)
            .map_err(|e| format!("fluentd.writeTimeout: {e}"))?;
        Ok(Config {
            endpoint,
            timeout: if timeout.is_zero() {
                Duration::from_secs(3)
            } else {
                timeout
            },
            write_timeout: (!write_timeout.is_zero()).then_some(write_timeout),
            buffer_limit: positive_or(spec.buffer_limit, 8192) as usize,
            retry: Retry {
                max_attempts: positive_or(spec.max_retry, 13).min(u32::MAX as i64) as u32,
                wait: Duration::from_millis(positive_or(spec.retry_wait, 500) as u64),
                max_wait: Duration::from_millis(positive_or(spec.max_retry_wait, 60_000) as u64),
            },
            r#async: spec.r#async,
            sub_second: spec.sub_second_precision,
            request_ack: spec.request_ack,
            tag: if spec.tag_prefix.is_empty() {
                TAG.to_string()
            } else {
                format!("{}.{TAG}", spec.tag_prefix)
            },
        })
    }
}

struct Post {
    entry: Entry,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// The client: posts go through a bounded channel to the writer task.
#[derive(Debug)]
pub struct Fluentd {
    posts: mpsc::Sender<Post>,
    config: Config,
}

impl std::fmt::Debug for Post {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Post").finish_non_exhaustive()
    }
}

impl Fluentd {
    /// Starts the writer task for `config`; it reports its connection in `health` and ends
    /// when the client is dropped and the buffer is written.
    pub fn start(config: Config, health: Arc<Health>) -> Fluentd {
        let (posts, rx) = mpsc::channel(config.buffer_limit);
        tokio::spawn(writer(config.clone(), rx, health));
        Fluentd { posts, config }
    }

    /// Posts `record`: fails at once when `bufferLimit` events are waiting; otherwise waits
    /// until it is written (and acknowledged, with `requestAck`), or only until buffered when
    /// `async`.
    pub async fn post(&self, record: Value, at: SystemTime) -> Result<(), String> {
        let entry = Entry {
            time: EventTime::at(at, self.config.sub_second),
            record,
        };
        let (done, result) = if self.config.r#async {
            (None, None)
        } else {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        };
        self.posts
            .try_send(Post { entry, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => format!(
                    "fluentd buffer full ({} events waiting)",
                    self.config.buffer_limit
                ),
                mpsc::error::TrySendError::Closed(_) => "fluentd writer stopped".to_string(),
            })?;
        match result {
            None => Ok(()),
            Some(rx) => rx
                .await
                .unwrap_or_else(|_| Err("fluentd writer stopped".into())),
        }
    }
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Conn, String> {
        let connect = async {
            match endpoint {
                Endpoint::Tcp(addr) => {
                    let s = TcpStream::connect(addr).await?;
                    s.set_nodelay(true)?;
                    Ok(Conn::Tcp(s))
                }
                Endpoint::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            }
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("connecting to {endpoint:?}: {e}")),
            Err(_) => Err(format!(
                "connecting to {endpoint:?}: timed out after {timeout:?}"
            )),
        }
    }

    /// Whether the server has closed its side (reads 0 bytes without waiting).
    fn peer_closed(&self) -> bool {
        let mut probe = [0u8; 1];
        let read = match self {
            Conn::Tcp(s) => s.try_read(&mut probe),
            Conn::Unix(s) => s.try_read(&mut probe),
        };
        matches!(read, Ok(0))
            || matches!(read, Err(ref e) if e.kind() != std::io::ErrorKind::WouldBlock)
    }

    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(buf).await,
            Conn::Unix(s) => s.write_all(buf).await,
        }
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read_buf(buf).await,
            Conn::Unix(s) => s.read_buf(buf).await,
        }
    }
}

/// Sends `message` on `conn` and, with `chunk`, waits for its ack.
async fn send(
    conn: &mut Conn,
    message: &[u8],
    chunk: Option<&str>,
    config: &Config,
) -> Result<(), String> {
    let write = conn.write_all(message);
    match config.write_timeout {
        Some(limit) => tokio::time::timeout(limit, write)
            .await
            .map_err(|_| format!("write timed out after {limit:?}"))?,
        None => write.await,
    }
    .map_err(|e| format!("write: {e}"))?;
    let Some(chunk) = chunk else { return Ok(()) };
    let wait_ack = async {
        let mut buf = BytesMut::with_capacity(128);
        loop {
            if let Some((ack, _)) = forward::decode_ack(&buf)? {
                return if ack.ack == chunk {
                    Ok(())
                } else {
                    Err(format!("ack for chunk {:?}, expected {chunk:?}", ack.ack))
                };
            }
            match conn.read_buf(&mut buf).await {
                Ok(0) => return Err("connection closed before the ack".to_string()),
                Ok(_) => {}
                Err(e) => return Err(format!("reading the ack: {e}")),
            }
        }
    };
    tokio::time::timeout(config.timeout, wait_ack)
        .await
        .map_err(|_| format!("no ack within {:?}", config.timeout))?
}

async fn writer(config: Config, mut posts: mpsc::Receiver<Post>, health: Arc<Health>) {
    let mut conn: Option<Conn> = None;
    let mut batch: Vec<Post> = Vec::with_capacity(MAX_BATCH);
    loop {
        if posts.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let entries: Vec<Entry> = batch.iter().map(|p| p.entry.clone()).collect();
        let chunk = config.request_ack.then(forward::new_chunk_id);
        let result = match forward::encode(
            &config.tag,
            &entries,
            chunk.as_deref(),
            forward::Batch::PackedForward,
        ) {
            Err(e) => Err(e),
            Ok(message) => {
                let mut attempt = 1;
                loop {
                    if conn.as_ref().is_some_and(Conn::peer_closed) {
                        conn = None;
                    }
                    let sent = match conn.as_mut() {
                        Some(c) => send(c, &message, chunk.as_deref(), &config).await,
                        None => match Conn::open(&config.endpoint, config.timeout).await {
                            Ok(mut c) => {
                                let r = send(&mut c, &message, chunk.as_deref(), &config).await;
                                conn = Some(c);
                                r
                            }
                            Err(e) => Err(e),
                        },
                    };
                    match sent {
                        Ok(()) => {
                            health.set_connected(true, None);
                            break Ok(());
                        }
                        Err(e) => {
                            conn = None;
                            health.set_connected(false, Some(e.clone()));
                            tracing::debug!(error = %e, attempt, "fluentd write failed");
                            if attempt >= config.retry.max_attempts {
                                break Err(format!("{e} (after {attempt} attempts)"));
                            }
                            tokio::time::sleep(config.retry.delay(attempt)).await;
                            attempt += 1;
                        }
                    }
                }
            }
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, events = batch.len(), "fluentd output could not deliver");
        }
        for post in batch.drain(..) {
            if let Some(done) = post.done {
                let _ = done.send(result.clone());
            }
        }
    }
}
