//! The APIService registration (kube-apiserver's aggregator `autoregister` and
//! `crd-autoregister` controllers): one `Local` APIService per group version the server serves —
//! the built-in ones at upstream's priorities, labelled `automanaged: onstart`, and every CRD's,
//! at the CRDs' priorities, labelled `automanaged: true` — written when the catalog changes (a
//! CRD established or removed), and put back if one is changed; those of group versions no
//! longer served are deleted. (apiregistration.k8s.io itself has none, as upstream.)

use super::changes::Changes;
use crate::registry::apiregistration::apiservices::{
    AUTOMANAGED, CRD_PRIORITY, builtin_priority, local,
};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The field manager of what this controller writes.
const MANAGER: &str = "kube-apiserver-autoregistration";

fn api_services(rest: &Rest) -> Option<Arc<ResourceType>> {
    rest.catalog
        .snapshot()
        .find("apiregistration.k8s.io", "v1", "apiservices")
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(rt) = api_services(&rest) else {
        return;
    };
    let mut catalog = rest.catalog.subscribe();
    let mut changes = Changes::new(&rest, Some(rt.storage_key.clone()));
    loop {
        tokio::select! {
            change = changes.next() => if change.is_none() { return },
            changed = catalog.changed() => if changed.is_err() { return },
        }
        sync_with(&rest, &rt).await;
    }
}

/// Brings the APIServices in line with the catalog once (the server's start does this, so a
/// started server lists them).
pub(crate) async fn sync(rest: &Rest) {
    if let Some(rt) = api_services(rest) {
        sync_with(rest, &rt).await;
    }
}

/// The APIService each served group version should have, by name.
fn wanted(rest: &Rest) -> BTreeMap<String, Value> {
    let now = crate::rest::now();
    let mut out = BTreeMap::new();
    for t in rest.catalog.snapshot().all() {
        if t.group == "apiregistration.k8s.io" {
            continue;
        }
        let (priority, managed) = if rest.catalog.is_builtin(&t.group, &t.plural) {
            // A built-in group version upstream does not prioritise gets none, as upstream.
            match builtin_priority(&t.group, &t.version) {
                Some(p) => (p, "onstart"),
                None => continue,
            }
        } else {
            (CRD_PRIORITY, "true")
        };
        let object = local(&t.group, &t.version, priority, managed, &now);
        out.entry(crate::registry::apiregistration::apiservices::name_for(
            &t.group, &t.version,
        ))
        .or_insert(object);
    }
    out
}

async fn sync_with(rest: &Rest, rt: &ResourceType) {
    let mut wanted = wanted(rest);
    let existing = match rest.list(rt, None, &ListOptions::default()).await {
        Ok(list) => list.items.iter().map(|o| o.value()).collect::<Vec<_>>(),
        Err(e) => {
            tracing::debug!(error = %e, "listing APIServices");
            return;
        }
    };
    let opts = super::write_options(MANAGER);
    for current in existing {
        let name = super::str_at(&current, "/metadata/name").to_string();
        let managed = current
            .pointer("/metadata/labels")
            .and_then(|l| l.get(AUTOMANAGED))
            .is_some();
        let Some(want) = wanted.remove(&name) else {
            if managed
                && let Err(e) = rest
                    .delete(rt, None, &name, &DeleteOptions::default())
                    .await
            {
                tracing::debug!(apiservice = name, error = %e, "deleting an APIService");
            }
            continue;
        };
        if let Err(e) = restore(rest, rt, &current, want, &opts).await {
            tracing::debug!(apiservice = name, error = %e, "updating an APIService");
        }
    }
    for (name, want) in wanted {
        let status = want.get("status").cloned();
        let created = rest.create(rt, None, want, &opts).await;
        let result = match created {
            Ok(written) => {
                let mut object = written.object;
                object["status"] = status.unwrap_or(Value::Null);
                rest.update(rt, None, &name, object, &opts, Some("status"))
                    .await
                    .map(|_| ())
            }
            // Created meanwhile (another server on the same storage).
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::debug!(apiservice = name, error = %e, "creating an APIService");
        }
    }
}

/// Puts back the spec, labels and availability of `current` where they differ from `want`.
async fn restore(
    rest: &Rest,
    rt: &ResourceType,
    current: &Value,
    want: Value,
    opts: &crate::rest::WriteOptions,
) -> Result<(), crate::status::ApiError> {
    let name = super::str_at(current, "/metadata/name").to_string();
    let mut object = current.clone();
    if current.get("spec") != want.get("spec")
        || current.pointer("/metadata/labels") != want.pointer("/metadata/labels")
    {
        object["spec"] = want["spec"].clone();
        object["metadata"]["labels"] = want["metadata"]["labels"].clone();
        object = rest
            .update(rt, None, &name, object, opts, None)
            .await?
            .object;
    }
    let available = |v: &Value| {
        v.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    super::str_at(c, "/type") == "Available"
                        && super::str_at(c, "/status") == "True"
                        && super::str_at(c, "/reason") == "Local"
                })
            })
    };
    if !available(&object) {
        object["status"] = want["status"].clone();
        rest.update(rt, None, &name, object, opts, Some("status"))
            .await?;
    }
    Ok(())
}
