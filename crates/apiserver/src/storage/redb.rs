//! The durable medium: an embedded redb database.
//!
//! Why redb: pure Rust (no C toolchain), ACID transactions with a copy-on-write B-tree, and a
//! commit that fsyncs before returning, which is exactly the "on disk before acknowledged" rule.
//! One commit covers a whole batch of writes (group commit), so the fsync cost is shared.
//!
//! Layout: table `objects` maps the encoded [`ObjectKey`] to the resourceVersion (8 bytes, big
//! endian) followed by the object's JSON; table `meta` holds the global resourceVersion under
//! `resourceVersion`, so deletions advance it durably too.

use super::object::{ObjectKey, StoredObject};
use super::{Change, Index, Loaded, Storage};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::io;
use std::path::Path;
use std::sync::Arc;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RV_KEY: &str = "resourceVersion";

/// redb's page cache. Every object is read once at start into the store's index, which serves
/// every read after that; redb itself only reads the B-tree pages a commit rewrites, so a small
/// cache suffices (redb's default, 1 GiB, would keep up to that much of the file resident after
/// the load read all of it).
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Objects in a redb file; every commit is fsynced.
pub struct RedbStorage {
    db: Database,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage").finish_non_exhaustive()
    }
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl RedbStorage {
    /// Opens (or creates) the database `kubeforge.redb` in `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join("kubeforge.redb"))
            .map_err(io_err)?;
        let txn = db.begin_write().map_err(io_err)?;
        {
            txn.open_table(OBJECTS).map_err(io_err)?;
            txn.open_table(META).map_err(io_err)?;
        }
        txn.commit().map_err(io_err)?;
        Ok(RedbStorage { db })
    }
}

impl Storage for RedbStorage {
    fn load(&self) -> io::Result<Loaded> {
        let txn = self.db.begin_read().map_err(io_err)?;
        let meta = txn.open_table(META).map_err(io_err)?;
        let mut resource_version = meta
            .get(RV_KEY)
            .map_err(io_err)?
            .map(|v| v.value())
            .unwrap_or(0);
        let table = txn.open_table(OBJECTS).map_err(io_err)?;
        let mut objects = Index::new();
        for entry in table.iter().map_err(io_err)? {
            let (key, value) = entry.map_err(io_err)?;
            let key = key.value();
            let Some((resource, namespace, name)) = ObjectKey::split(key) else {
                return Err(io_err(format!("corrupt key {key:?}")));
            };
            let bytes = value.value();
            let Some((rv, json)) = bytes.split_first_chunk::<8>() else {
                return Err(io_err(format!("corrupt value under {key:?}")));
            };
            let rv = u64::from_be_bytes(*rv);
            resource_version = resource_version.max(rv);
            let object = StoredObject::new(rv, Bytes::copy_from_slice(json));
            objects.insert_at(resource, namespace, name, Arc::new(object));
        }
        Ok(Loaded {
            objects,
            resource_version,
        })
    }

    fn commit(&self, changes: &[Change], resource_version: u64) -> io::Result<()> {
        let txn = self.db.begin_write().map_err(io_err)?;
        {
            let mut table = txn.open_table(OBJECTS).map_err(io_err)?;
            let mut buf = Vec::new();
            for change in changes {
                match change {
                    Change::Put(key, object) => {
                        buf.clear();
                        buf.extend_from_slice(&object.resource_version.to_be_bytes());
                        buf.extend_from_slice(&object.json);
                        table
                            .insert(key.encode().as_str(), buf.as_slice())
                            .map_err(io_err)?;
                    }
                    Change::Delete(key) => {
                        table.remove(key.encode().as_str()).map_err(io_err)?;
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(io_err)?;
            meta.insert(RV_KEY, resource_version).map_err(io_err)?;
        }
        txn.commit().map_err(io_err)
    }

    fn name(&self) -> &'static str {
        "redb"
    }
}
