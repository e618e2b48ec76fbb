//! The store engine: current objects, the global resourceVersion, the event history and the
//! single writer that group-commits concurrent writes.
//!
//! Guarantees:
//! - resourceVersions are global and strictly increasing; each committed change gets the next one.
//! - A write is acknowledged only after its batch is committed to the [`Storage`] medium, and only
//!   then becomes visible to readers and watchers. A failed commit fails the whole batch.
//! - Preconditions (exists / does not exist / expected resourceVersion) are checked by the writer
//!   against the latest state including earlier writes of the same batch, so they are exact.

use super::Encoded;
use super::change_waiters::ChangeWaiters;
use super::history::{EventType, History, StoredEvent};
use super::index::{Index, Scope};
use super::object::{ObjectKey, StoredObject};
use super::watchers::{Interest, Registration, Watchers};
use super::{Change, Loaded, Page, PageRequest, SharedStorage, Storage};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::mpsc;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How many events the history keeps for watches to resume from.
    pub history_capacity: usize,
    /// The most writes committed together in one batch.
    pub max_batch: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_capacity: 10_000,
            max_batch: 512,
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No object under the key.
    #[error("not found")]
    NotFound,
    /// An object already exists under the key.
    #[error("already exists")]
    AlreadyExists,
    /// The object's resourceVersion is not the expected one.
    #[error("conflict: current resourceVersion is {current}")]
    Conflict {
        /// The object's current resourceVersion.
        current: u64,
    },
    /// The requested resourceVersion is no longer in the history.
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld {
        /// What the client asked for.
        requested: u64,
        /// The oldest resourceVersion still available.
        oldest: u64,
    },
    /// A shared medium no longer holds the requested revision of its history (etcd compacted
    /// it): a list at that revision cannot be read.
    #[error("required revision {requested} has been compacted")]
    Compacted {
        /// What the client asked for.
        requested: u64,
    },
    /// The requested resourceVersion is newer than anything committed (after waiting for it).
    #[error("Too large resource version: {requested}, current: {current}")]
    TooNew {
        /// What the client asked for.
        requested: u64,
        /// The current resourceVersion.
        current: u64,
    },
    /// The medium failed or the store is shut down.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// A write submitted to the store.
#[derive(Debug)]
pub enum WriteOp {
    /// Create; fails with `AlreadyExists`.
    Create {
        /// Where.
        key: ObjectKey,
        /// The object, serialized (its resourceVersion is stamped by the store).
        value: Encoded,
    },
    /// Replace; fails with `NotFound`, or `Conflict` when `expected` is set and differs.
    Update {
        /// Where.
        key: ObjectKey,
        /// The new object, serialized (its resourceVersion is stamped by the store).
        value: Encoded,
        /// The resourceVersion the caller based its change on.
        expected: Option<u64>,
    },
    /// Remove; fails with `NotFound`, or `Conflict` when `expected` is set and differs.
    Delete {
        /// Where.
        key: ObjectKey,
        /// The resourceVersion the caller based its decision on.
        expected: Option<u64>,
    },
}

impl WriteOp {
    fn key(&self) -> &ObjectKey {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// Which state a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    /// The latest committed state.
    Latest,
    /// Exactly the state at this resourceVersion (from the history).
    Exact(u64),
    /// Any state at least this new (waits briefly for it).
    NotOlderThan(u64),
}

/// Objects of one resource at one resourceVersion, ordered by namespace then name.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// The objects.
    pub items: Vec<(ObjectKey, Arc<StoredObject>)>,
    /// The resourceVersion of this snapshot.
    pub resource_version: u64,
}

struct State {
    objects: Index,
    resource_version: u64,
    /// The revision of the last change applied. The same as `resource_version` on a local
    /// medium; on a shared one `resource_version` may run ahead of it (progress notifications
    /// for revisions that concern no object), and a change that etcd 3.4 before 3.4.25 reports
    /// after such a notification is still applied, and still reaches every watch.
    last_event: u64,
    history: History,
}

struct Pending {
    op: WriteOp,
    reply: oneshot::Sender<Result<Arc<StoredObject>, StoreError>>,
}

struct Inner {
    state: RwLock<State>,
    committed: watch::Sender<u64>,
    writer: std::sync::Mutex<Option<mpsc::Sender<Pending>>>,
    medium: &'static str,
    closed: std::sync::atomic::AtomicBool,
    /// Becomes true when the writer thread has ended and released the medium.
    writer_done: watch::Sender<bool>,
    /// A shared medium (etcd): writes go to it, and the index and history are its cache.
    shared: Option<Arc<dyn SharedStorage>>,
    /// How many events the history keeps (a rebuilt cache starts a new history).
    history_capacity: usize,
    /// The open watches, to which each committed event is pushed.
    watchers: Arc<Watchers>,
    /// Writers on a shared medium waiting for their change to reach the cache.
    change_waiters: ChangeWaiters,
}

/// How long a write on a shared medium waits for the cache to catch up with it before answering
/// (the write is committed either way).
const CATCH_UP: Duration = Duration::from_secs(10);

/// How long a consistent read waits for the cache to reach the medium's revision.
const CONSISTENT_READ: Duration = Duration::from_secs(5);

/// The store; cheap to clone (shared).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("medium", &self.inner.medium)
            .finish()
    }
}

impl Store {
    /// Loads `storage` and starts the writer thread.
    pub fn open(storage: Arc<dyn Storage>, config: StoreConfig) -> std::io::Result<Store> {
        let loaded = storage.load()?;
        let objects = loaded.objects;
        let rv = loaded.resource_version;
        let (committed, _) = watch::channel(rv);
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(Inner {
            state: RwLock::new(State {
                objects,
                resource_version: rv,
                last_event: rv,
                history: History::new(config.history_capacity, rv),
            }),
            committed,
            writer: std::sync::Mutex::new(Some(tx)),
            medium: storage.name(),
            closed: std::sync::atomic::AtomicBool::new(false),
            writer_done: watch::channel(false).0,
            shared: None,
            history_capacity: config.history_capacity,
            watchers: Arc::new(Watchers::new(rv)),
            change_waiters: ChangeWaiters::default(),
        });
        let writer_inner = inner.clone();
        std::thread::Builder::new()
            .name("kubeforge-store-writer".into())
            .spawn(move || {
                let done = writer_inner.clone();
                // The medium (e.g. redb's file lock) is released when the loop returns.
                writer_loop(writer_inner, storage, rx, config.max_batch.max(1));
                done.writer_done.send_replace(true);
            })?;
        Ok(Store { inner })
    }

    /// Opens the cache of a shared medium: loads it at one revision, then follows its changes.
    pub async fn open_shared(
        storage: Arc<dyn SharedStorage>,
        config: StoreConfig,
    ) -> std::io::Result<Store> {
        let loaded = storage.load().await?;
        let rv = loaded.resource_version;
        let inner = Arc::new(Inner {
            state: RwLock::new(State {
                objects: loaded.objects,
                resource_version: rv,
                last_event: rv,
                history: History::new(config.history_capacity, rv),
            }),
            committed: watch::channel(rv).0,
            writer: std::sync::Mutex::new(None),
            medium: storage.name(),
            closed: std::sync::atomic::AtomicBool::new(false),
            // No writer thread: nothing to wait for on close.
            writer_done: watch::channel(true).0,
            shared: Some(storage.clone()),
            history_capacity: config.history_capacity,
            watchers: Arc::new(Watchers::new(rv)),
            change_waiters: ChangeWaiters::default(),
        });
        storage.start(
            Feed {
                inner: Arc::downgrade(&inner),
            },
            rv,
        );
        Ok(Store { inner })
    }

    /// Whether the medium is shared with other API servers (etcd).
    pub fn is_shared(&self) -> bool {
        self.inner.shared.is_some()
    }

    /// The medium's name ("memory", "redb", "etcd").
    pub fn medium(&self) -> &'static str {
        self.inner.medium
    }

    /// Stops accepting writes (the writer thread ends once queued writes are committed) and ends
    /// every open watch.
    pub fn close(&self) {
        if let Ok(mut writer) = self.inner.writer.lock() {
            writer.take();
        }
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.committed.send_modify(|_| {});
        self.inner.change_waiters.close();
        // Every watch reads what it was sent, then finds the store closed.
        self.inner.watchers.clear(self.resource_version());
    }

    /// Waits until the store is closed and the writer thread has released the medium, so the
    /// same data directory can be opened again.
    pub async fn wait_closed(&self) {
        let mut done = self.inner.writer_done.subscribe();
        let _ = done.wait_for(|d| *d).await;
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the index half-updated (updates are plain
        // map inserts), so a poisoned lock is still safe to read.
        self.inner.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest committed resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.read().resource_version
    }

    /// The oldest resourceVersion watches and exact lists can still start from.
    pub fn oldest_resource_version(&self) -> u64 {
        self.read().history.floor()
    }

    /// How many objects each resource (storage key) holds now.
    pub fn object_counts(&self) -> Vec<(Arc<str>, usize)> {
        let state = self.read();
        state
            .objects
            .counts()
            .map(|(resource, n)| (resource.clone(), n))
            .collect()
    }

    /// The current object under `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        let state = self.read();
        state
            .objects
            .get(&key.resource, &key.namespace, &key.name)
            .cloned()
    }

    /// The current objects of `resource` (its storage key), in key order.
    pub fn current(&self, resource: &str) -> Vec<Arc<StoredObject>> {
        let state = self.read();
        state
            .objects
            .walk(resource, Scope::default())
            .map(|(_, _, obj)| obj.clone())
            .collect()
    }

    /// Submits a write and waits for it to be committed.
    pub async fn write(&self, op: WriteOp) -> Result<Arc<StoredObject>, StoreError> {
        if let Some(shared) = &self.inner.shared {
            if self.is_closed() {
                return Err(StoreError::Unavailable("store is closed".into()));
            }
            let (outcome, revision) = shared.write(op).await;
            // Read-your-writes on this server, and a conflicting writer's retry reads the state
            // that beat it. The write is committed (or decided) either way.
            if outcome.is_ok() {
                // The write's own change must be in the cache, not only its revision: etcd 3.4
                // before 3.4.25 can report progress past events it has not sent yet
                // (etcd#15220), which moves the revision without the object.
                let _ = self.wait_for_change(revision, CATCH_UP).await;
            } else {
                let _ = self.catch_up(shared.as_ref(), revision, CATCH_UP).await;
            }
            return outcome;
        }
        let (reply, rx) = oneshot::channel();
        {
            let writer = self
                .inner
                .writer
                .lock()
                .map_err(|_| StoreError::Unavailable("writer lock poisoned".into()))?;
            let Some(tx) = writer.as_ref() else {
                return Err(StoreError::Unavailable("store is closed".into()));
            };
            tx.send(Pending { op, reply })
                .map_err(|_| StoreError::Unavailable("store writer stopped".into()))?;
        }
        rx.await
            .map_err(|_| StoreError::Unavailable("store writer stopped".into()))?
    }

    /// Waits until `rv` is committed, for at most `timeout`.
    pub async fn wait_for(&self, rv: u64, timeout: Duration) -> Result<(), StoreError> {
        let mut rx = self.inner.committed.subscribe();
        let wait = rx.wait_for(|current| *current >= rv);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::TooNew {
                requested: rv,
                current: self.resource_version(),
            }),
        }
    }

    /// Waits until the change committed at `rv` (or a later one) has been applied to the cache,
    /// for at most `timeout`: unlike [`Store::wait_for`], a progress report that moves the
    /// revision past changes still to come does not end the wait.
    async fn wait_for_change(&self, rv: u64, timeout: Duration) -> Result<(), StoreError> {
        let Some(wait) = self
            .inner
            .change_waiters
            .register(rv, || self.read().last_event)
        else {
            return Ok(());
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(StoreError::TooNew {
                requested: rv,
                current: self.resource_version(),
            }),
        }
    }

    /// Makes the next reads consistent: on a shared medium, waits until the cache has caught up
    /// with the medium's current revision (as kube-apiserver's consistent reads from its watch
    /// cache do), so a read on this server sees every write acknowledged by any server before it.
    /// Nothing to wait for on a local medium.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let Some(shared) = &self.inner.shared else {
            return Ok(());
        };
        let revision = shared.revision().await?;
        self.catch_up(shared.as_ref(), revision, CONSISTENT_READ)
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "the cache did not reach revision {revision} of the storage in time"
                ))
            })
    }

    /// Waits until the cache of a shared medium has reached `revision`: from the change stream's
    /// events, and when they do not get there soon (the newest revisions concern no object),
    /// from a progress notification asked for.
    async fn catch_up(
        &self,
        shared: &dyn SharedStorage,
        revision: u64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        if revision <= self.resource_version() {
            return Ok(());
        }
        let soon = Duration::from_millis(100).min(timeout);
        if self.wait_for(revision, soon).await.is_ok() {
            return Ok(());
        }
        shared.request_progress();
        self.wait_for(revision, timeout.saturating_sub(soon)).await
    }

    /// Reads one page of `resource` (optionally one namespace) from the shared medium itself
    /// rather than the cache (see [`SharedStorage::read_page`]): `Exact` at that revision,
    /// `Latest` at the medium's latest, `NotOlderThan` at the latest, which must not be older
    /// (else [`StoreError::TooNew`], as upstream's etcd3 store checks it). The page starts
    /// after `after` and ends when `limit` objects (0: no limit) pass `keep`.
    pub async fn read_page(
        &self,
        resource: &Arc<str>,
        namespace: Option<&str>,
        at: ReadAt,
        after: Option<(&str, &str)>,
        limit: usize,
        keep: &mut (dyn FnMut(&ObjectKey, &StoredObject) -> bool + Send),
    ) -> Result<Page, StoreError> {
        let Some(shared) = &self.inner.shared else {
            return Err(StoreError::Unavailable(
                "pages are read from a shared medium only".into(),
            ));
        };
        let request = PageRequest {
            resource: resource.clone(),
            namespace: namespace.map(str::to_string),
            after: after.map(|(ns, name)| (ns.to_string(), name.to_string())),
            revision: match at {
                ReadAt::Exact(rv) => rv,
                ReadAt::Latest | ReadAt::NotOlderThan(_) => 0,
            },
            limit,
        };
        let page = shared.read_page(request, keep).await?;
        if let ReadAt::NotOlderThan(rv) = at
            && rv > page.revision
        {
            return Err(StoreError::TooNew {
                requested: rv,
                current: page.revision,
            });
        }
        Ok(page)
    }

    /// Whether a client's consistent list may be served from the cache once it has reached the
    /// medium's revision: always on a local medium; on a shared one when its progress reports
    /// can be trusted ([`SharedStorage::consistent_from_cache`]), else such a list is read from
    /// the medium ([`Store::read_page`]).
    pub fn consistent_from_cache(&self) -> bool {
        self.inner
            .shared
            .as_ref()
            .is_none_or(|shared| shared.consistent_from_cache())
    }

    /// The current object under `key`, read consistently: from a shared medium itself (as
    /// kube-apiserver reads a GET without resourceVersion from etcd), from the index otherwise.
    pub async fn get_consistent(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<Arc<StoredObject>>, StoreError> {
        match &self.inner.shared {
            Some(shared) => Ok(shared.read(key).await?.map(Arc::new)),
            None => Ok(self.get(key)),
        }
    }

    /// Lists `resource` (optionally one namespace) at the requested state.
    pub async fn list(
        &self,
        resource: &Arc<str>,
        namespace: Option<&str>,
        at: ReadAt,
    ) -> Result<ListPage, StoreError> {
        let mut items = Vec::new();
        let resource_version = self
            .scan(resource, namespace, at, None, |ns, name, obj| {
                items.push((ObjectKey::new(resource.clone(), ns, name), obj.clone()));
                true
            })
            .await?;
        Ok(ListPage {
            items,
            resource_version,
        })
    }

    /// Visits the objects of `resource` (optionally one namespace) at the requested state in
    /// key order (namespace, then name), starting after the key `after`, until `visit` answers
    /// false; answers the state's resourceVersion.
    ///
    /// Nothing is copied: a page of a large collection costs the page (plus the walk `visit`
    /// asks for), not the collection. An older state is the current index with the keys written
    /// since then read from the event history instead.
    pub async fn scan(
        &self,
        resource: &Arc<str>,
        namespace: Option<&str>,
        at: ReadAt,
        after: Option<(&str, &str)>,
        visit: impl FnMut(&str, &str, &Arc<StoredObject>) -> bool,
    ) -> Result<u64, StoreError> {
        let exact = self.settle(at).await?;
        let state = self.read();
        let snapshot = Snapshot::new(&state, resource, namespace, exact)?;
        snapshot.walk(after, visit);
        Ok(snapshot.resource_version)
    }

    /// One page of `resource` (optionally one namespace) from the index at the requested state:
    /// the objects after `after` that pass `keep`, until `limit` of them are kept (0: no limit).
    /// A full page tells whether any object follows it, kept or not, and how many do (counted,
    /// not walked: see [`Index::count`]), as a page read from etcd does.
    pub async fn page(
        &self,
        resource: &Arc<str>,
        namespace: Option<&str>,
        at: ReadAt,
        after: Option<(&str, &str)>,
        limit: usize,
        mut keep: impl FnMut(&str, &str, &StoredObject) -> bool,
    ) -> Result<Page, StoreError> {
        let exact = self.settle(at).await?;
        let state = self.read();
        let snapshot = Snapshot::new(&state, resource, namespace, exact)?;
        let mut items: Vec<(ObjectKey, Arc<StoredObject>)> = Vec::new();
        let mut more = false;
        snapshot.walk(after, |ns, name, obj| {
            if limit > 0 && items.len() == limit {
                more = true;
                return false;
            }
            if keep(ns, name, obj) {
                items.push((ObjectKey::new(resource.clone(), ns, name), obj.clone()));
            }
            true
        });
        let remaining = match items.last() {
            Some((last, _)) if more => {
                snapshot.count_after((last.namespace.as_str(), last.name.as_str()))
            }
            _ => 0,
        };
        Ok(Page {
            items,
            revision: snapshot.resource_version,
            more,
            remaining,
        })
    }

    /// Waits as `at` asks (for a consistent read, or for a newer version to be committed);
    /// answers the exact version to read when `at` names one.
    async fn settle(&self, at: ReadAt) -> Result<Option<u64>, StoreError> {
        Ok(match at {
            ReadAt::Latest => {
                self.sync().await?;
                None
            }
            ReadAt::NotOlderThan(rv) => {
                if rv > self.resource_version() {
                    self.wait_for(rv, Duration::from_secs(3)).await?;
                }
                None
            }
            ReadAt::Exact(rv) => {
                if rv > self.resource_version() {
                    self.wait_for(rv, Duration::from_secs(3)).await?;
                }
                Some(rv)
            }
        })
    }

    /// Starts a watch of `resource` (all resources when None) for changes after `from`.
    pub fn watch(&self, resource: Option<Arc<str>>, from: u64) -> Result<WatchCursor, StoreError> {
        self.watch_for(
            Interest {
                resource,
                ..Default::default()
            },
            from,
        )
    }

    /// Starts a watch of what `interest` names for changes after `from`: the events it concerns
    /// are pushed to it as they are committed (filtered once, by the dispatcher).
    pub fn watch_for(&self, interest: Interest, from: u64) -> Result<WatchCursor, StoreError> {
        let mut cursor = WatchCursor {
            store: self.clone(),
            interest,
            position: from,
            backlog: VecDeque::new(),
            registration: None,
            skip_through: from,
        };
        cursor.register()?;
        Ok(cursor)
    }
}

/// One resource's objects (in one namespace, or all) at one resourceVersion: the current index,
/// with the keys written since that version read from the event history instead (each event
/// keeps the state it replaced).
struct Snapshot<'a> {
    index: &'a Index,
    resource: &'a str,
    namespace: Option<&'a str>,
    /// The keys in scope written after the version, with their state at that version (the
    /// `prev` of the first event after it; None: absent then).
    overlay: BTreeMap<(&'a str, &'a str), Option<&'a Arc<StoredObject>>>,
    resource_version: u64,
}

impl<'a> Snapshot<'a> {
    /// The snapshot at `exact` (the latest state when None or not older than it), or `TooOld`
    /// when the history no longer reaches back to it.
    fn new(
        state: &'a State,
        resource: &'a str,
        namespace: Option<&'a str>,
        exact: Option<u64>,
    ) -> Result<Self, StoreError> {
        let mut overlay = BTreeMap::new();
        let resource_version = match exact {
            Some(rv) if rv < state.resource_version => {
                let newer = state
                    .history
                    .since(rv)
                    .map_err(|oldest| StoreError::TooOld {
                        requested: rv,
                        oldest,
                    })?;
                for event in newer {
                    if *event.key.resource == *resource
                        && namespace.is_none_or(|ns| ns == event.key.namespace)
                    {
                        overlay
                            .entry((event.key.namespace.as_str(), event.key.name.as_str()))
                            .or_insert(event.prev.as_ref());
                    }
                }
                rv
            }
            // Not older than the current state: it is the current state (waited for).
            Some(_) | None => state.resource_version,
        };
        Ok(Snapshot {
            index: &state.objects,
            resource,
            namespace,
            overlay,
            resource_version,
        })
    }

    fn scope<'b>(&self, after: Option<(&'b str, &'b str)>) -> Scope<'b>
    where
        'a: 'b,
    {
        Scope {
            namespace: self.namespace,
            after,
        }
    }

    /// Visits the objects after `after` in key order until `visit` answers false.
    fn walk(
        &self,
        after: Option<(&str, &str)>,
        mut visit: impl FnMut(&str, &str, &Arc<StoredObject>) -> bool,
    ) {
        let scope = self.scope(after);
        let mut live = self
            .index
            .walk(self.resource, scope)
            .map(|(ns, name, obj)| ((ns, name), Some(obj)))
            .peekable();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        // (The overlay holds only keys of the namespace in scope; `contains` drops those
        // before a crafted start key from another namespace.)
        let mut then = self
            .overlay
            .range::<(&str, &str), _>((lower, Bound::Unbounded))
            .filter(|((ns, name), _)| scope.contains(ns, name))
            .map(|(k, v)| (*k, *v))
            .peekable();
        loop {
            let ((ns, name), obj) = match (live.peek(), then.peek()) {
                (None, None) => break,
                (Some(_), None) => live.next(),
                (None, Some(_)) => then.next(),
                (Some((l, _)), Some((t, _))) => match l.cmp(t) {
                    Ordering::Less => live.next(),
                    Ordering::Greater => then.next(),
                    Ordering::Equal => {
                        live.next();
                        then.next()
                    }
                },
            }
            .expect("peeked");
            if let Some(obj) = obj
                && !visit(ns, name, obj)
            {
                break;
            }
        }
    }

    /// How many objects follow the key `after`: counted in the current index, then corrected
    /// by the keys written since the snapshot (present then but not now, or now but not then).
    fn count_after(&self, after: (&str, &str)) -> u64 {
        let scope = self.scope(Some(after));
        let now = self.index.count(self.resource, scope);
        let mut then = now as i64;
        for (&(ns, name), state) in self
            .overlay
            .range::<(&str, &str), _>((Bound::Excluded(after), Bound::Unbounded))
            .filter(|((ns, name), _)| scope.contains(ns, name))
        {
            let present = self.index.get(self.resource, ns, name).is_some();
            then += i64::from(state.is_some()) - i64::from(present);
        }
        u64::try_from(then).unwrap_or(0)
    }
}

/// One committed change of a shared medium, as its change stream reports it.
#[derive(Debug)]
pub enum RemoteChange {
    /// An object was created or replaced; `object` carries its revision.
    Put {
        /// Which object.
        key: ObjectKey,
        /// Its new state.
        object: StoredObject,
    },
    /// An object was removed at `revision`.
    Delete {
        /// Which object.
        key: ObjectKey,
        /// The revision of the deletion.
        revision: u64,
        /// Its last state as the medium reports it (used when the cache lacks it).
        last: Option<Arc<StoredObject>>,
    },
}

impl RemoteChange {
    fn revision(&self) -> u64 {
        match self {
            RemoteChange::Put { object, .. } => object.resource_version,
            RemoteChange::Delete { revision, .. } => *revision,
        }
    }
}

/// The way a shared medium's change stream reaches the store's cache (index, history and
/// resourceVersion). Holds the store weakly: it ends when the store is dropped or closed.
#[derive(Clone)]
pub struct Feed {
    inner: std::sync::Weak<Inner>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

impl Feed {
    fn store(&self) -> Option<Arc<Inner>> {
        self.inner
            .upgrade()
            .filter(|inner| !inner.closed.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Whether the store is gone (the stream should stop).
    pub fn is_closed(&self) -> bool {
        self.store().is_none()
    }

    /// The revision the cache has reached.
    pub fn resource_version(&self) -> Option<u64> {
        let inner = self.store()?;
        let state = inner.state.read().unwrap_or_else(|e| e.into_inner());
        Some(state.resource_version)
    }

    /// Applies committed changes, in revision order, then advances the cache to `revision`
    /// (the stream has delivered everything up to it). The state each change replaces is the
    /// cache's: it has applied every change before.
    pub fn apply(&self, changes: Vec<RemoteChange>, revision: u64) {
        let Some(inner) = self.store() else {
            return;
        };
        let mut state = inner.state.write().unwrap_or_else(|e| e.into_inner());
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            let rv = change.revision();
            if rv <= state.last_event {
                // Already applied (a stream resumed from an earlier point).
                continue;
            }
            state.last_event = rv;
            state.resource_version = state.resource_version.max(rv);
            let event = match change {
                RemoteChange::Put { key, object } => {
                    let object = Arc::new(object);
                    let prev = state.objects.insert(&key, object.clone());
                    let event_type = if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    };
                    StoredEvent::new(event_type, key, object, prev)
                }
                RemoteChange::Delete {
                    key,
                    revision,
                    last,
                } => {
                    let removed = state.objects.remove(&key);
                    let Some(prev) = removed.or(last) else {
                        // Neither the cache nor the medium knows what was deleted.
                        continue;
                    };
                    StoredEvent::new(
                        EventType::Deleted,
                        key,
                        Arc::new(StoredObject::from_value(prev.value(), revision)),
                        Some(prev),
                    )
                }
            };
            let event = Arc::new(event);
            state.history.push(event.clone());
            applied.push(event);
        }
        state.resource_version = state.resource_version.max(revision);
        let rv = state.resource_version;
        let last_event = state.last_event;
        drop(state);
        inner.change_waiters.release(last_event);
        inner.watchers.dispatch(&applied, last_event);
        inner.committed.send_if_modified(|current| {
            let newer = rv > *current;
            *current = (*current).max(rv);
            newer
        });
    }

    /// The medium compacted its history up to `revision`: resuming from before it is 410 Gone.
    pub fn compacted(&self, revision: u64) {
        let Some(inner) = self.store() else {
            return;
        };
        let mut state = inner.state.write().unwrap_or_else(|e| e.into_inner());
        // A watch from R resumes with revision R+1, which etcd keeps when it compacted at R+1.
        state.history.compact(revision.saturating_sub(1));
    }

    /// Replaces the cache with a fresh load (after the stream lost changes it cannot replay):
    /// every open watch ends with 410 Gone and its client relists.
    pub fn reset(&self, loaded: Loaded) {
        let Some(inner) = self.store() else {
            return;
        };
        let rv = loaded.resource_version;
        let mut state = inner.state.write().unwrap_or_else(|e| e.into_inner());
        state.objects = loaded.objects;
        state.history = History::new(inner.history_capacity, rv);
        state.resource_version = rv;
        state.last_event = rv;
        drop(state);
        inner.change_waiters.release(rv);
        // Open watches catch up from the new history, which starts at `rv`: 410 for those behind.
        inner.watchers.clear(rv);
        inner.committed.send_replace(rv);
    }
}

/// A position in the change stream of one resource (or namespace, or selection of it); yields
/// committed events in order. Events are pushed to it by the store's dispatcher; one that fell
/// behind (its channel filled up) catches up from the history, or gets `TooOld` when the history
/// no longer reaches back to where it stands.
pub struct WatchCursor {
    store: Store,
    interest: Interest,
    /// Everything up to here has been delivered (or did not concern this cursor).
    position: u64,
    /// Events read from the history when registering, delivered before the channel's.
    backlog: VecDeque<Arc<StoredEvent>>,
    registration: Option<Registration>,
    /// Events at or below this resourceVersion reached the backlog already: the dispatcher may
    /// still send them, and they are skipped.
    skip_through: u64,
}

impl std::fmt::Debug for WatchCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCursor")
            .field("interest", &self.interest)
            .field("position", &self.position)
            .finish()
    }
}

impl WatchCursor {
    /// The resourceVersion this cursor has delivered up to: past the last event delivered,
    /// everything the store has dispatched once nothing is waiting for this cursor.
    pub fn position(&self) -> u64 {
        match &self.registration {
            Some(registration) if self.backlog.is_empty() => self
                .store
                .inner
                .watchers
                .seen_through(registration)
                .map_or(self.position, |seen| seen.max(self.position)),
            _ => self.position,
        }
    }

    /// Reads the history after `position` into the backlog and registers with the dispatcher,
    /// both under the state lock, so no event is missed between the two.
    fn register(&mut self) -> Result<(), StoreError> {
        self.registration = None;
        if self.store.is_closed() {
            return Err(StoreError::Unavailable("store closed".into()));
        }
        let state = self.store.read();
        let events = state
            .history
            .since(self.position)
            .map_err(|oldest| StoreError::TooOld {
                requested: self.position,
                oldest,
            })?;
        self.backlog
            .extend(events.filter(|e| self.interest.wants(e)).cloned());
        self.skip_through = self.position.max(state.last_event);
        self.registration = Some(self.store.inner.watchers.register(&self.interest));
        Ok(())
    }

    /// Moves what is waiting (the backlog, then the channel) into `out`, without waiting.
    fn drain(&mut self, out: &mut Vec<Arc<StoredEvent>>) {
        out.extend(self.backlog.drain(..));
        let Some(registration) = self.registration.as_mut() else {
            return;
        };
        while let Ok(event) = registration.rx.try_recv() {
            if event.resource_version() > self.skip_through {
                out.push(event);
            }
        }
    }

    fn delivered(&mut self, out: &[Arc<StoredEvent>]) {
        if let Some(last) = out.last() {
            self.position = self.position.max(last.resource_version());
        }
    }

    /// The next events (at least one), or `TooOld` when the cursor fell out of the history,
    /// or `Unavailable` when the store is gone. Cancel-safe: nothing is lost when the future is
    /// dropped before it completes.
    pub async fn next(&mut self) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        loop {
            let out = self.ready()?;
            if !out.is_empty() {
                return Ok(out);
            }
            let Some(registration) = self.registration.as_mut() else {
                continue;
            };
            // None: dropped by the dispatcher; `ready` registers again (or reports why not).
            if let Some(event) = registration.rx.recv().await
                && event.resource_version() > self.skip_through
            {
                self.backlog.push_back(event);
            }
        }
    }

    /// The events committed since the last call, without waiting (empty when there are none),
    /// or `TooOld`/`Unavailable` as [`WatchCursor::next`]: for a reader that catches up on
    /// demand instead of in a task of its own.
    pub fn ready(&mut self) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        if self.store.is_closed() {
            return Err(StoreError::Unavailable("store closed".into()));
        }
        if self
            .registration
            .as_ref()
            .is_none_or(|registration| registration.rx.is_closed())
        {
            // Dropped by the dispatcher (behind, or the cache was rebuilt): what it sent is
            // in the history too, if the history still reaches back to this cursor.
            self.backlog.clear();
            self.register()?;
        }
        let mut out = Vec::new();
        self.drain(&mut out);
        self.delivered(&out);
        if out.is_empty() {
            self.position = self.position();
        }
        Ok(out)
    }
}

fn writer_loop(
    inner: Arc<Inner>,
    storage: Arc<dyn Storage>,
    rx: mpsc::Receiver<Pending>,
    max_batch: usize,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        commit_batch(&inner, storage.as_ref(), batch);
    }
    tracing::debug!("store writer stopped");
}

type Outcome = Result<Arc<StoredObject>, StoreError>;

fn commit_batch(inner: &Inner, storage: &dyn Storage, batch: Vec<Pending>) {
    let mut overlay: HashMap<ObjectKey, Option<Arc<StoredObject>>> = HashMap::new();
    let mut changes = Vec::new();
    let mut events = Vec::new();
    let mut outcomes: Vec<(oneshot::Sender<Outcome>, Outcome)> = Vec::with_capacity(batch.len());
    let rv = {
        let state = inner.state.read().unwrap_or_else(|e| e.into_inner());
        let mut rv = state.resource_version;
        for Pending { op, reply } in batch {
            let key = op.key().clone();
            let current = match overlay.get(&key) {
                Some(v) => v.clone(),
                None => state
                    .objects
                    .get(&key.resource, &key.namespace, &key.name)
                    .cloned(),
            };
            let outcome = apply(op, current, rv + 1);
            match outcome {
                Ok((event_type, object, prev)) => {
                    rv += 1;
                    let stored = match event_type {
                        EventType::Deleted => {
                            changes.push(Change::Delete(key.clone()));
                            overlay.insert(key.clone(), None);
                            object.clone()
                        }
                        _ => {
                            changes.push(Change::Put(key.clone(), object.clone()));
                            overlay.insert(key.clone(), Some(object.clone()));
                            object.clone()
                        }
                    };
                    events.push(Arc::new(StoredEvent::new(event_type, key, object, prev)));
                    outcomes.push((reply, Ok(stored)));
                }
                Err(e) => outcomes.push((reply, Err(e))),
            }
        }
        rv
    };
    if !changes.is_empty() {
        if let Err(e) = storage.commit(&changes, rv) {
            tracing::error!(error = %e, "storage commit failed; failing the batch");
            for (reply, outcome) in outcomes {
                let failed = outcome.and(Err(StoreError::Unavailable(format!(
                    "storage commit failed: {e}"
                ))));
                let _ = reply.send(failed);
            }
            return;
        }
        let mut state = inner.state.write().unwrap_or_else(|e| e.into_inner());
        for (key, value) in overlay {
            match value {
                Some(obj) => {
                    state.objects.insert(&key, obj);
                }
                None => {
                    state.objects.remove(&key);
                }
            }
        }
        for event in &events {
            state.history.push(event.clone());
        }
        state.resource_version = rv;
        state.last_event = rv;
        drop(state);
        inner.committed.send_replace(rv);
    }
    for (reply, outcome) in outcomes {
        let _ = reply.send(outcome);
    }
    // After the acknowledgements: a watcher is told in commit order all the same (one writer),
    // and the writes do not wait for the fan-out.
    if !events.is_empty() {
        inner.watchers.dispatch(&events, rv);
    }
}

type Applied = (EventType, Arc<StoredObject>, Option<Arc<StoredObject>>);

fn apply(op: WriteOp, current: Option<Arc<StoredObject>>, rv: u64) -> Result<Applied, StoreError> {
    let check = |current: &Option<Arc<StoredObject>>,
                 expected: Option<u64>|
     -> Result<Arc<StoredObject>, StoreError> {
        let Some(cur) = current else {
            return Err(StoreError::NotFound);
        };
        if let Some(exp) = expected
            && exp != cur.resource_version
        {
            return Err(StoreError::Conflict {
                current: cur.resource_version,
            });
        }
        Ok(cur.clone())
    };
    match op {
        WriteOp::Create { value, .. } => {
            if current.is_some() {
                return Err(StoreError::AlreadyExists);
            }
            Ok((EventType::Added, Arc::new(value.stamp(rv)), None))
        }
        WriteOp::Update {
            value, expected, ..
        } => {
            let cur = check(&current, expected)?;
            Ok((EventType::Modified, Arc::new(value.stamp(rv)), Some(cur)))
        }
        WriteOp::Delete { expected, .. } => {
            let cur = check(&current, expected)?;
            let last = Arc::new(StoredObject::from_value(cur.value(), rv));
            Ok((EventType::Deleted, last, Some(cur)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryStorage;
    use super::*;
    use serde_json::json;

    type Model = BTreeMap<(String, String), u64>;

    fn resource() -> Arc<str> {
        Arc::from("/configmaps")
    }

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey::new(resource(), ns, name)
    }

    fn value(ns: &str, name: &str) -> Encoded {
        Encoded::new(&json!({"metadata": {"namespace": ns, "name": name}}))
    }

    /// The count every page's `remaining` must equal: the model's keys in scope after `after`.
    fn expected_after(model: &Model, namespace: Option<&str>, after: (&str, &str)) -> u64 {
        let scope = Scope {
            namespace,
            after: Some(after),
        };
        model.keys().filter(|(ns, n)| scope.contains(ns, n)).count() as u64
    }

    /// Pages through `namespace` (or everything) at `at` with every page size from 1 to 4 and
    /// checks each page's items, `more` and `remaining` against `model` (the state at `at`).
    async fn check_pages(store: &Store, model: &Model, namespace: Option<&str>, at: ReadAt) {
        let in_scope: Vec<(String, String)> = model
            .keys()
            .filter(|(ns, _)| namespace.is_none_or(|want| want == ns))
            .cloned()
            .collect();
        for limit in 1..=4 {
            let mut seen = Vec::new();
            let mut after: Option<(String, String)> = None;
            loop {
                let page = store
                    .page(
                        &resource(),
                        namespace,
                        at,
                        after.as_ref().map(|(ns, n)| (ns.as_str(), n.as_str())),
                        limit,
                        |_, _, _| true,
                    )
                    .await
                    .expect("page");
                for (key, obj) in &page.items {
                    let k = (key.namespace.clone(), key.name.clone());
                    assert_eq!(
                        model.get(&k),
                        Some(&obj.resource_version),
                        "{k:?} at {at:?}"
                    );
                    seen.push(k);
                }
                let Some((last, _)) = page.items.last() else {
                    assert!(!page.more);
                    break;
                };
                let last = (last.namespace.clone(), last.name.clone());
                let expected = expected_after(model, namespace, (&last.0, &last.1));
                assert_eq!(page.more, expected > 0, "more after {last:?} at {at:?}");
                if page.more {
                    assert_eq!(page.items.len(), limit);
                    assert_eq!(page.remaining, expected, "after {last:?} at {at:?}");
                } else {
                    break;
                }
                after = Some(last);
            }
            assert_eq!(seen, in_scope, "limit {limit} in {namespace:?} at {at:?}");
        }
    }

    #[tokio::test]
    async fn pages_count_what_follows_exactly_now_and_at_older_snapshots() {
        let store = Store::open(Arc::new(MemoryStorage), StoreConfig::default()).expect("open");
        let mut model = Model::new();
        let mut snapshots: Vec<(u64, Model)> = Vec::new();
        let namespaces = ["a", "b", "c", "d"];
        for i in 0..24 {
            let ns = namespaces[i % 3];
            let name = format!("n{:02}", (i * 7) % 24);
            let obj = store
                .write(WriteOp::Create {
                    key: key(ns, &name),
                    value: value(ns, &name),
                })
                .await
                .expect("create");
            model.insert((ns.into(), name), obj.resource_version);
        }
        snapshots.push((store.resource_version(), model.clone()));
        // Deletions, replacements, and creations in a namespace that did not exist.
        let mut step = 0;
        let keys: Vec<(String, String)> = model.keys().cloned().collect();
        for (ns, name) in keys {
            step += 1;
            let rv = match step % 4 {
                0 => {
                    let obj = store
                        .write(WriteOp::Delete {
                            key: key(&ns, &name),
                            expected: None,
                        })
                        .await
                        .expect("delete");
                    model.remove(&(ns.clone(), name.clone()));
                    obj.resource_version
                }
                1 => {
                    let obj = store
                        .write(WriteOp::Update {
                            key: key(&ns, &name),
                            value: value(&ns, &name),
                            expected: None,
                        })
                        .await
                        .expect("update");
                    model.insert((ns.clone(), name.clone()), obj.resource_version);
                    obj.resource_version
                }
                2 => {
                    let new = format!("{name}x");
                    let obj = store
                        .write(WriteOp::Create {
                            key: key("d", &new),
                            value: value("d", &new),
                        })
                        .await
                        .expect("create");
                    model.insert(("d".into(), new), obj.resource_version);
                    obj.resource_version
                }
                _ => continue,
            };
            snapshots.push((rv, model.clone()));
        }
        // Namespace "c" emptied.
        for (ns, name) in model.clone().keys().filter(|(ns, _)| ns == "c") {
            let obj = store
                .write(WriteOp::Delete {
                    key: key(ns, name),
                    expected: None,
                })
                .await
                .expect("delete");
            model.remove(&(ns.clone(), name.clone()));
            snapshots.push((obj.resource_version, model.clone()));
        }
        for namespace in [None, Some("a"), Some("c"), Some("d"), Some("e")] {
            check_pages(&store, &model, namespace, ReadAt::Latest).await;
            for (rv, then) in &snapshots {
                check_pages(&store, then, namespace, ReadAt::Exact(*rv)).await;
            }
        }
    }

    #[tokio::test]
    async fn a_selective_page_says_more_follows_when_anything_does() {
        let store = Store::open(Arc::new(MemoryStorage), StoreConfig::default()).expect("open");
        for name in ["a", "b", "c", "d"] {
            store
                .write(WriteOp::Create {
                    key: key("x", name),
                    value: value("x", name),
                })
                .await
                .expect("create");
        }
        let keep_ac = |_: &str, name: &str, _: &StoredObject| name == "a" || name == "c";
        let page = store
            .page(&resource(), None, ReadAt::Latest, None, 2, keep_ac)
            .await
            .expect("page");
        let names: Vec<&str> = page.items.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        // "d" follows (it does not match, but the walk cannot know that nothing after does).
        assert!(page.more);
        assert_eq!(page.remaining, 1);
        let page = store
            .page(
                &resource(),
                None,
                ReadAt::Latest,
                Some(("x", "c")),
                2,
                keep_ac,
            )
            .await
            .expect("page");
        assert!(page.items.is_empty() && !page.more);
    }
}
