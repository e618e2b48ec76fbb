//! The dynamic client: objects whose type is only known at runtime (client-go's `dynamic`
//! package). The kind is resolved through discovery, then created, listed, patched and deleted
//! as `DynamicObject`s — plain JSON with type metadata.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example dynamic_client
//! ```

use anyhow::Context;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await
}

/// Runs the walk-through in `namespace`, leaving nothing behind.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<()> {
    // Resolve apps/v1 Deployment to its resource (plural, scope) through discovery.
    let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (resource, capabilities) = discovery::pinned_kind(&client, &gvk).await?;
    println!(
        "{} is served as {} ({:?}-scoped)",
        gvk.kind, resource.plural, capabilities.scope
    );
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(client, namespace, &resource),
        Scope::Cluster => Api::all_with(client, &resource),
    };

    let name = "dynamic-example";
    if api.get_opt(name).await?.is_some() {
        api.delete(name, &DeleteParams::background()).await?;
    }
    let mut object = DynamicObject::new(name, &resource).within(namespace);
    object.data = json!({
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    });
    let created = api.create(&PostParams::default(), &object).await?;
    println!(
        "created {} {} uid={}",
        gvk.kind,
        created.name_any(),
        created.uid().unwrap_or_default()
    );

    // Fields are reached through the JSON, not through a Rust type.
    let listed = api.list(&ListParams::default()).await?;
    for item in &listed.items {
        println!(
            "  {} replicas={}",
            item.name_any(),
            item.data["spec"]["replicas"]
        );
    }

    let patch = json!({"spec": {"replicas": 3}});
    let patched = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    println!("patched replicas to {}", patched.data["spec"]["replicas"]);

    api.delete(name, &DeleteParams::background()).await?;
    println!("deleted {name} (its ReplicaSets and Pods are garbage-collected)");
    Ok(())
}
