//! Storage: where objects live, how they are versioned, and how changes reach watchers.
//!
//! The design has two layers:
//! - [`Storage`] is the medium: [`MemoryStorage`] keeps nothing (tests), [`RedbStorage`] writes
//!   every change to an embedded redb database and fsyncs before the write is acknowledged.
//! - [`Store`] is the engine every resource goes through: one global, monotonically increasing
//!   resourceVersion, an index of current objects, a bounded event [`history`] that watches resume
//!   from, and a single writer thread that batches concurrent writes into one commit (group commit).
//!
//! Readers only ever see committed state: a write becomes visible (to get, list and watch) after
//! its batch is on the medium, and is acknowledged after that.

mod encoded;
mod history;
mod memory;
mod object;
mod redb;
mod store;

pub use encoded::Encoded;
pub use history::{EventType, History, StoredEvent};
pub use memory::MemoryStorage;
pub use object::{ObjectKey, StoredObject};
pub use redb::RedbStorage;
pub use store::{ListPage, ReadAt, Store, StoreConfig, StoreError, WatchCursor, WriteOp};

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
    /// Every stored object.
    pub objects: Vec<(ObjectKey, StoredObject)>,
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
