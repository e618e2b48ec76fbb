//! `set_controller_reference` (controller-runtime's `controllerutil.SetControllerReference`):
//! make `owner` the managing controller of `object`, so the garbage collector deletes the
//! object with its owner and `owns::<K>()` maps the object's events to the owner.
//!
//! What this guarantees:
//! - An object has at most one controller: a second, different one is refused, and the error
//!   names the existing controller. The same owner again (same group, kind and name) is
//!   updated in place (its uid refreshed), other owner references are kept.
//! - A namespaced owner must be in the object's namespace, and a cluster-scoped object cannot
//!   have a namespaced owner (ownerReferences cannot cross namespaces; the garbage collector
//!   would delete the object).
//! - The reference has `controller: true` and `blockOwnerDeletion: true`.

use crate::controller::group_of;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

/// The existing controller of an object, refusing a second one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "object {object} is already owned by another controller: {existing_kind} {existing_name} ({existing_api_version})"
)]
pub struct AlreadyOwnedError {
    /// The object (`namespace/name`).
    pub object: String,
    /// The existing controller's apiVersion.
    pub existing_api_version: String,
    /// The existing controller's kind.
    pub existing_kind: String,
    /// The existing controller's name.
    pub existing_name: String,
}

/// Why [`set_controller_reference`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerReferenceError {
    /// The object already has another controller.
    #[error(transparent)]
    AlreadyOwned(#[from] AlreadyOwnedError),
    /// The owner has no uid (it was never stored).
    #[error("owner {0} has no uid: read it from the server before referencing it")]
    OwnerWithoutUid(String),
    /// The owner is namespaced and the object is in another namespace or cluster-scoped.
    #[error("cross-namespace owner references are disallowed: owner {owner_namespace}/{owner}, object in {}", object_namespace.as_deref().unwrap_or("no namespace (cluster-scoped)"))]
    CrossNamespace {
        /// The owner's name.
        owner: String,
        /// The owner's namespace.
        owner_namespace: String,
        /// The object's namespace; `None` for a cluster-scoped object.
        object_namespace: Option<String>,
    },
}

/// Makes `owner` the controller of `object` (an entry in its `ownerReferences`).
///
/// ```
/// use k8s_openapi::api::apps::v1::Deployment;
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kubeforge_runtime::client::set_controller_reference;
///
/// let mut owner = Deployment::default();
/// owner.metadata.name = Some("web".into());
/// owner.metadata.namespace = Some("default".into());
/// owner.metadata.uid = Some("1b4e28ba-2fa1-11d2-883f-0016d3cca427".into());
/// let mut cm = ConfigMap::default();
/// cm.metadata.name = Some("web-config".into());
/// cm.metadata.namespace = Some("default".into());
/// set_controller_reference(&owner, &mut cm).unwrap();
///
/// let mut other = owner.clone();
/// other.metadata.name = Some("api".into());
/// let err = set_controller_reference(&other, &mut cm).unwrap_err();
/// assert!(err.to_string().contains("Deployment web"));
/// ```
pub fn set_controller_reference<O, K>(owner: &O, object: &mut K) -> Result<(), OwnerReferenceError>
where
    O: Resource<DynamicType = ()>,
    K: Resource,
{
    let om = owner.meta();
    let owner_name = om.name.clone().unwrap_or_default();
    let uid = om
        .uid
        .clone()
        .ok_or_else(|| OwnerReferenceError::OwnerWithoutUid(owner_name.clone()))?;
    if let Some(owner_ns) = &om.namespace
        && object.meta().namespace.as_ref() != Some(owner_ns)
    {
        return Err(OwnerReferenceError::CrossNamespace {
            owner: owner_name,
            owner_namespace: owner_ns.clone(),
            object_namespace: object.meta().namespace.clone(),
        });
    }
    let reference = OwnerReference {
        api_version: O::api_version(&()).into_owned(),
        kind: O::kind(&()).into_owned(),
        name: owner_name,
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let same_owner = |r: &OwnerReference| {
        group_of(&r.api_version) == group_of(&reference.api_version)
            && r.kind == reference.kind
            && r.name == reference.name
    };
    let meta = object.meta_mut();
    let refs = meta.owner_references.get_or_insert_default();
    if let Some(existing) = refs
        .iter()
        .find(|r| r.controller == Some(true) && !same_owner(r))
    {
        return Err(AlreadyOwnedError {
            object: match &meta.namespace {
                Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
                None => meta.name.clone().unwrap_or_default(),
            },
            existing_api_version: existing.api_version.clone(),
            existing_kind: existing.kind.clone(),
            existing_name: existing.name.clone(),
        }
        .into());
    }
    match refs.iter_mut().find(|r| same_owner(r)) {
        Some(existing) => *existing = reference,
        None => refs.push(reference),
    }
    Ok(())
}
