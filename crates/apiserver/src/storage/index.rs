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

impl Collection {
    /// Adds the objects `names` of `namespace` (replacing any under the same names): moved
    /// whole when the namespace is new here.
    fn absorb(&mut self, namespace: Box<str>, names: Names) {
        match self.namespaces.get_mut(&namespace) {
            None => {
                self.len += names.len();
                self.namespaces.insert(namespace, names);
            }
            Some(map) => {
                for (name, object) in names {
                    if map.insert(name, object).is_none() {
                        self.len += 1;
                    }
                }
            }
        }
    }
}

/// Every current object, by resource (storage key), namespace and name.
#[derive(Debug, Default)]
pub struct Index {
    resources: HashMap<Arc<str>, Collection>,
}

/// Builds an [`Index`] from objects read in key order, forwards or backwards (as a medium's
/// table is read at start): each namespace's objects are gathered as they come and its map is
/// built from them in one go (sorted input: no search per object), instead of one insertion at
/// a time. Objects out of order are still placed right, only more slowly.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: Index,
    /// The resource and namespace being gathered, and their objects so far.
    run: Option<(Arc<str>, Box<str>)>,
    names: Vec<(Box<str>, Arc<StoredObject>)>,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        IndexBuilder::default()
    }

    /// Adds the object under (`resource`, `namespace`, `name`); a later one under the same key
    /// replaces it.
    pub fn push(&mut self, resource: &str, namespace: &str, name: &str, object: Arc<StoredObject>) {
        let same = self
            .run
            .as_ref()
            .is_some_and(|(r, ns)| **r == *resource && **ns == *namespace);
        if !same {
            self.flush();
            let resource = match self.index.resources.get_key_value(resource) {
                Some((r, _)) => r.clone(),
                None => Arc::from(resource),
            };
            self.run = Some((resource, namespace.into()));
        }
        self.names.push((name.into(), object));
    }

    /// Places the gathered namespace into the index.
    fn flush(&mut self) {
        let Some((resource, namespace)) = self.run.take() else {
            return;
        };
        // Sorts (a single pass over sorted or reversed input) and builds the map bottom up; of
        // equal keys the last pushed is kept.
        let names: Names = std::mem::take(&mut self.names).into_iter().collect();
        let collection = self.index.resources.entry(resource).or_default();
        collection.absorb(namespace, names);
    }

    /// The index of everything pushed.
    pub fn finish(mut self) -> Index {
        self.flush();
        self.index
    }
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

    /// Moves every object of `other` into this index (`other`'s replacing this one's under the
    /// same key): a namespace only `other` holds is moved whole.
    pub fn merge(&mut self, other: Index) {
        for (resource, theirs) in other.resources {
            let ours = self.resources.entry(resource).or_default();
            for (namespace, names) in theirs.namespaces {
                ours.absorb(namespace, names);
            }
        }
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

    /// What the builder and merge make is what inserting one at a time makes: from sorted,
    /// reversed and shuffled input, split in two and merged, with keys read twice.
    #[test]
    fn built_and_merged_indexes_equal_inserted_ones() {
        let mut keys: Vec<(&str, String, String)> = Vec::new();
        for (r, resource) in ["/configmaps", "apps/deployments"].into_iter().enumerate() {
            for ns in ["", "a", "a-b", "b"] {
                for n in 0..(r * 5 + ns.len() * 3 + 2) {
                    keys.push((resource, ns.to_string(), format!("n{n}")));
                }
            }
        }
        let shapes = |index: &Index| {
            let mut all: Vec<(String, String, String, u64)> = Vec::new();
            for resource in ["/configmaps", "apps/deployments"] {
                all.extend(index.walk(resource, Scope::default()).map(|(ns, n, o)| {
                    (
                        resource.to_string(),
                        ns.to_string(),
                        n.to_string(),
                        o.resource_version,
                    )
                }));
            }
            let mut counts: Vec<(String, usize)> =
                index.counts().map(|(r, n)| (r.to_string(), n)).collect();
            counts.sort();
            (all, counts)
        };
        let mut want = Index::new();
        for (i, (r, ns, n)) in keys.iter().enumerate() {
            want.insert_at(r, ns, n, obj(i as u64));
        }
        let want = shapes(&want);
        let mut sorted = keys.clone();
        sorted.sort();
        let mut shuffled = keys.clone();
        shuffled.sort_by_key(|(r, ns, n)| (n.len(), n.clone(), ns.clone(), *r));
        let version = |key: &(&str, String, String)| {
            keys.iter().position(|k| k == key).expect("known key") as u64
        };
        for order in [
            sorted.clone(),
            sorted.iter().rev().cloned().collect(),
            shuffled,
        ] {
            for split in [0, 1, order.len() / 3, order.len() / 2, order.len()] {
                // The halves overlap by a few keys, as the two readers of a medium may.
                let (first, second) = (&order[..(split + 3).min(order.len())], &order[split..]);
                let build = |part: &[(&str, String, String)]| {
                    let mut b = IndexBuilder::new();
                    for key in part {
                        b.push(key.0, &key.1, &key.2, obj(version(key)));
                    }
                    b.finish()
                };
                let mut index = build(first);
                index.merge(build(second));
                assert_eq!(shapes(&index), want, "split at {split}");
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
