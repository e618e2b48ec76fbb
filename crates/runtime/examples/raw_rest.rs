//! Raw REST requests (client-go's `RESTClient`): build the HTTP request yourself and let the
//! client add the server address, credentials and TLS from the kubeconfig. Failures come back as
//! the server's `Status` (code, reason, message).
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example raw_rest
//! ```

use anyhow::{Context, bail};
use kube::Client;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await
}

/// Runs the walk-through in `namespace`, leaving nothing behind.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<()> {
    let base = format!("/api/v1/namespaces/{namespace}/configmaps");
    let name = "raw-rest-example";

    // DELETE a leftover, ignoring 404.
    let del = http::Request::delete(format!("{base}/{name}")).body(Vec::new())?;
    match client.request::<Value>(del).await {
        Ok(_) | Err(kube::Error::Api(_)) => {}
        Err(e) => return Err(e.into()),
    }

    // POST a JSON body.
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"via": "raw REST"}
    });
    let post = http::Request::post(&base)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body)?)?;
    let created: Value = client.request(post).await?;
    println!(
        "POST {base} -> created {} at resourceVersion {}",
        created["metadata"]["name"], created["metadata"]["resourceVersion"]
    );

    // GET a list with query parameters, as text.
    let get = http::Request::get(format!("{base}?limit=5&labelSelector=")).body(Vec::new())?;
    let text = client.request_text(get).await?;
    let list: Value = serde_json::from_str(&text)?;
    println!(
        "GET {base}?limit=5 -> {} ({} bytes, {} items)",
        list["kind"],
        text.len(),
        list["items"].as_array().map_or(0, Vec::len)
    );

    // An error is the server's Status.
    let missing = http::Request::get(format!("{base}/does-not-exist")).body(Vec::new())?;
    match client.request::<Value>(missing).await {
        Err(kube::Error::Api(status)) => println!(
            "GET a missing object -> {} {}: {}",
            status.code, status.reason, status.message
        ),
        other => bail!("expected a 404 Status, got {other:?}"),
    }

    let del = http::Request::delete(format!("{base}/{name}")).body(Vec::new())?;
    let _: Value = client.request(del).await?;
    println!("DELETE {base}/{name} -> done");
    Ok(())
}
