//! The shared medium: an etcd v3 cluster, as kube-apiserver uses it.
//!
//! etcd is the source of truth that several API servers share; each server's [`Store`] is a cache
//! of it (kube-apiserver's watch cache), loaded at one revision and then fed by etcd's watch:
//! - [`layout`]: kube-apiserver's key layout (`/registry/<resource>/<namespace>/<name>`);
//! - [`writes`]: every create, update and delete is one etcd transaction comparing the key's
//!   `mod_revision` (optimistic concurrency without a process-local lock); the resourceVersion of
//!   an object is its `mod_revision`, the global resourceVersion is etcd's revision, so two API
//!   servers never hand out the same one;
//! - [`feed`]: the initial load and the watch (with `prev_kv`) that brings every server's writes,
//!   in revision order, into this server's cache; a gap etcd has compacted away rebuilds it;
//! - [`reads`]: lists at a revision of etcd's history and paginated lists, read from etcd itself
//!   (not the cache) as kube-apiserver reads them;
//! - [`version`]: whether etcd's watch progress reports can be trusted for consistent reads
//!   from the cache (3.4.31 and 3.5.13 on), as kube-apiserver checks it;
//! - [`compaction`]: periodic compaction (`--etcd-compaction-interval`), coordinated between the
//!   servers through the `compact_rev_key` marker as upstream does.
//!
//! [`Store`]: super::Store

pub mod compaction;
pub mod feed;
pub mod layout;
pub mod reads;
pub mod version;
pub mod writes;

use super::{
    Feed, Loaded, ObjectKey, Page, PageRequest, SharedOutcome, SharedStorage, StoreError,
    StoredObject, WriteOp,
};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, KvClient, TlsOptions};
use futures::FutureExt;
use futures::future::BoxFuture;
use layout::KeyLayout;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long one request to etcd may take before the API request fails (upstream's client uses
/// a comparable per-request deadline; etcd itself gives up on a proposal after a few seconds).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The largest response this server accepts from etcd: as etcd's Go client (`math.MaxInt32`),
/// not tonic's 4 MiB default, which a page of large objects or a watch response carrying several
/// of them exceeds (etcd bounds requests, `--max-request-bytes`, not responses).
const MAX_RESPONSE: usize = i32::MAX as usize;

/// The KV service of `client`, accepting responses up to [`MAX_RESPONSE`].
pub(crate) fn kv_client(client: &Client) -> KvClient {
    client.kv_client().max_decoding_message_size(MAX_RESPONSE)
}

/// The watch service of `client`, accepting responses up to [`MAX_RESPONSE`].
pub(crate) fn watch_client(client: &Client) -> etcd_client::WatchClient {
    client
        .watch_client()
        .max_decoding_message_size(MAX_RESPONSE)
}

/// How to reach etcd and lay objects out in it.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Client URLs (`http://host:2379`, `https://…`), as `--etcd-servers`.
    pub endpoints: Vec<String>,
    /// The key prefix (`--etcd-prefix`, default `/registry`).
    pub prefix: String,
    /// The CA that signs etcd's serving certificate (`--etcd-cafile`).
    pub ca_file: Option<PathBuf>,
    /// The client certificate (`--etcd-certfile`); needs [`EtcdConfig::key_file`].
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (`--etcd-keyfile`).
    pub key_file: Option<PathBuf>,
    /// How often to compact etcd's history (`--etcd-compaction-interval`, default 5 minutes);
    /// zero disables compaction by this server.
    pub compaction_interval: Duration,
}

impl EtcdConfig {
    /// Plain endpoints under the default prefix, compacting every 5 minutes.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> EtcdConfig {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: "/registry".into(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            compaction_interval: Duration::from_secs(300),
        }
    }
}

/// A connection to etcd and the layout of this server's keys in it.
pub struct EtcdStorage {
    client: Client,
    /// The KV service of `client`, which each write and revision read clones (cloning the whole
    /// client, every service of it, per request cost a measurable share of a create's CPU).
    kv: KvClient,
    layout: Arc<KeyLayout>,
    progress: Arc<Notify>,
    compaction_interval: Duration,
    /// Whether every endpoint reports watch progress reliably ([`version`]).
    progress_reliable: bool,
}

impl std::fmt::Debug for EtcdStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStorage")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn read(path: &PathBuf) -> std::io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_err(format!("reading {}: {e}", path.display())))
}

impl EtcdStorage {
    /// Connects to etcd (failing when no endpoint answers) with the layout of the given built-in
    /// storage keys.
    pub async fn connect(
        config: &EtcdConfig,
        builtin: impl IntoIterator<Item = Arc<str>>,
    ) -> std::io::Result<EtcdStorage> {
        if config.endpoints.is_empty() {
            return Err(io_err("no etcd endpoints given"));
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        let tls = config.ca_file.is_some()
            || config.cert_file.is_some()
            || config.endpoints.iter().any(|e| e.starts_with("https://"));
        if tls {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &config.ca_file {
                tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
            } else {
                tls = tls.with_enabled_roots();
            }
            match (&config.cert_file, &config.key_file) {
                (Some(cert), Some(key)) => {
                    tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
                }
                (None, None) => {}
                _ => {
                    return Err(io_err(
                        "--etcd-certfile and --etcd-keyfile must be given together",
                    ));
                }
            }
            options = options.with_tls(tls);
        }
        let mut client = Client::connect(&config.endpoints, Some(options.clone()))
            .await
            .map_err(|e| io_err(format!("connecting to etcd {:?}: {e}", config.endpoints)))?;
        // A first request proves that an endpoint answers (the channel connects lazily).
        tokio::time::timeout(REQUEST_TIMEOUT, client.status())
            .await
            .map_err(|_| io_err(format!("etcd {:?} did not answer", config.endpoints)))?
            .map_err(|e| io_err(format!("etcd {:?}: {e}", config.endpoints)))?;
        let progress_reliable = version::cluster_reports_progress_reliably(config, &options).await;
        Ok(EtcdStorage {
            kv: kv_client(&client),
            client,
            layout: Arc::new(KeyLayout::new(&config.prefix, builtin)),
            progress: Arc::new(Notify::new()),
            compaction_interval: config.compaction_interval,
            progress_reliable,
        })
    }

    /// The key layout.
    pub fn layout(&self) -> &KeyLayout {
        &self.layout
    }

    /// The etcd client (shared by the feed, the writes and compaction).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// An etcd failure as the store reports it.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("etcd: {e}"))
}

impl SharedStorage for EtcdStorage {
    fn load(&self) -> BoxFuture<'_, std::io::Result<Loaded>> {
        async move {
            feed::load(&self.client, &self.layout)
                .await
                .map_err(|e| io_err(format!("loading from etcd: {e}")))
        }
        .boxed()
    }

    fn start(&self, feed: Feed, from: u64) {
        tokio::spawn(feed::run(
            self.client.clone(),
            self.layout.clone(),
            feed.clone(),
            from,
            self.progress.clone(),
        ));
        if !self.compaction_interval.is_zero() {
            tokio::spawn(compaction::run(
                self.client.clone(),
                self.layout.compact_key(),
                self.compaction_interval,
                feed,
            ));
        }
    }

    fn write(&self, op: WriteOp) -> BoxFuture<'_, SharedOutcome> {
        writes::write(self.kv.clone(), self.layout.clone(), op).boxed()
    }

    fn revision(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        async move {
            let mut kv = self.kv.clone();
            // Any range answers with the current revision in its header; counting one key
            // costs etcd nothing.
            let options = etcd_client::GetOptions::new().with_count_only();
            let response = tokio::time::timeout(
                REQUEST_TIMEOUT,
                kv.get(self.layout.compact_key(), Some(options)),
            )
            .await
            .map_err(|_| unavailable("request timed out"))?
            .map_err(unavailable)?;
            let revision = response.header().map(|h| h.revision()).unwrap_or(0);
            Ok(u64::try_from(revision).unwrap_or(0))
        }
        .boxed()
    }

    fn read_page<'a>(
        &'a self,
        request: PageRequest,
        keep: &'a mut (dyn FnMut(&ObjectKey, &StoredObject) -> bool + Send),
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        reads::read_page(&self.client, &self.layout, request, keep).boxed()
    }

    fn read<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<StoredObject>, StoreError>> {
        reads::read_one(&self.client, &self.layout, key).boxed()
    }

    fn consistent_from_cache(&self) -> bool {
        self.progress_reliable
    }

    fn request_progress(&self) {
        self.progress.notify_one();
    }

    fn name(&self) -> &'static str {
        "etcd"
    }
}
