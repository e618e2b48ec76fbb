//! Secondary indexes over a cache, as client-go's `Indexer`: an [`IndexFunc`] files an object under
//! zero or more values; an index maps each value to the keys of the objects filed under it.
//!
//! What this guarantees:
//! - Every index is exact after every insert, replace and removal: the old object's values are
//!   withdrawn and the new object's values filed in the same step, under the store's write lock,
//!   so a reader never sees an object under a value it no longer has.
//! - An index added when objects are already cached is built over all of them before it answers.
//! - Keys are shared (`Arc<str>`) with the store's item map: an index costs one pointer per
//!   (object, value) pair, never a copy of the object or of its key.
//! - An index function that panics files the object under no value (the panic is logged); it
//!   cannot leave an index half-updated.

use kube::Resource;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The name of the built-in index every cache has: objects by namespace (`""` for cluster-scoped
/// objects), as client-go's `cache.NamespaceIndex`.
pub const NAMESPACE_INDEX: &str = "namespace";

/// Files an object under the values it returns (client-go's `IndexFunc`).
///
/// It runs under the store's write lock: it must be a pure function of the object and must not
/// read the store it indexes.
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// use kubeforge_runtime::cache::IndexFunc;
/// use std::sync::Arc;
///
/// // Pods by the node they run on.
/// let by_node: IndexFunc<Pod> = Arc::new(|pod: &Pod| {
///     pod.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect()
/// });
/// ```
pub type IndexFunc<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// Why an index operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// No index has this name.
    #[error("index {0:?} does not exist")]
    NotFound(String),
    /// An index with this name already exists.
    #[error("index {0:?} already exists")]
    Conflict(String),
}

/// What files objects in an index.
enum Source<K> {
    /// The built-in namespace index: read in place, so keeping it current allocates nothing.
    Namespace,
    Func(IndexFunc<K>),
}

/// One index: its function and value -> keys.
struct Index<K> {
    source: Source<K>,
    values: HashMap<String, HashSet<Arc<str>>>,
}

fn namespace_of<K: Resource>(obj: &K) -> &str {
    obj.meta().namespace.as_deref().unwrap_or("")
}

impl<K: Resource> Index<K> {
    fn values_of(&self, name: &str, obj: &K) -> Vec<String> {
        let func = match &self.source {
            Source::Namespace => return vec![namespace_of(obj).to_string()],
            Source::Func(func) => func,
        };
        match catch_unwind(AssertUnwindSafe(|| func(obj))) {
            Ok(mut values) => {
                if values.len() > 1 {
                    values.sort_unstable();
                    values.dedup();
                }
                values
            }
            Err(_) => {
                tracing::error!(
                    index = name,
                    "index function panicked; object filed under no value"
                );
                Vec::new()
            }
        }
    }

    fn file(&mut self, key: &Arc<str>, values: &[String]) {
        for value in values {
            self.file_one(key, value);
        }
    }

    fn file_one(&mut self, key: &Arc<str>, value: &str) {
        match self.values.get_mut(value) {
            Some(keys) => {
                keys.insert(key.clone());
            }
            None => {
                self.values
                    .insert(value.to_string(), HashSet::from([key.clone()]));
            }
        }
    }

    fn withdraw(&mut self, key: &str, values: &[String]) {
        for value in values {
            self.withdraw_one(key, value);
        }
    }

    fn withdraw_one(&mut self, key: &str, value: &str) {
        if let Some(keys) = self.values.get_mut(value) {
            keys.remove(key);
            if keys.is_empty() {
                self.values.remove(value);
            }
        }
    }

    /// Moves `key` from the values of `old` to those of `new`.
    fn update(&mut self, name: &str, key: &Arc<str>, old: Option<&K>, new: Option<&K>) {
        if let Source::Namespace = self.source {
            let (old, new) = (old.map(namespace_of), new.map(namespace_of));
            if old != new {
                if let Some(ns) = old {
                    self.withdraw_one(key, ns);
                }
                if let Some(ns) = new {
                    self.file_one(key, ns);
                }
            }
            return;
        }
        let old_values = old.map(|o| self.values_of(name, o)).unwrap_or_default();
        let new_values = new.map(|n| self.values_of(name, n)).unwrap_or_default();
        if old_values == new_values {
            // The common case: an update that moves nothing.
            return;
        }
        let gone: Vec<String> = old_values
            .iter()
            .filter(|v| !new_values.contains(v))
            .cloned()
            .collect();
        self.withdraw(key, &gone);
        self.file(key, &new_values);
    }
}

/// All indexes of one store. Not synchronised: the store calls it under its lock.
pub(crate) struct Indices<K> {
    by_name: HashMap<String, Index<K>>,
}

impl<K: Resource + 'static> Indices<K> {
    /// Indices with the built-in namespace index.
    pub(crate) fn new() -> Self {
        let mut by_name = HashMap::new();
        by_name.insert(
            NAMESPACE_INDEX.to_string(),
            Index {
                source: Source::Namespace,
                values: HashMap::new(),
            },
        );
        Indices { by_name }
    }

    /// Adds an index and builds it over `items`.
    pub(crate) fn add<'a>(
        &mut self,
        name: &str,
        func: IndexFunc<K>,
        items: impl Iterator<Item = (&'a Arc<str>, &'a Arc<K>)>,
    ) -> Result<(), IndexError>
    where
        K: 'a,
    {
        if self.by_name.contains_key(name) {
            return Err(IndexError::Conflict(name.to_string()));
        }
        let mut index = Index {
            source: Source::Func(func),
            values: HashMap::new(),
        };
        for (key, obj) in items {
            let values = index.values_of(name, obj);
            index.file(key, &values);
        }
        self.by_name.insert(name.to_string(), index);
        Ok(())
    }

    /// Moves `key` from the values of `old` to the values of `new` in every index.
    pub(crate) fn update(&mut self, key: &Arc<str>, old: Option<&K>, new: Option<&K>) {
        for (name, index) in &mut self.by_name {
            index.update(name, key, old, new);
        }
    }

    /// The keys filed under `value` in index `name`.
    pub(crate) fn keys(
        &self,
        name: &str,
        value: &str,
    ) -> Result<impl Iterator<Item = &Arc<str>>, IndexError> {
        let index = self
            .by_name
            .get(name)
            .ok_or_else(|| IndexError::NotFound(name.to_string()))?;
        Ok(index.values.get(value).into_iter().flatten())
    }

    /// Every value index `name` has at least one object under (empty if there is no such index).
    pub(crate) fn values(&self, name: &str) -> Vec<String> {
        self.by_name
            .get(name)
            .map(|index| index.values.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The names of all indexes.
    pub(crate) fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeMap;

    fn cm(ns: &str, name: &str, app: &str) -> Arc<ConfigMap> {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some(ns.into());
        cm.metadata.name = Some(name.into());
        cm.metadata.labels = Some(BTreeMap::from([("app".to_string(), app.to_string())]));
        Arc::new(cm)
    }

    fn by_app() -> IndexFunc<ConfigMap> {
        Arc::new(|cm: &ConfigMap| {
            cm.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app").cloned())
                .into_iter()
                .collect()
        })
    }

    fn sorted<'a>(keys: impl Iterator<Item = &'a Arc<str>>) -> Vec<String> {
        let mut v: Vec<String> = keys.map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn namespace_index_is_built_in() {
        let mut idx = Indices::<ConfigMap>::new();
        let key: Arc<str> = "a/x".into();
        idx.update(&key, None, Some(&cm("a", "x", "web")));
        assert_eq!(sorted(idx.keys(NAMESPACE_INDEX, "a").unwrap()), ["a/x"]);
        assert_eq!(idx.values(NAMESPACE_INDEX), ["a"]);
    }

    #[test]
    fn update_moves_key_between_values_and_drops_empty_values() {
        let mut idx = Indices::<ConfigMap>::new();
        idx.add("app", by_app(), std::iter::empty()).unwrap();
        let key: Arc<str> = "a/x".into();
        let v1 = cm("a", "x", "web");
        let v2 = cm("a", "x", "db");
        idx.update(&key, None, Some(&v1));
        idx.update(&key, Some(&v1), Some(&v2));
        assert_eq!(
            sorted(idx.keys("app", "web").unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(sorted(idx.keys("app", "db").unwrap()), ["a/x"]);
        assert_eq!(idx.values("app"), ["db"]);
        idx.update(&key, Some(&v2), None);
        assert!(idx.values("app").is_empty());
        assert!(idx.values(NAMESPACE_INDEX).is_empty());
    }

    #[test]
    fn index_added_late_is_built_over_existing_items() {
        let mut idx = Indices::<ConfigMap>::new();
        let items: Vec<(Arc<str>, Arc<ConfigMap>)> = vec![
            ("a/x".into(), cm("a", "x", "web")),
            ("a/y".into(), cm("a", "y", "web")),
            ("b/z".into(), cm("b", "z", "db")),
        ];
        idx.add("app", by_app(), items.iter().map(|(k, v)| (k, v)))
            .unwrap();
        assert_eq!(sorted(idx.keys("app", "web").unwrap()), ["a/x", "a/y"]);
        assert_eq!(
            idx.add("app", by_app(), std::iter::empty()),
            Err(IndexError::Conflict("app".into()))
        );
    }

    #[test]
    fn multi_valued_and_duplicate_values() {
        let mut idx = Indices::<ConfigMap>::new();
        let func: IndexFunc<ConfigMap> = Arc::new(|cm: &ConfigMap| {
            cm.metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .chain(["dup".to_string(), "dup".to_string()])
                .collect()
        });
        idx.add("label-keys", func, std::iter::empty()).unwrap();
        let key: Arc<str> = "a/x".into();
        idx.update(&key, None, Some(&cm("a", "x", "web")));
        let mut values = idx.values("label-keys");
        values.sort();
        assert_eq!(values, ["app", "dup"]);
        assert_eq!(sorted(idx.keys("label-keys", "dup").unwrap()), ["a/x"]);
    }

    #[test]
    fn unknown_index_is_an_error() {
        let idx = Indices::<ConfigMap>::new();
        assert!(matches!(idx.keys("nope", "x"), Err(IndexError::NotFound(n)) if n == "nope"));
        assert!(idx.values("nope").is_empty());
    }

    #[test]
    fn panicking_index_function_files_nothing() {
        let mut idx = Indices::<ConfigMap>::new();
        idx.add(
            "boom",
            Arc::new(|_: &ConfigMap| panic!("boom")),
            std::iter::empty(),
        )
        .unwrap();
        let key: Arc<str> = "a/x".into();
        idx.update(&key, None, Some(&cm("a", "x", "web")));
        assert!(idx.values("boom").is_empty());
        assert_eq!(sorted(idx.keys(NAMESPACE_INDEX, "a").unwrap()), ["a/x"]);
    }
}
