//! Status writes with conflict retry: read the object, change its status, write the status
//! subresource with the resourceVersion read; on 409 read again (see `conflict.rs`).
//!
//! Both helpers skip the write when the change leaves the status as it was, so a reconcile
//! that recomputes an unchanged status costs one read and no write.

use super::conflict::retry_after_conflict;
use super::merge_patch::merge_patch;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

fn status_of<K: Serialize>(obj: &K) -> Result<Value, kube::Error> {
    let mut value = serde_json::to_value(obj).map_err(kube::Error::SerdeError)?;
    Ok(value
        .get_mut("status")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

/// Reads `name`, applies `mutate`, and replaces its status (`PUT .../status`), retrying the
/// whole read-modify-write on conflict. Returns the object as stored.
///
/// ```no_run
/// # async fn demo(api: kube::Api<k8s_openapi::api::apps::v1::Deployment>) -> Result<(), kube::Error> {
/// use kubeforge_runtime::client::update_status;
///
/// let deployment = update_status(&api, "web", |d| {
///     d.status.get_or_insert_default().observed_generation = d.metadata.generation;
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn update_status<K>(
    api: &Api<K>,
    name: &str,
    mut mutate: impl FnMut(&mut K),
) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut tries = 1;
    loop {
        match replace_status_once(api, name, &mut mutate).await {
            Err(e) if retry_after_conflict(&e, &mut tries).await => {}
            other => return other,
        }
    }
}

async fn replace_status_once<K>(
    api: &Api<K>,
    name: &str,
    mutate: &mut impl FnMut(&mut K),
) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut obj = api.get(name).await?;
    let before = status_of(&obj)?;
    mutate(&mut obj);
    if status_of(&obj)? == before {
        return Ok(obj);
    }
    api.replace_status(name, &PostParams::default(), &obj).await
}

/// Reads `name`, applies `mutate`, and sends the status change as a merge patch of the status
/// subresource carrying the resourceVersion read (so a concurrent write conflicts instead of
/// being overwritten), retrying on conflict. Returns the object as stored.
///
/// Unlike [`update_status`], fields of the status this client does not know (a newer
/// server's) are left alone.
pub async fn patch_status<K>(
    api: &Api<K>,
    name: &str,
    mut mutate: impl FnMut(&mut K),
) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut tries = 1;
    loop {
        match patch_status_once(api, name, &mut mutate).await {
            Err(e) if retry_after_conflict(&e, &mut tries).await => {}
            other => return other,
        }
    }
}

async fn patch_status_once<K>(
    api: &Api<K>,
    name: &str,
    mutate: &mut impl FnMut(&mut K),
) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut obj = api.get(name).await?;
    let before = status_of(&obj)?;
    mutate(&mut obj);
    let Some(diff) = merge_patch(&before, &status_of(&obj)?) else {
        return Ok(obj);
    };
    let patch = json!({
        "metadata": {"resourceVersion": obj.resource_version()},
        "status": diff,
    });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}
