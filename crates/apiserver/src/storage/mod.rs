//! Storage: where objects live, how they are versioned, and how changes reach watchers.
//!
//! The design has two layers:
//! - [`Storage`] is the medium: [`MemoryStorage`] keeps nothing (tests), [`RedbStorage`] writes
//!   every change to an embedded redb database and fsyncs before the write is acknowledged.
//! - [`Store`] is the engine every resource goes through: one global, monotonically increasing
//!   resourceVersion, an index of current objects, a bounded event [`history`] that watches resume
//!   from, and a single writer thread that batches concurrent writes into one commit (group commit).
//!
//! - [`SharedStorage`] is a medium that several API servers share ([`EtcdStorage`]): it is the
//!   source of truth, assigns resourceVersions itself and checks preconditions atomically; the
//!   store's index and history are then a cache of it, fed by the medium's change stream.
//!
//! Readers only ever see committed state: a write becomes visible (to get, list and watch) after
//! its batch is on the medium, and is acknowledged after that.

mod change_waiters;
mod encoded;
pub mod etcd;
mod history;
mod index;
mod memory;
mod object;
mod redb;
mod store;
mod watchers;

pub use encoded::Encoded;
pub use etcd::{EtcdConfig, EtcdStorage};
pub use history::{EventType, History, StoredEvent};
pub use index::{Index, Scope};
pub use memory::MemoryStorage;
pub use object::{ObjectKey, StoredObject};
pub use redb::RedbStorage;
pub use store::{
    Feed, ListPage, ReadAt, RemoteChange, Store, StoreConfig, StoreError, WatchCursor, WriteOp,
};
pub use watchers::{EventFilter, Interest};

/// One change the writer asks the medium to make durable.
#[derive(Debug, Clone)]
pub enum Change {
    /// Store (create or replace) this object under its key.
    Put(ObjectKey, std::sync::Arc<StoredObject>),
    /// Remove the object under this key.
    Delete(ObjectKey),
}

/// What a medium holds when the server starts.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every stored object, indexed as the store keeps them (built while reading, so a large
    /// medium is never held twice).
    pub objects: Index,
    /// The highest resourceVersion ever committed (also covers deletions).
    pub resource_version: u64,
}

/// A storage medium: durable or not.
///
/// `commit` is called from the store's single writer thread with a batch of changes and the
/// resourceVersion the store has reached after them; it returns only once the batch is as durable
/// as the medium makes it. A failed commit fails every write of the batch and changes nothing.
pub trait Storage: Send + Sync + 'static {
    /// Reads everything back (on start).
    fn load(&self) -> std::io::Result<Loaded>;
    /// Makes a batch of changes durable, atomically.
    fn commit(&self, changes: &[Change], resource_version: u64) -> std::io::Result<()>;
    /// A short name for logs ("memory", "redb").
    fn name(&self) -> &'static str;
}

/// The outcome of a write on a [`SharedStorage`]: the result, and the medium's revision it was
/// decided at (the store's cache catches up to it before answering, so the writer reads its own
/// write and a conflicting writer retries on the state that beat it). 0 when unknown.
pub type SharedOutcome = (Result<std::sync::Arc<StoredObject>, StoreError>, u64);

/// Which page of a resource [`SharedStorage::read_page`] reads.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// The resource (its storage key).
    pub resource: std::sync::Arc<str>,
    /// One namespace, or every one.
    pub namespace: Option<String>,
    /// The page starts after this object (namespace, name): a continue token's key.
    pub after: Option<(String, String)>,
    /// The revision to read at; 0 reads the latest one.
    pub revision: u64,
    /// The most objects the page keeps; 0 keeps every one.
    pub limit: usize,
}

/// A page read by [`SharedStorage::read_page`].
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The objects kept, in the medium's key order.
    pub items: Vec<(ObjectKey, std::sync::Arc<StoredObject>)>,
    /// The revision the page was read at.
    pub revision: u64,
    /// Whether objects follow the page (it is full and the medium holds more).
    pub more: bool,
    /// How many keys follow the page, kept or not (kube-apiserver's `remainingItemCount` when
    /// there is no selector).
    pub remaining: u64,
}

/// A medium shared by several API servers: it holds the truth, stamps resourceVersions and checks
/// preconditions in one atomic step, and streams every committed change (its own and other
/// servers') into the store through a [`Feed`].
pub trait SharedStorage: Send + Sync + 'static {
    /// Reads everything at one revision (on start, and to rebuild the cache after a gap).
    fn load(&self) -> futures::future::BoxFuture<'_, std::io::Result<Loaded>>;
    /// Starts streaming changes after `from` into `feed` (a task that runs until the store
    /// closes).
    fn start(&self, feed: Feed, from: u64);
    /// Applies one write atomically under its precondition.
    fn write(&self, op: WriteOp) -> futures::future::BoxFuture<'_, SharedOutcome>;
    /// The medium's current revision (for consistent reads: the cache must reach it first).
    fn revision(&self) -> futures::future::BoxFuture<'_, Result<u64, StoreError>>;
    /// Reads one page of a resource's objects from the medium itself, at a revision of its own
    /// history (as kube-apiserver reads paginated and exact lists from etcd, not its cache):
    /// `keep` filters, and the page ends when `request.limit` objects are kept.
    fn read_page<'a>(
        &'a self,
        request: PageRequest,
        keep: &'a mut (dyn FnMut(&ObjectKey, &StoredObject) -> bool + Send),
    ) -> futures::future::BoxFuture<'a, Result<Page, StoreError>>;
    /// Reads the object under `key` from the medium itself, now (a consistent GET, which
    /// kube-apiserver reads from etcd rather than its cache).
    fn read<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> futures::future::BoxFuture<'a, Result<Option<StoredObject>, StoreError>>;
    /// Whether a consistent list may be served from the cache once it has reached the medium's
    /// revision: true when the change stream's progress reports can be trusted to follow its
    /// events (else consistent lists are read from the medium, as kube-apiserver reads them from
    /// etcd before 3.4.31 and 3.5.13).
    fn consistent_from_cache(&self) -> bool;
    /// Asks the change stream to report its progress (it may be behind only by writes that
    /// concern no object, which produce no event).
    fn request_progress(&self);
    /// A short name for logs ("etcd").
    fn name(&self) -> &'static str;
}
