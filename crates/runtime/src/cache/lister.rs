//! Listers: the read side controllers use (client-go's generated listers, generic over `K`).
//!
//! What this guarantees:
//! - Reads come from the informer's cache, never from the server, and return the cache's own
//!   `Arc`s (no copies).
//! - A namespace's objects are found through the built-in namespace index, not by scanning the
//!   whole cache.
//! - Label selectors are kube-rs's typed [`Selector`] (the type `watcher::Config::labels_from`
//!   takes; build one from a `LabelSelector` with `try_into`, from pairs with `collect`, or
//!   use `Selector::default()` for everything). kube-rs has no parser for selector strings, and a
//!   typed selector cannot be malformed at the point of use.

use super::index::{IndexError, NAMESPACE_INDEX};
use super::store::{Store, key_for};
use kube::core::{Selector, SelectorExt};
use kube::{Resource, ResourceExt};
use std::fmt;
use std::sync::Arc;

/// Reads an informer's cache: get by name, list by label selector, per namespace, by index.
///
/// ```no_run
/// # fn demo(informer: kubeforge_runtime::cache::Informer<k8s_openapi::api::core::v1::Pod>) {
/// use kube::core::{Expression, Selector};
///
/// let pods = informer.lister();
/// let web: Selector = Expression::Equal("app".into(), "web".into()).into();
/// let in_default = pods.namespaced("default").list(&web);
/// let one = pods.get("default", "web-0");
/// let everything = pods.list(&Selector::default());
/// # }
/// ```
pub struct Lister<K> {
    store: Arc<Store<K>>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Lister {
            store: self.store.clone(),
        }
    }
}

impl<K: Resource + 'static> fmt::Debug for Lister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lister")
            .field("store", &self.store)
            .finish()
    }
}

fn selected<K: Resource>(selector: &Selector) -> impl Fn(&K) -> bool + '_ {
    move |obj| selector.selects_all() || selector.matches(obj.labels())
}

impl<K: Resource + 'static> Lister<K> {
    pub(crate) fn new(store: Arc<Store<K>>) -> Self {
        Lister { store }
    }

    /// The object `name` in `namespace`; an empty `namespace` addresses a cluster-scoped object.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.store.get_by_key(&key_for(Some(namespace), name))
    }

    /// Every cached object whose labels match `selector`, in no particular order.
    pub fn list(&self, selector: &Selector) -> Vec<Arc<K>> {
        self.store.list_filtered(selected(selector))
    }

    /// A lister for one namespace.
    pub fn namespaced(&self, namespace: &str) -> NamespaceLister<K> {
        NamespaceLister {
            store: self.store.clone(),
            namespace: namespace.to_string(),
        }
    }

    /// The objects filed under `value` in index `index_name` (see
    /// [`Store::add_indexer`](super::Store::add_indexer)).
    pub fn by_index(&self, index_name: &str, value: &str) -> Result<Vec<Arc<K>>, IndexError> {
        self.store.by_index(index_name, value)
    }
}

/// Reads one namespace of an informer's cache (client-go's `Lister.Namespace(ns)`).
pub struct NamespaceLister<K> {
    store: Arc<Store<K>>,
    namespace: String,
}

impl<K> fmt::Debug for NamespaceLister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceLister")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl<K: Resource + 'static> NamespaceLister<K> {
    /// The object `name` in this namespace.
    pub fn get(&self, name: &str) -> Option<Arc<K>> {
        self.store.get_by_key(&key_for(Some(&self.namespace), name))
    }

    /// The objects of this namespace whose labels match `selector` (through the namespace index).
    pub fn list(&self, selector: &Selector) -> Vec<Arc<K>> {
        self.store
            .by_index_filtered(NAMESPACE_INDEX, &self.namespace, selected(selector))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::object_key;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::core::Expression;
    use std::collections::BTreeMap;

    fn cm(ns: &str, name: &str, app: &str) -> Arc<ConfigMap> {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some(ns.into());
        cm.metadata.name = Some(name.into());
        cm.metadata.labels = Some(BTreeMap::from([("app".to_string(), app.to_string())]));
        Arc::new(cm)
    }

    fn names(v: Vec<Arc<ConfigMap>>) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|o| object_key(&**o)).collect();
        v.sort();
        v
    }

    #[test]
    fn get_list_namespaced_and_by_index() {
        let store = Arc::new(Store::new());
        for o in [cm("a", "x", "web"), cm("a", "y", "db"), cm("b", "x", "web")] {
            store.upsert(&object_key(&*o), o);
        }
        let lister = Lister::new(store.clone());
        assert!(lister.get("a", "x").is_some());
        assert!(lister.get("a", "z").is_none());
        let web: Selector = Expression::Equal("app".into(), "web".into()).into();
        assert_eq!(names(lister.list(&web)), ["a/x", "b/x"]);
        assert_eq!(names(lister.list(&Selector::default())).len(), 3);
        let a = lister.namespaced("a");
        assert_eq!(names(a.list(&Selector::default())), ["a/x", "a/y"]);
        assert_eq!(names(a.list(&web)), ["a/x"]);
        assert_eq!(a.get("y").unwrap().metadata.name.as_deref(), Some("y"));
        assert!(a.get("nope").is_none());
        assert!(lister.namespaced("c").list(&Selector::default()).is_empty());
        assert_eq!(
            names(lister.by_index(NAMESPACE_INDEX, "b").unwrap()),
            ["b/x"]
        );
    }

    #[test]
    fn cluster_scoped_objects_use_an_empty_namespace() {
        let store = Arc::new(Store::new());
        let mut ns = Namespace::default();
        ns.metadata.name = Some("team-a".into());
        let ns = Arc::new(ns);
        store.upsert(&object_key(&*ns), ns);
        let lister = Lister::new(store);
        assert!(lister.get("", "team-a").is_some());
        assert_eq!(lister.namespaced("").list(&Selector::default()).len(), 1);
    }
}
