//! Admission: what a write passes besides the resource's own rules, as kube-apiserver's
//! admission plugins. A create first passes the mutating plugins (before the strategy prepares
//! and validates it, as upstream orders them); every write then passes the validating plugins
//! after validation and before it is stored. The chain is fixed and runs in order; the first
//! plugin that refuses answers the request.
//!
//! | plugin | what it does |
//! |---|---|
//! | [`namespace_lifecycle`] | refuses content in a namespace that does not exist or is terminating, and deleting an immortal namespace |
//! | [`default_storage_class`] | gives a PersistentVolumeClaim that names no class the default StorageClass |
//! | [`storage_object_in_use_protection`] | gives new PersistentVolumeClaims and PersistentVolumes their protection finalizer |

pub mod default_storage_class;
pub mod namespace_lifecycle;
pub mod storage_object_in_use_protection;

use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// POST (and an apply or update that creates).
    Create,
    /// DELETE of one object (also each object of a DELETE of a collection).
    Delete,
}

/// One write, as admission sees it.
#[derive(Debug)]
pub struct Request<'a> {
    /// What the write does.
    pub operation: Operation,
    /// The resource written.
    pub rt: &'a ResourceType,
    /// The namespace written in (namespaced resources).
    pub namespace: Option<&'a str>,
    /// The object's name ("" for a create with generateName before the name is chosen).
    pub name: &'a str,
}

/// One admission plugin.
pub trait Plugin: Send + Sync + 'static {
    /// Its name, as kube-apiserver's `--enable-admission-plugins` spells it.
    fn name(&self) -> &'static str;

    /// Changes the object a create is about to store (mutating plugins), or refuses it.
    fn admit(
        &self,
        _rest: &Rest,
        _request: &Request<'_>,
        _obj: &mut Value,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Refuses `request` with the error to answer, or lets it through.
    fn validate(&self, _rest: &Rest, _request: &Request<'_>) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The chain of plugins every write passes.
pub struct Admission {
    plugins: Vec<Box<dyn Plugin>>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .finish()
    }
}

impl Default for Admission {
    /// The server's chain: kube-apiserver's default plugins this server implements.
    fn default() -> Self {
        Admission {
            plugins: vec![
                Box::new(namespace_lifecycle::NamespaceLifecycle),
                Box::new(default_storage_class::DefaultStorageClass),
                Box::new(storage_object_in_use_protection::StorageObjectInUseProtection),
            ],
        }
    }
}

impl Admission {
    /// Runs the object of a create through every plugin's mutation, in order.
    pub fn admit(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        self.plugins
            .iter()
            .try_for_each(|plugin| plugin.admit(rest, request, obj))
    }

    /// Runs `request` through every plugin, in order.
    pub fn validate(&self, rest: &Rest, request: &Request<'_>) -> Result<(), ApiError> {
        self.plugins
            .iter()
            .try_for_each(|plugin| plugin.validate(rest, request))
    }
}
