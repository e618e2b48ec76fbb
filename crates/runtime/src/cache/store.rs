//! The cache behind an informer: a thread-safe map from `namespace/name` to the latest object,
//! with secondary indexes (client-go's `threadSafeMap` + `Indexer`).
//!
//! What this guarantees:
//! - Objects are held as `Arc<K>` and handed out as `Arc<K>`: readers share the cached object,
//!   nothing is cloned per reader, and an object a reader holds never changes under it (an update
//!   replaces the `Arc`, it does not mutate the object).
//! - Items and indexes change together under one write lock, so every read (a get, a list, an
//!   index lookup) sees one consistent state.
//! - Only the informer that owns a store writes to it; everything public here reads.

use super::index::{IndexError, IndexFunc, Indices};
use kube::Resource;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The cache key of an object: `namespace/name`, or `name` for a cluster-scoped object
/// (client-go's `MetaNamespaceKeyFunc`).
///
/// ```
/// use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
/// use kubeforge_runtime::cache::object_key;
///
/// let mut cm = ConfigMap::default();
/// cm.metadata.namespace = Some("default".into());
/// cm.metadata.name = Some("settings".into());
/// assert_eq!(object_key(&cm), "default/settings");
///
/// let mut ns = Namespace::default();
/// ns.metadata.name = Some("default".into());
/// assert_eq!(object_key(&ns), "default");
/// ```
pub fn object_key<K: Resource>(obj: &K) -> String {
    let mut key = String::new();
    write_key(&mut key, obj);
    key
}

/// Writes the cache key of `obj` into `buf` (cleared first), allocating only to grow it.
pub(crate) fn write_key<K: Resource>(buf: &mut String, obj: &K) {
    let meta = obj.meta();
    buf.clear();
    if let Some(ns) = meta.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        buf.push_str(ns);
        buf.push('/');
    }
    buf.push_str(meta.name.as_deref().unwrap_or_default());
}

/// The cache key for `name` in `namespace` (`None` or `""`: cluster-scoped).
///
/// ```
/// use kubeforge_runtime::cache::key_for;
/// assert_eq!(key_for(Some("default"), "settings"), "default/settings");
/// assert_eq!(key_for(None, "node-1"), "node-1");
/// ```
pub fn key_for(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Splits a cache key into (namespace, name) (client-go's `SplitMetaNamespaceKey`).
///
/// ```
/// use kubeforge_runtime::cache::split_key;
/// assert_eq!(split_key("default/settings"), (Some("default"), "settings"));
/// assert_eq!(split_key("node-1"), (None, "node-1"));
/// ```
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

/// A thread-safe, indexed cache of objects of type `K`, filled by an [`Informer`](super::Informer).
///
/// Read it directly, or through a [`Lister`](super::Lister):
///
/// ```no_run
/// # async fn demo(client: kube::Client) {
/// use k8s_openapi::api::core::v1::Pod;
/// use kube::{Api, runtime::watcher};
/// use kubeforge_runtime::cache::Informer;
///
/// let informer = Informer::new(Api::<Pod>::all(client), watcher::Config::default());
/// informer.start();
/// informer.wait_for_sync().await;
/// let store = informer.store();
/// println!("{} pods, {} in kube-system", store.len(),
///     store.by_index("namespace", "kube-system").unwrap().len());
/// # }
/// ```
pub struct Store<K> {
    inner: RwLock<Inner<K>>,
}

struct Inner<K> {
    items: HashMap<Arc<str>, Arc<K>>,
    indices: Indices<K>,
}

impl<K: Resource + 'static> fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<K: Resource + 'static> Store<K> {
    /// An empty store with the built-in namespace index.
    pub(crate) fn new() -> Self {
        Store {
            inner: RwLock::new(Inner {
                items: HashMap::new(),
                indices: Indices::new(),
            }),
        }
    }
}

impl<K: Resource + 'static> Store<K> {
    // Writers never panic while holding the lock (index functions are caught), so a poisoned
    // lock can only come from a panic elsewhere in the same thread; the state is still whole.
    fn read(&self) -> RwLockReadGuard<'_, Inner<K>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The object cached under `key` (see [`object_key`]).
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        self.read().items.get(key).cloned()
    }

    /// Every cached object, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().items.values().cloned().collect()
    }

    /// The key of every cached object, in no particular order.
    pub fn list_keys(&self) -> Vec<String> {
        self.read().items.keys().map(|k| k.to_string()).collect()
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.read().items.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an index named `name`; if objects are already cached it is built over them now.
    ///
    /// ```no_run
    /// # fn demo(informer: kubeforge_runtime::cache::Informer<k8s_openapi::api::core::v1::Pod>) {
    /// informer.store().add_indexer("node", |pod: &k8s_openapi::api::core::v1::Pod| {
    ///     pod.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect()
    /// }).unwrap();
    /// let on_node_1 = informer.store().by_index("node", "node-1").unwrap();
    /// # }
    /// ```
    pub fn add_indexer(
        &self,
        name: &str,
        func: impl Fn(&K) -> Vec<String> + Send + Sync + 'static,
    ) -> Result<(), IndexError> {
        let func: IndexFunc<K> = Arc::new(func);
        let mut inner = self.write();
        let Inner { items, indices } = &mut *inner;
        indices.add(name, func, items.iter())
    }

    /// The names of all indexes (always including [`NAMESPACE_INDEX`](super::NAMESPACE_INDEX)).
    pub fn indexer_names(&self) -> Vec<String> {
        self.read().indices.names()
    }

    /// The objects filed under `value` in index `index_name` (client-go's `ByIndex`).
    pub fn by_index(&self, index_name: &str, value: &str) -> Result<Vec<Arc<K>>, IndexError> {
        self.by_index_filtered(index_name, value, |_| true)
    }

    /// The keys of the objects filed under `value` in index `index_name` (client-go's `IndexKeys`).
    pub fn index_keys(&self, index_name: &str, value: &str) -> Result<Vec<String>, IndexError> {
        let inner = self.read();
        Ok(inner
            .indices
            .keys(index_name, value)?
            .map(|k| k.to_string())
            .collect())
    }

    /// Every value index `index_name` currently has objects under (client-go's
    /// `ListIndexFuncValues`); empty if there is no such index.
    pub fn list_index_func_values(&self, index_name: &str) -> Vec<String> {
        self.read().indices.values(index_name)
    }

    /// The cached objects for which `keep` answers true.
    pub(crate) fn list_filtered(&self, keep: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        self.read()
            .items
            .values()
            .filter(|o| keep(o))
            .cloned()
            .collect()
    }

    /// The objects under `value` in `index_name` for which `keep` answers true.
    pub(crate) fn by_index_filtered(
        &self,
        index_name: &str,
        value: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<Arc<K>>, IndexError> {
        let inner = self.read();
        Ok(inner
            .indices
            .keys(index_name, value)?
            .filter_map(|k| inner.items.get(k))
            .filter(|o| keep(o))
            .cloned()
            .collect())
    }

    /// Inserts or replaces the object under `key`; answers the key as stored (shared with the
    /// indexes) and the object it replaced.
    pub(crate) fn upsert(&self, key: &str, obj: Arc<K>) -> (Arc<str>, Option<Arc<K>>) {
        let mut inner = self.write();
        let Inner { items, indices } = &mut *inner;
        match items.get_key_value(key) {
            Some((stored_key, _)) => {
                let stored_key = stored_key.clone();
                let old = items.insert(stored_key.clone(), obj.clone());
                indices.update(&stored_key, old.as_deref(), Some(&obj));
                (stored_key, old)
            }
            None => {
                let stored_key: Arc<str> = key.into();
                indices.update(&stored_key, None, Some(&obj));
                items.insert(stored_key.clone(), obj);
                (stored_key, None)
            }
        }
    }

    /// Removes the object under `key`, answering it.
    pub(crate) fn remove(&self, key: &str) -> Option<Arc<K>> {
        let mut inner = self.write();
        let Inner { items, indices } = &mut *inner;
        let (stored_key, old) = items.remove_entry(key)?;
        indices.update(&stored_key, Some(&old), None);
        Some(old)
    }

    /// Removes every object whose key is not in `keep`, answering them (the relist diff).
    pub(crate) fn retain_keys(&self, keep: &HashSet<Arc<str>>) -> Vec<(Arc<str>, Arc<K>)> {
        let mut inner = self.write();
        let Inner { items, indices } = &mut *inner;
        let gone: Vec<Arc<str>> = items
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        gone.into_iter()
            .filter_map(|key| {
                let (key, old) = items.remove_entry(&key)?;
                indices.update(&key, Some(&old), None);
                Some((key, old))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::NAMESPACE_INDEX;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeMap;

    fn cm(ns: &str, name: &str, app: &str) -> Arc<ConfigMap> {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some(ns.into());
        cm.metadata.name = Some(name.into());
        cm.metadata.labels = Some(BTreeMap::from([("app".to_string(), app.to_string())]));
        Arc::new(cm)
    }

    fn put(store: &Store<ConfigMap>, obj: Arc<ConfigMap>) -> Option<Arc<ConfigMap>> {
        store.upsert(&object_key(&*obj), obj).1
    }

    fn app_index(store: &Store<ConfigMap>) {
        store
            .add_indexer("app", |cm: &ConfigMap| {
                cm.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app").cloned())
                    .into_iter()
                    .collect()
            })
            .unwrap();
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn objects_are_shared_not_cloned() {
        let store = Store::new();
        let obj = cm("a", "x", "web");
        put(&store, obj.clone());
        let got = store.get_by_key("a/x").unwrap();
        assert!(Arc::ptr_eq(&obj, &got));
        assert!(Arc::ptr_eq(&obj, &store.list()[0]));
        assert!(Arc::ptr_eq(
            &obj,
            &store.by_index(NAMESPACE_INDEX, "a").unwrap()[0]
        ));
    }

    #[test]
    fn add_update_delete_keep_items_and_indexes_consistent() {
        let store = Store::new();
        app_index(&store);
        assert!(put(&store, cm("a", "x", "web")).is_none());
        put(&store, cm("a", "y", "web"));
        put(&store, cm("b", "x", "db"));
        assert_eq!(store.len(), 3);
        assert_eq!(
            sorted(store.index_keys("app", "web").unwrap()),
            ["a/x", "a/y"]
        );
        assert_eq!(
            sorted(store.index_keys(NAMESPACE_INDEX, "b").unwrap()),
            ["b/x"]
        );

        let old = put(&store, cm("a", "y", "db")).unwrap();
        assert_eq!(old.metadata.labels.as_ref().unwrap()["app"], "web");
        assert_eq!(sorted(store.index_keys("app", "web").unwrap()), ["a/x"]);
        assert_eq!(
            sorted(store.index_keys("app", "db").unwrap()),
            ["a/y", "b/x"]
        );

        assert!(store.remove("a/x").is_some());
        assert!(store.remove("a/x").is_none());
        assert_eq!(
            store.index_keys("app", "web").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(sorted(store.list_index_func_values("app")), ["db"]);
        assert_eq!(
            sorted(store.list_index_func_values(NAMESPACE_INDEX)),
            ["a", "b"]
        );
        assert_eq!(sorted(store.list_keys()), ["a/y", "b/x"]);
    }

    #[test]
    fn indexer_added_after_items_exist_is_built() {
        let store = Store::new();
        put(&store, cm("a", "x", "web"));
        put(&store, cm("b", "y", "web"));
        app_index(&store);
        assert_eq!(
            sorted(store.index_keys("app", "web").unwrap()),
            ["a/x", "b/y"]
        );
        assert_eq!(store.by_index("app", "web").unwrap().len(), 2);
        assert_eq!(
            store.add_indexer(NAMESPACE_INDEX, |_| vec![]),
            Err(IndexError::Conflict(NAMESPACE_INDEX.into()))
        );
        assert!(matches!(
            store.by_index("missing", "x"),
            Err(IndexError::NotFound(_))
        ));
        assert_eq!(sorted(store.indexer_names()), ["app", NAMESPACE_INDEX]);
    }

    #[test]
    fn retain_keys_removes_the_rest_from_items_and_indexes() {
        let store = Store::new();
        app_index(&store);
        put(&store, cm("a", "x", "web"));
        put(&store, cm("a", "y", "web"));
        put(&store, cm("b", "z", "db"));
        let keep: HashSet<Arc<str>> = HashSet::from([Arc::from("a/y")]);
        let mut gone: Vec<String> = store
            .retain_keys(&keep)
            .into_iter()
            .map(|(k, _)| k.to_string())
            .collect();
        gone.sort();
        assert_eq!(gone, ["a/x", "b/z"]);
        assert_eq!(store.list_keys(), ["a/y"]);
        assert_eq!(store.list_index_func_values("app"), ["web"]);
        assert_eq!(store.list_index_func_values(NAMESPACE_INDEX), ["a"]);
    }

    #[test]
    fn keys_are_shared_between_items_and_indexes() {
        let store = Store::new();
        let (key, _) = store.upsert("a/x", cm("a", "x", "web"));
        // items + namespace index + this handle
        assert_eq!(Arc::strong_count(&key), 3);
        let (again, _) = store.upsert("a/x", cm("a", "x", "db"));
        assert!(Arc::ptr_eq(&key, &again));
    }

    #[test]
    fn concurrent_readers_see_whole_states() {
        let store = Arc::new(Store::new());
        app_index(&store);
        put(&store, cm("a", "x", "db"));
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let app = if i % 2 == 0 { "web" } else { "db" };
                    put(&store, cm("a", "x", app));
                }
            })
        };
        for _ in 0..2000 {
            // One read: the object is filed under exactly one app value, never none or both.
            assert_eq!(store.list_index_func_values("app").len(), 1);
        }
        writer.join().unwrap();
        assert_eq!(store.len(), 1);
    }
}
