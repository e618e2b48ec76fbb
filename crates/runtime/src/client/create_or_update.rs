//! `create_or_update` / `create_or_patch` (controller-runtime's `controllerutil`): make an
//! object look the way `mutate` says, creating it if missing, and report what was done.
//!
//! What this guarantees:
//! - `mutate` sees the current object (or a new one with only name and namespace set) and
//!   must not change its name or namespace: that is refused before anything is sent.
//! - [`OperationResult::Unchanged`] means nothing was sent: the mutated object serializes
//!   exactly as the one read.
//! - `create_or_update` replaces the whole object with the resourceVersion it read: a
//!   concurrent write makes it fail with 409 Conflict (the caller's reconcile is retried).
//!   `create_or_patch` sends merge patches of the fields that changed (spec and metadata, then
//!   the status subresource if the status changed), without a resourceVersion, as
//!   controller-runtime's `MergeFrom`.

use super::merge_patch::merge_patch;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::{self, Debug};

/// What [`create_or_update`] or [`create_or_patch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationResult {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Updated,
    /// The object already looked as wanted: nothing was sent.
    Unchanged,
}

impl fmt::Display for OperationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperationResult::Created => "created",
            OperationResult::Updated => "updated",
            OperationResult::Unchanged => "unchanged",
        })
    }
}

/// The object as it is (or a new one), and its serialized form before `mutate`.
async fn current<K>(api: &Api<K>, name: &str) -> Result<Option<(K, Value)>, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    match api.get_opt(name).await? {
        Some(obj) => {
            let value = serde_json::to_value(&obj).map_err(kube::Error::SerdeError)?;
            Ok(Some((obj, value)))
        }
        None => Ok(None),
    }
}

fn new_object<K: Resource + Default>(api: &Api<K>, name: &str) -> K {
    let mut obj = K::default();
    obj.meta_mut().name = Some(name.to_owned());
    obj.meta_mut().namespace = api.namespace().map(str::to_owned);
    obj
}

fn check_identity<K: Resource>(
    obj: &K,
    name: &str,
    namespace: Option<&str>,
) -> Result<(), kube::Error> {
    let meta = obj.meta();
    if meta.name.as_deref() != Some(name) || meta.namespace.as_deref() != namespace {
        return Err(kube::Error::BuildRequest(
            kube::core::request::Error::Validation(format!(
                "mutate changed the object's name or namespace (want {}{name}, got {}{})",
                namespace.map(|ns| format!("{ns}/")).unwrap_or_default(),
                meta.namespace
                    .as_deref()
                    .map(|ns| format!("{ns}/"))
                    .unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
            )),
        ));
    }
    Ok(())
}

async fn create<K>(
    api: &Api<K>,
    name: &str,
    mutate: &mut impl FnMut(&mut K),
) -> Result<(K, OperationResult), kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Default,
{
    let mut obj = new_object(api, name);
    mutate(&mut obj);
    check_identity(&obj, name, api.namespace())?;
    let created = api.create(&PostParams::default(), &obj).await?;
    Ok((created, OperationResult::Created))
}

/// Gets `name` (or starts a new object), applies `mutate`, and creates or replaces it unless
/// nothing changed.
///
/// ```no_run
/// # async fn demo(api: kube::Api<k8s_openapi::api::core::v1::ConfigMap>) -> Result<(), kube::Error> {
/// use kubeforge_runtime::client::{create_or_update, OperationResult};
///
/// let (cm, result) = create_or_update(&api, "settings", |cm| {
///     cm.data.get_or_insert_default().insert("mode".into(), "fast".into());
/// })
/// .await?;
/// if result != OperationResult::Unchanged {
///     println!("settings {result}");
/// }
/// # Ok(()) }
/// ```
pub async fn create_or_update<K>(
    api: &Api<K>,
    name: &str,
    mut mutate: impl FnMut(&mut K),
) -> Result<(K, OperationResult), kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Default,
{
    let Some((mut obj, before)) = current(api, name).await? else {
        return create(api, name, &mut mutate).await;
    };
    let namespace = obj.namespace();
    mutate(&mut obj);
    check_identity(&obj, name, namespace.as_deref())?;
    if serde_json::to_value(&obj).map_err(kube::Error::SerdeError)? == before {
        return Ok((obj, OperationResult::Unchanged));
    }
    let updated = api.replace(name, &PostParams::default(), &obj).await?;
    Ok((updated, OperationResult::Updated))
}

/// Like [`create_or_update`], but sends only what changed, as merge patches (the status
/// through its subresource).
pub async fn create_or_patch<K>(
    api: &Api<K>,
    name: &str,
    mut mutate: impl FnMut(&mut K),
) -> Result<(K, OperationResult), kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Default,
{
    let Some((mut obj, mut before)) = current(api, name).await? else {
        return create(api, name, &mut mutate).await;
    };
    let namespace = obj.namespace();
    mutate(&mut obj);
    check_identity(&obj, name, namespace.as_deref())?;
    let mut after = serde_json::to_value(&obj).map_err(kube::Error::SerdeError)?;
    let take_status = |v: &mut Value| v.as_object_mut().and_then(|o| o.remove("status"));
    let status_before = take_status(&mut before).unwrap_or(Value::Null);
    let status_after = take_status(&mut after).unwrap_or(Value::Null);
    let main = merge_patch(&before, &after);
    let status = merge_patch(&status_before, &status_after);
    if main.is_none() && status.is_none() {
        return Ok((obj, OperationResult::Unchanged));
    }
    let params = PatchParams::default();
    if let Some(patch) = main {
        obj = api.patch(name, &params, &Patch::Merge(&patch)).await?;
    }
    if let Some(patch) = status {
        obj = api
            .patch_status(name, &params, &Patch::Merge(&json!({ "status": patch })))
            .await?;
    }
    Ok((obj, OperationResult::Updated))
}
