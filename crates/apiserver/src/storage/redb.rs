//! The durable medium: an embedded redb database.
//!
//! Why redb: pure Rust (no C toolchain), ACID transactions with a copy-on-write B-tree, and a
//! commit that fsyncs before returning, which is exactly the "on disk before acknowledged" rule.
//! One commit covers a whole batch of writes (group commit), so the fsync cost is shared.
//!
//! Layout: table `objects` maps the encoded [`ObjectKey`] to the resourceVersion (8 bytes, big
//! endian) followed by the object's JSON; table `meta` holds the global resourceVersion under
//! `resourceVersion`, so deletions advance it durably too.

use super::index::IndexBuilder;
use super::object::{ObjectKey, StoredObject};
use super::{Change, Index, Loaded, Storage};
use bytes::Bytes;
use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

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
    /// Reads the table from both ends at once, on two threads that stop where they meet, each
    /// building its part of the index; the parts are merged (whole namespaces move, only the
    /// one they met in is merged object by object).
    fn load(&self) -> io::Result<Loaded> {
        let txn = self.db.begin_read().map_err(io_err)?;
        let meta = txn.open_table(META).map_err(io_err)?;
        let stored_version = meta
            .get(RV_KEY)
            .map_err(io_err)?
            .map(|v| v.value())
            .unwrap_or(0);
        let table = txn.open_table(OBJECTS).map_err(io_err)?;
        let meeting = Meeting::default();
        let (forward, backward) = std::thread::scope(|scope| {
            let backward = std::thread::Builder::new()
                .name("kubeforge-load".into())
                .spawn_scoped(scope, || read_half(&table, &meeting, End::Last))?;
            let forward = read_half(&table, &meeting, End::First);
            let backward = backward
                .join()
                .map_err(|_| io_err("the load's second reader panicked"))?;
            Ok::<_, io::Error>((forward, backward))
        })?;
        let (mut objects, forward_version) = forward?;
        let (rest, backward_version) = backward?;
        objects.merge(rest);
        Ok(Loaded {
            objects,
            resource_version: stored_version.max(forward_version).max(backward_version),
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

/// Which end of the table a reader of [`RedbStorage::load`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    First,
    Last,
}

/// Where the two readers of a load have got to: each publishes the last key it read every
/// [`MEET_EVERY`] objects, and stops once it has passed the other's (the keys between the
/// publications may be read by both; the merge keeps one of each).
#[derive(Debug, Default)]
struct Meeting {
    forward: Mutex<Option<String>>,
    backward: Mutex<Option<String>>,
}

/// How many objects a reader reads between looks at the other's progress.
const MEET_EVERY: usize = 4096;

/// Reads the table from `end` until it meets the other reader (or reaches the other end):
/// its part of the index and the highest resourceVersion in it.
fn read_half(
    table: &ReadOnlyTable<&'static str, &'static [u8]>,
    meeting: &Meeting,
    end: End,
) -> io::Result<(Index, u64)> {
    let (mine, theirs) = match end {
        End::First => (&meeting.forward, &meeting.backward),
        End::Last => (&meeting.backward, &meeting.forward),
    };
    let iter = table.iter().map_err(io_err)?;
    let entries: Box<dyn Iterator<Item = _>> = match end {
        End::First => Box::new(iter),
        End::Last => Box::new(iter.rev()),
    };
    let mut builder = IndexBuilder::new();
    let mut resource_version = 0u64;
    for (i, entry) in entries.enumerate() {
        let (key, value) = entry.map_err(io_err)?;
        let key = key.value();
        if i % MEET_EVERY == MEET_EVERY - 1 {
            let lock = |m: &Mutex<Option<String>>| {
                // A reader that panicked holding it left a key or none: either is usable.
                m.lock().unwrap_or_else(|e| e.into_inner()).clone()
            };
            let met = lock(theirs).is_some_and(|other| match end {
                // The other reader has read every key from `other` on (or down to it).
                End::First => key >= other.as_str(),
                End::Last => key <= other.as_str(),
            });
            if met {
                break;
            }
            *mine.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_string());
        }
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
        builder.push(resource, namespace, name, Arc::new(object));
    }
    Ok((builder.finish(), resource_version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Scope;

    /// Objects of two resources in namespaces of different sizes (cluster-scoped ones too).
    fn changes(n: usize) -> Vec<(ObjectKey, Arc<StoredObject>)> {
        let resources: [Arc<str>; 2] = [Arc::from("/configmaps"), Arc::from("apps/deployments")];
        (0..n)
            .map(|i| {
                let resource = resources[i % 7 / 5].clone();
                let ns = match i % 13 {
                    0 => String::new(),
                    k => format!("ns-{}", k * k % 11),
                };
                let json = format!("{{\"i\":{i}}}");
                let object = StoredObject::new(i as u64 + 1, Bytes::from(json));
                (
                    ObjectKey::new(resource, ns, format!("o-{i}")),
                    Arc::new(object),
                )
            })
            .collect()
    }

    /// Whatever the size (the two readers meet anywhere, or never when the table is small),
    /// the load gives back every object once, in order, and the highest resourceVersion.
    #[test]
    fn a_load_reads_every_object_once_from_both_ends() {
        for n in [0, 1, 2, 4095, 4096, 8193, 30_000] {
            let dir = tempfile::tempdir().expect("tempdir");
            let storage = RedbStorage::open(dir.path()).expect("open");
            let objects = changes(n);
            let puts: Vec<Change> = objects
                .iter()
                .map(|(k, o)| Change::Put(k.clone(), o.clone()))
                .collect();
            for batch in puts.chunks(5000) {
                storage.commit(batch, n as u64 + 7).expect("commit");
            }
            let loaded = storage.load().expect("load");
            let stored = if n == 0 { 0 } else { n as u64 + 7 };
            assert_eq!(loaded.resource_version, stored, "{n} objects");
            let mut want: Vec<(String, String, String, Bytes)> = objects
                .iter()
                .map(|(k, o)| {
                    let key = (k.resource.to_string(), k.namespace.clone(), k.name.clone());
                    (key.0, key.1, key.2, o.json.clone())
                })
                .collect();
            want.sort();
            let mut got = Vec::new();
            let mut resources: Vec<String> = loaded
                .objects
                .counts()
                .map(|(r, _)| r.to_string())
                .collect();
            resources.sort();
            for r in &resources {
                let walked = loaded.objects.walk(r, Scope::default());
                got.extend(walked.map(|(ns, name, o)| {
                    (r.clone(), ns.to_string(), name.to_string(), o.json.clone())
                }));
            }
            assert_eq!(got, want, "{n} objects");
            let counted: usize = loaded.objects.counts().map(|(_, c)| c).sum();
            assert_eq!(counted, n);
        }
    }
}
