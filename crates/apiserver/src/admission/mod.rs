//! Admission: the checks a write passes after the resource's own validation and before it is
//! stored, as kube-apiserver's validating admission plugins. The chain is fixed and runs in
//! order; the first plugin that refuses answers the request.
//!
//! | plugin | what it refuses |
//! |---|---|
//! | [`namespace_lifecycle`] | content in a namespace that does not exist or is terminating; deleting an immortal namespace |

pub mod namespace_lifecycle;

use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::ApiError;

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

    /// Refuses `request` with the error to answer, or lets it through.
    fn validate(&self, rest: &Rest, request: &Request<'_>) -> Result<(), ApiError>;
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
            plugins: vec![Box::new(namespace_lifecycle::NamespaceLifecycle)],
        }
    }
}

impl Admission {
    /// Runs `request` through every plugin, in order.
    pub fn validate(&self, rest: &Rest, request: &Request<'_>) -> Result<(), ApiError> {
        self.plugins
            .iter()
            .try_for_each(|plugin| plugin.validate(rest, request))
    }
}
