//! Discovery (client-go's `discovery` package): the server's version, its API groups with
//! their preferred versions, and every resource with its scope and verbs.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example discovery
//! ```

use anyhow::Context;
use kube::Client;
use kube::discovery::{Discovery, Scope, verbs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client).await.map(|_| ())
}

/// Prints the server version and what it serves; answers every resource as `plural.group`.
pub async fn run(client: Client) -> anyhow::Result<Vec<String>> {
    let version = client.apiserver_version().await?;
    println!(
        "server version {} (git {}, platform {})",
        version.git_version, version.git_commit, version.platform
    );

    let discovery = Discovery::new(client).run().await?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        let name = if group.name().is_empty() {
            "core"
        } else {
            group.name()
        };
        println!(
            "group {name}, preferred version {}",
            group.preferred_version_or_latest()
        );
        for (resource, capabilities) in group.recommended_resources() {
            resources.push(format!("{}.{}", resource.plural, group.name()));
            let scope = match capabilities.scope {
                Scope::Namespaced => "namespaced",
                Scope::Cluster => "cluster",
            };
            let mut ops: Vec<&str> = [
                verbs::LIST,
                verbs::WATCH,
                verbs::CREATE,
                verbs::PATCH,
                verbs::DELETE,
            ]
            .into_iter()
            .filter(|v| capabilities.supports_operation(v))
            .collect();
            ops.sort_unstable();
            let subresources: Vec<String> = capabilities
                .subresources
                .iter()
                .map(|(r, _)| r.plural.clone())
                .collect();
            println!(
                "  {:<32} {:<10} {:<11} verbs={} subresources={:?}",
                resource.plural,
                resource.kind,
                scope,
                ops.join(","),
                subresources
            );
        }
    }
    println!("{} resources", resources.len());
    Ok(resources)
}
