//! Bringing the stored policy to the default at startup (kube-apiserver's `rbac/bootstrap-roles`
//! post-start hook): every default ClusterRole, ClusterRoleBinding, Role and RoleBinding is
//! created when missing and otherwise [reconciled](super::reconcile). Runs once the system
//! namespaces exist; the writes go concurrently, so that they share commits on a durable
//! medium.

use super::reconcile::{self, Reconciled};
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::status::ApiError;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

/// How often a write that lost a race with another writer is tried again.
const ATTEMPTS: usize = 5;

/// Creates or reconciles every object of the default policy.
pub async fn ensure(rest: &Rest) -> Result<(), ApiError> {
    let resources = rest.catalog.snapshot();
    let opts = WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..WriteOptions::default()
    };
    let mut writes: Vec<BoxFuture<'_, Result<(), ApiError>>> = Vec::new();
    for (plural, objects, is_role) in [
        ("clusterroles", super::cluster_roles(), true),
        ("clusterrolebindings", super::cluster_role_bindings(), false),
        ("roles", super::roles(), true),
        ("rolebindings", super::role_bindings(), false),
    ] {
        let Some(rt) = resources.find(crate::auth::rbac::GROUP, "v1", plural) else {
            continue;
        };
        for expected in objects {
            let (rt, opts) = (rt.clone(), opts.clone());
            writes.push(
                async move {
                    let mut attempt = 0;
                    loop {
                        match one(rest, &rt, &expected, is_role, &opts).await {
                            // Another server (on a shared medium) or the aggregation
                            // controller wrote it first: read again, once reads see that write.
                            Err(e) if e.code == 409 && attempt + 1 < ATTEMPTS => {
                                attempt += 1;
                                rest.consistent().await?;
                            }
                            other => return other,
                        }
                    }
                }
                .boxed(),
            );
        }
    }
    for result in futures::future::join_all(writes).await {
        result?;
    }
    Ok(())
}

/// Creates or reconciles one object.
async fn one(
    rest: &Rest,
    rt: &crate::resource::ResourceType,
    expected: &Value,
    is_role: bool,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    let name = expected["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = expected["metadata"]["namespace"].as_str();
    let existing = match rest.get_value(rt, namespace, name) {
        Ok(v) => v,
        Err(e) if e.code == 404 => {
            rest.create(rt, namespace, expected.clone(), opts).await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let decision = if is_role {
        reconcile::role(&existing, expected)
    } else {
        reconcile::binding(&existing, expected)
    };
    match decision {
        Reconciled::Unchanged | Reconciled::Protected => Ok(()),
        Reconciled::Update(obj) => {
            rest.update(rt, namespace, name, obj, opts, None).await?;
            Ok(())
        }
        Reconciled::Recreate(obj) => {
            let uid = existing["metadata"]["uid"].as_str().map(str::to_string);
            let delete = DeleteOptions {
                uid,
                ..DeleteOptions::default()
            };
            match rest.delete(rt, namespace, name, &delete).await {
                Ok(deleted) if !deleted.removed => {
                    // Finalizers keep it: it is recreated at a start after they are gone.
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
            rest.create(rt, namespace, fresh(obj), opts).await?;
            Ok(())
        }
    }
}

/// `obj` without what the server sets on a stored object, to be created anew.
fn fresh(mut obj: Value) -> Value {
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(field);
        }
    }
    obj
}
