//! Client basics with kube-rs's typed client: create, get, list by label, update with conflict
//! retry (client-go's `retry.RetryOnConflict`), JSON and merge patches, and delete with a
//! propagation policy and a UID precondition.
//!
//! ```text
//! cargo run --release -- up                        # in one terminal
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example client_basics
//! ```

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await
}

/// Deletes `name` if it exists and waits until it is gone: a foreground deletion keeps the
/// object (with the `foregroundDeletion` finalizer) until its dependents are collected.
async fn remove(api: &Api<ConfigMap>, name: &str) -> anyhow::Result<()> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    for _ in 0..200 {
        if api.get_opt(name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bail!("{name} was not deleted within 10 s")
}

/// Runs the walk-through in `namespace`, leaving nothing behind.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let name = "client-basics";

    // Create. A leftover from an earlier run (possibly still being deleted) goes first.
    remove(&api, name).await?;
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "client-basics".into())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("greeting".into(), "hello".into())])),
        ..Default::default()
    };
    let created = api.create(&PostParams::default(), &cm).await?;
    println!(
        "created {}/{} uid={} resourceVersion={}",
        namespace,
        created.name_any(),
        created.uid().unwrap_or_default(),
        created.resource_version().unwrap_or_default()
    );

    // Get and list by label selector.
    let got = api.get(name).await?;
    println!("got data={:?}", got.data);
    let listed = api
        .list(&ListParams::default().labels("app=client-basics"))
        .await?;
    println!(
        "listed {} ConfigMap(s) with app=client-basics at resourceVersion {}",
        listed.items.len(),
        listed.metadata.resource_version.unwrap_or_default()
    );

    // Update with conflict retry: read, change, write; on 409 read again. A concurrent writer
    // (simulated by a patch after our read) makes the first attempt fail.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut current = api.get(name).await?;
        if attempts == 1 {
            let other = json!({"data": {"writer": "someone else"}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&other))
                .await?;
        }
        current
            .data
            .get_or_insert_with(BTreeMap::new)
            .insert("greeting".into(), "hello, again".into());
        match api.replace(name, &PostParams::default(), &current).await {
            Ok(updated) => {
                println!(
                    "updated after {attempts} attempt(s); data={:?}",
                    updated.data
                );
                break;
            }
            Err(kube::Error::Api(status)) if status.code == 409 && attempts < 5 => {
                println!("conflict ({}), retrying", status.message);
            }
            Err(e) => return Err(e.into()),
        }
    }

    // JSON patch (RFC 6902) and merge patch (RFC 7386).
    let ops = serde_json::from_value(json!([
        {"op": "add", "path": "/data/mode", "value": "json-patch"},
        {"op": "remove", "path": "/data/writer"}
    ]))?;
    let patched = api
        .patch(name, &PatchParams::default(), &Patch::Json::<()>(ops))
        .await?;
    println!("after JSON patch: {:?}", patched.data);
    let merge = json!({"data": {"mode": "merge-patch", "greeting": null}});
    let patched = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&merge))
        .await?;
    println!("after merge patch: {:?}", patched.data);

    // Delete with a UID precondition: a wrong UID is refused (409), the right one deletes.
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            resource_version: None,
        }),
        ..DeleteParams::foreground()
    };
    match api.delete(name, &wrong).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            println!("delete with a stale UID refused: {}", status.message)
        }
        other => bail!("a delete with a wrong UID precondition must be refused, got {other:?}"),
    }
    let right = DeleteParams {
        preconditions: Some(Preconditions {
            uid: patched.uid(),
            resource_version: None,
        }),
        ..DeleteParams::foreground()
    };
    api.delete(name, &right).await?;
    remove(&api, name).await?;
    println!("deleted {namespace}/{name} (propagationPolicy=Foreground)");
    Ok(())
}
