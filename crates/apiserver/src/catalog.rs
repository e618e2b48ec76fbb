//! The catalog of served resources: built-ins from the table, plus whatever established CRDs add.
//!
//! Readers take a cheap snapshot (`Arc`); the CRD controller swaps in a new one when CRDs change,
//! so a request sees one consistent set of resources from start to end.

use crate::resource::ResourceType;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// An immutable set of served resources.
#[derive(Debug, Default)]
pub struct Resources {
    types: Vec<Arc<ResourceType>>,
    generation: u64,
}

impl Resources {
    /// Every served resource type, built-ins first.
    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// Changes with every swap; used to cache derived documents (discovery, OpenAPI).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The type served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// Any served version of `group/plural` (the first one served).
    pub fn any_version(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .cloned()
    }

    /// Served groups, each with its versions in order of appearance (the first is preferred).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &self.types {
            let versions = out.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        out
    }

    /// The groups in discovery order: built-in groups in order of first appearance, then the rest.
    pub fn group_order(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.types {
            if !out.contains(&t.group) {
                out.push(t.group.clone());
            }
        }
        out
    }
}

/// The shared, swappable catalog.
#[derive(Debug)]
pub struct Catalog {
    builtins: Vec<Arc<ResourceType>>,
    current: RwLock<Arc<Resources>>,
    /// The generation of the current snapshot, for those who follow changes.
    changed: tokio::sync::watch::Sender<u64>,
    /// The resourceVersion of the CRDs the custom resources were last built from.
    custom_from: tokio::sync::watch::Sender<u64>,
}

impl Catalog {
    /// A catalog serving `builtins`.
    pub fn new(builtins: Vec<ResourceType>) -> Self {
        let builtins: Vec<Arc<ResourceType>> = builtins.into_iter().map(Arc::new).collect();
        let resources = Resources {
            types: builtins.clone(),
            generation: 1,
        };
        Catalog {
            builtins,
            current: RwLock::new(Arc::new(resources)),
            changed: tokio::sync::watch::channel(1).0,
            custom_from: tokio::sync::watch::channel(0).0,
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Resources> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a built-in resource has this group and plural (custom resources may not shadow it).
    pub fn is_builtin(&self, group: &str, plural: &str) -> bool {
        self.builtins
            .iter()
            .any(|t| t.group == group && t.plural == plural)
    }

    /// Replaces the custom resources (all CRD-derived types, sorted by the caller's order), built
    /// from the CRDs as they were at resourceVersion `revision`.
    pub fn set_custom(&self, custom: Vec<ResourceType>, revision: u64) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut types = self.builtins.clone();
        types.extend(custom.into_iter().map(Arc::new));
        let generation = guard.generation + 1;
        *guard = Arc::new(Resources { types, generation });
        drop(guard);
        self.changed.send_replace(generation);
        self.custom_from
            .send_modify(|from| *from = (*from).max(revision));
    }

    /// Waits (at most `timeout`) until the custom resources are built from CRDs at least as new
    /// as resourceVersion `revision`; false when they are not by then.
    pub async fn wait_for_custom(&self, revision: u64, timeout: std::time::Duration) -> bool {
        let mut from = self.custom_from.subscribe();
        let reached = from.wait_for(|from| *from >= revision);
        matches!(tokio::time::timeout(timeout, reached).await, Ok(Ok(_)))
    }

    /// Follows the catalog: the receiver sees each new snapshot's generation.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
