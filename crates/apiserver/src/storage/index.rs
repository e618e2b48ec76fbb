//! The index of current objects: per resource, namespace, then name, in key order.
//!
//! Nested rather than keyed by `(namespace, name)`: a namespace's name is held once, not once
//! per object, and each namespace's map knows its own size, so how many objects follow a key
//! (a page's `remainingItemCount`) is the sizes of the later namespaces plus a walk of the rest of
//! one namespace from whichever end of it is nearer, instead of a walk of everything after the
//! page.

use super::object::{ObjectKey, StoredObject};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

type Names = BTreeMap<Box<str>, Arc<StoredObject>>;

/// The objects of one resource.
#[derive(Debug, Default)]
struct Collection {
    namespaces: BTreeMap<Box<str>, Names>,
    len: usize,
}

/// Every current object, by resource (storage key), namespace and name.
#[derive(Debug, Default)]
pub struct Index {
    resources: HashMap<Arc<str>, Collection>,
}

/// Where a walk or a count starts: which namespace is in scope, and the key it starts after.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// One namespace, or every one.
    pub namespace: Option<&'a str>,
    /// The walk starts after this key (namespace, name); at the beginning when None.
    pub after: Option<(&'a str, &'a str)>,
}

impl Scope<'_> {
    /// Whether the key (`ns`, `name`) is in scope: in the namespace, and after the start.
    pub fn contains(&self, ns: &str, name: &str) -> bool {
        self.namespace.is_none_or(|want| want == ns)
            && self.after.is_none_or(|after| (ns, name) > after)
    }
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Index::default()
    }

    /// Puts `object` under `key`; answers the object it replaced.
    pub fn insert(
        &mut self,
        key: &ObjectKey,
        object: Arc<StoredObject>,
    ) -> Option<Arc<StoredObject>> {
        self.insert_at(&key.resource, &key.namespace, &key.name, object)
    }

    /// Puts `object` under (`resource`, `namespace`, `name`), allocating the resource's and
    /// the namespace's names only the first time they are seen.
    pub fn insert_at(
        &mut self,
        resource: &str,
        namespace: &str,
        name: &str,
        object: Arc<StoredObject>,
    ) -> Option<Arc<StoredObject>> {
        let collection = match self.resources.get_mut(resource) {
            Some(c) => c,
            None => self.resources.entry(Arc::from(resource)).or_default(),
        };
        let names = match collection.namespaces.get_mut(namespace) {
            Some(n) => n,
            None => collection.namespaces.entry(namespace.into()).or_default(),
        };
        let prev = match names.get_mut(name) {
            Some(slot) => Some(std::mem::replace(slot, object)),
            None => names.insert(name.into(), object),
        };
        if prev.is_none() {
            collection.len += 1;
        }
        prev
    }

    /// Removes the object under `key`; answers it.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        let collection = self.resources.get_mut(&key.resource)?;
        let names = collection.namespaces.get_mut(key.namespace.as_str())?;
        let removed = names.remove(key.name.as_str())?;
        if names.is_empty() {
            collection.namespaces.remove(key.namespace.as_str());
        }
        collection.len -= 1;
        Some(removed)
    }

    /// The object under (`resource`, `namespace`, `name`).
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<&Arc<StoredObject>> {
        self.resources
            .get(resource)?
            .namespaces
            .get(namespace)?
            .get(name)
    }

    /// How many objects each resource holds.
    pub fn counts(&self) -> impl Iterator<Item = (&Arc<str>, usize)> {
        self.resources.iter().map(|(r, c)| (r, c.len))
    }

    /// The objects of `resource` in `scope`, in key order (namespace, then name).
    pub fn walk<'a>(
        &'a self,
        resource: &str,
        scope: Scope<'a>,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a Arc<StoredObject>)> + 'a {
        let namespaces = self
            .resources
            .get(resource)
            .map(|c| namespaces_in(&c.namespaces, scope))
            .into_iter()
            .flatten();
        namespaces.flat_map(move |(ns, names)| {
            let start = match scope.after {
                Some((after_ns, after_name)) if after_ns == &**ns => Bound::Excluded(after_name),
                _ => Bound::Unbounded,
            };
            names
                .range::<str, _>((start, Bound::Unbounded))
                .map(move |(name, obj)| (&**ns, &**name, obj))
        })
    }

    /// How many objects of `resource` are in `scope` (after its start key): the sizes of the
    /// namespaces after the start key's, plus the objects after it in its own namespace, counted
    /// from whichever end of that namespace is nearer.
    pub fn count(&self, resource: &str, scope: Scope<'_>) -> u64 {
        let Some(collection) = self.resources.get(resource) else {
            return 0;
        };
        let mut total = 0u64;
        for (ns, names) in namespaces_in(&collection.namespaces, scope) {
            total += match scope.after {
                Some((after_ns, after_name)) if after_ns == &**ns => count_after(names, after_name),
                _ => names.len() as u64,
            };
        }
        total
    }
}

/// The namespaces of a collection that hold keys in `scope`, in order.
fn namespaces_in<'a>(
    namespaces: &'a BTreeMap<Box<str>, Names>,
    scope: Scope<'a>,
) -> impl Iterator<Item = (&'a Box<str>, &'a Names)> + 'a {
    let lower = match (scope.after, scope.namespace) {
        // A start key in an earlier namespace (a crafted token) starts at the namespace's
        // beginning; one in a later namespace leaves nothing (the upper bound below).
        (Some((after_ns, _)), Some(ns)) if after_ns < ns => Bound::Included(ns),
        (Some((after_ns, _)), _) => Bound::Included(after_ns),
        (None, Some(ns)) => Bound::Included(ns),
        (None, None) => Bound::Unbounded,
    };
    let upper = match scope.namespace {
        Some(ns) => Bound::Included(ns),
        None => Bound::Unbounded,
    };
    let empty = match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        _ => false,
    };
    (!empty)
        .then(|| namespaces.range::<str, _>((lower, upper)))
        .into_iter()
        .flatten()
}

/// How many names of `names` sort after `name`: walked from both ends at once, so the cost is
/// twice the shorter side's, not the namespace's size.
fn count_after(names: &Names, name: &str) -> u64 {
    let mut after = names.range::<str, _>((Bound::Excluded(name), Bound::Unbounded));
    let mut upto = names.range::<str, _>((Bound::Unbounded, Bound::Included(name)));
    let mut steps = 0u64;
    loop {
        if after.next().is_none() {
            return steps;
        }
        if upto.next().is_none() {
            return names.len() as u64 - steps;
        }
        steps += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(rv: u64) -> Arc<StoredObject> {
        Arc::new(StoredObject::new(rv, Default::default()))
    }

    fn filled() -> (Index, Vec<(String, String)>) {
        let mut index = Index::new();
        let mut keys = Vec::new();
        for (i, ns) in ["a", "b", "bb", "c"].iter().enumerate() {
            for n in 0..(i * 3 + 1) {
                let name = format!("n{n:02}");
                index.insert_at("/configmaps", ns, &name, obj(1));
                keys.push((ns.to_string(), name));
            }
        }
        index.insert_at("/secrets", "a", "x", obj(1));
        keys.sort();
        (index, keys)
    }

    #[test]
    fn counts_match_a_walk_from_every_key() {
        let (index, keys) = filled();
        for namespace in [None, Some("a"), Some("b"), Some("bb"), Some("zz"), Some("")] {
            let mut starts: Vec<Option<(&str, &str)>> = vec![None];
            starts.extend(keys.iter().map(|(ns, n)| Some((ns.as_str(), n.as_str()))));
            starts.extend([
                Some(("b", "n99")),
                Some(("b", "")),
                Some(("", "")),
                Some(("z", "")),
            ]);
            for after in starts {
                let scope = Scope { namespace, after };
                let walked: Vec<(String, String)> = index
                    .walk("/configmaps", scope)
                    .map(|(ns, n, _)| (ns.to_string(), n.to_string()))
                    .collect();
                let expected: Vec<(String, String)> = keys
                    .iter()
                    .filter(|(ns, n)| scope.contains(ns, n))
                    .cloned()
                    .collect();
                assert_eq!(walked, expected, "{scope:?}");
                assert_eq!(
                    index.count("/configmaps", scope),
                    expected.len() as u64,
                    "{scope:?}"
                );
            }
        }
    }

    #[test]
    fn sizes_follow_inserts_replacements_and_removals() {
        let (mut index, keys) = filled();
        let total = keys.len();
        let counts = |index: &Index| {
            let mut c: Vec<(String, usize)> =
                index.counts().map(|(r, n)| (r.to_string(), n)).collect();
            c.sort();
            c
        };
        assert_eq!(
            counts(&index),
            vec![("/configmaps".into(), total), ("/secrets".into(), 1)]
        );
        assert!(index.insert_at("/configmaps", "a", "n00", obj(2)).is_some());
        let key = |ns: &str, n: &str| ObjectKey::new(Arc::from("/configmaps"), ns, n);
        assert!(index.remove(&key("a", "n00")).is_some());
        assert!(index.remove(&key("a", "n00")).is_none());
        assert_eq!(counts(&index)[0].1, total - 1);
        // The emptied namespace is gone from walks and counts.
        let all = Scope::default();
        assert_eq!(index.walk("/configmaps", all).count(), total - 1);
        assert_eq!(index.count("/configmaps", all), total as u64 - 1);
        assert_eq!(
            index
                .get("/configmaps", "b", "n01")
                .map(|o| o.resource_version),
            Some(1)
        );
    }
}
