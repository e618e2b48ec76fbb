//! Where objects live in etcd: kube-apiserver's key layout, so that tools that inspect etcd
//! (etcdctl, etcdhelper, backup tools) recognise it.
//!
//! - Resources of the built-in groups: `<prefix>/<resource>/<namespace>/<name>`, or
//!   `<prefix>/<resource>/<name>` when cluster-scoped, with upstream's historical names where they
//!   differ from the plural (nodes are `minions`, services `services/specs`, endpoints
//!   `services/endpoints`, replication controllers `controllers`, ingresses `ingress`).
//! - CustomResourceDefinitions, APIServices and every custom resource: `<prefix>/<group>/<resource>/…`
//!   (as apiextensions-apiserver and kube-aggregator lay them out).
//!
//! Values hold the object's JSON without `metadata.resourceVersion`: the version is the key's
//! `mod_revision`, stamped in when the value is read back (as upstream's etcd3 store does).

use crate::storage::ObjectKey;
use std::collections::HashMap;
use std::sync::Arc;

/// Upstream's storage names that differ from the resource's plural.
const RENAMED: &[(&str, &str)] = &[
    ("/nodes", "minions"),
    ("/services", "services/specs"),
    ("/endpoints", "services/endpoints"),
    ("/replicationcontrollers", "controllers"),
    ("networking.k8s.io/ingresses", "ingress"),
];

/// Groups stored under `<prefix>/<group>/<resource>` although kubeforge builds them in.
const GROUP_QUALIFIED: &[&str] = &["apiextensions.k8s.io", "apiregistration.k8s.io"];

/// The mapping between storage keys (`group/plural`) and etcd keys.
#[derive(Debug, Clone)]
pub struct KeyLayout {
    /// The configured prefix without a trailing slash, e.g. `/registry`.
    prefix: String,
    /// Built-in storage key → its etcd directory (relative to the prefix).
    short: HashMap<Arc<str>, String>,
    /// Etcd directory → built-in storage key, longest directory first when matching.
    by_dir: Vec<(String, Arc<str>)>,
}

impl KeyLayout {
    /// A layout under `prefix` for the given built-in storage keys (every other key is a custom
    /// resource's and is group-qualified).
    pub fn new(prefix: &str, builtin: impl IntoIterator<Item = Arc<str>>) -> KeyLayout {
        let prefix = format!("/{}", prefix.trim_matches('/'));
        let prefix = if prefix == "/" { String::new() } else { prefix };
        let mut short: HashMap<Arc<str>, String> = HashMap::new();
        let mut taken: HashMap<String, Arc<str>> = HashMap::new();
        for key in builtin {
            let Some((group, plural)) = key.split_once('/') else {
                continue;
            };
            if GROUP_QUALIFIED.contains(&group) || short.contains_key(&key) {
                continue;
            }
            let dir = RENAMED
                .iter()
                .find(|(k, _)| **k == *key)
                .map(|(_, d)| d.to_string())
                .unwrap_or_else(|| plural.to_string());
            // Two built-in groups with one plural: the first keeps the short name.
            if taken.contains_key(&dir) {
                continue;
            }
            taken.insert(dir.clone(), key.clone());
            short.insert(key, dir);
        }
        let mut by_dir: Vec<(String, Arc<str>)> = taken.into_iter().collect();
        by_dir.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        KeyLayout {
            prefix,
            short,
            by_dir,
        }
    }

    /// Every key this server owns starts with this (the prefix and a slash).
    pub fn root(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// The key of the compaction marker (kube-apiserver's `compact_rev_key`, under the prefix so
    /// that servers with different prefixes compact independently and one watch sees it).
    pub fn compact_key(&self) -> String {
        format!("{}/compact_rev_key", self.prefix)
    }

    /// The etcd directory of a resource (storage key), with a trailing slash.
    pub fn directory(&self, resource: &str) -> String {
        match self.short.get(resource) {
            Some(dir) => format!("{}/{dir}/", self.prefix),
            None => {
                let (group, plural) = resource.split_once('/').unwrap_or(("", resource));
                format!("{}/{group}/{plural}/", self.prefix)
            }
        }
    }

    /// The etcd key of an object.
    pub fn encode(&self, key: &ObjectKey) -> String {
        let dir = self.directory(&key.resource);
        if key.namespace.is_empty() {
            format!("{dir}{}", key.name)
        } else {
            format!("{dir}{}/{}", key.namespace, key.name)
        }
    }

    /// The object key of an etcd key; None for keys that are not objects of this layout.
    pub fn decode(&self, key: &[u8]) -> Option<ObjectKey> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let (resource, rest) = match rest.split_once('/')? {
            // Group-qualified: a custom resource group always has a dot.
            (group, rest) if group.contains('.') => {
                let (plural, rest) = rest.split_once('/')?;
                (ResourceName::Owned(format!("{group}/{plural}")), rest)
            }
            _ => {
                let (dir, storage_key) = self.by_dir.iter().find(|(dir, _)| {
                    rest.len() > dir.len()
                        && rest.starts_with(dir.as_str())
                        && rest.as_bytes()[dir.len()] == b'/'
                })?;
                (
                    ResourceName::Shared(storage_key.clone()),
                    &rest[dir.len() + 1..],
                )
            }
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.contains('/') => (ns, name),
            Some(_) => return None,
            None => ("", rest),
        };
        if name.is_empty() {
            return None;
        }
        let resource = match resource {
            ResourceName::Shared(r) => r,
            ResourceName::Owned(r) => Arc::from(r),
        };
        Some(ObjectKey::new(resource, namespace, name))
    }
}

enum ResourceName {
    Shared(Arc<str>),
    Owned(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> KeyLayout {
        KeyLayout::new(
            "/registry",
            [
                "/configmaps",
                "/nodes",
                "/services",
                "/endpoints",
                "apps/deployments",
                "networking.k8s.io/ingresses",
                "apiextensions.k8s.io/customresourcedefinitions",
                "/namespaces",
            ]
            .map(Arc::from),
        )
    }

    #[test]
    fn lays_out_as_kube_apiserver() {
        let l = layout();
        let cases = [
            (
                "/configmaps",
                "default",
                "a",
                "/registry/configmaps/default/a",
            ),
            (
                "apps/deployments",
                "ns",
                "web",
                "/registry/deployments/ns/web",
            ),
            ("/nodes", "", "n1", "/registry/minions/n1"),
            ("/services", "ns", "s", "/registry/services/specs/ns/s"),
            ("/endpoints", "ns", "s", "/registry/services/endpoints/ns/s"),
            (
                "networking.k8s.io/ingresses",
                "ns",
                "i",
                "/registry/ingress/ns/i",
            ),
            ("/namespaces", "", "default", "/registry/namespaces/default"),
            (
                "apiextensions.k8s.io/customresourcedefinitions",
                "",
                "widgets.example.com",
                "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
            ),
            (
                "example.com/widgets",
                "ns",
                "w",
                "/registry/example.com/widgets/ns/w",
            ),
            (
                "example.com/clusterwidgets",
                "",
                "w",
                "/registry/example.com/clusterwidgets/w",
            ),
        ];
        for (resource, ns, name, etcd) in cases {
            let key = ObjectKey::new(Arc::from(resource), ns, name);
            assert_eq!(l.encode(&key), etcd);
            assert_eq!(l.decode(etcd.as_bytes()), Some(key), "{etcd}");
        }
    }

    #[test]
    fn ignores_foreign_keys() {
        let l = layout();
        for key in [
            "/registry/compact_rev_key",
            "/other/configmaps/a/b",
            "/registry/unknown/a/b",
            "/registry/configmaps/a/b/c",
            "/registry/configmaps/",
        ] {
            assert_eq!(l.decode(key.as_bytes()), None, "{key}");
        }
    }

    #[test]
    fn prefix_is_configurable() {
        let l = KeyLayout::new("kubeforge/", ["/configmaps"].map(Arc::from));
        let key = ObjectKey::new(Arc::from("/configmaps"), "d", "a");
        assert_eq!(l.encode(&key), "/kubeforge/configmaps/d/a");
        assert_eq!(l.root(), "/kubeforge/");
        assert_eq!(l.decode(b"/kubeforge/configmaps/d/a"), Some(key));
    }
}
