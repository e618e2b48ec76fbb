//! The GopherCon workshop's controller scenario: read (watch) - change the world - update status -
//! repeat, level-driven and with optimistic concurrency, on kubeforge-runtime's `Controller`.
//!
//! The controller keeps, in every ConfigMap labelled `workshop/summarize=true`, an annotation
//! `workshop/keys` listing its data keys. It is level-driven: each reconcile computes the
//! annotation from the object's current state (read from the cache), whatever events led there,
//! so missed or merged events do not matter. It writes with the resourceVersion it read (a PUT
//! of the whole object); when someone else wrote in between, the API server answers 409 and the
//! write is retried on a fresh read (`retry_on_conflict`), never forced.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-operators --example controller
//! ```

use anyhow::Context;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use kubeforge_runtime::cache::{InformerScope, SharedInformerFactory};
use kubeforge_runtime::client::retry_on_conflict;
use kubeforge_runtime::controller::{Action, Controller, ReconcileError, Request};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The label that opts a ConfigMap in.
pub const LABEL: &str = "workshop/summarize";
/// The annotation the controller keeps.
pub const ANNOTATION: &str = "workshop/keys";

/// What the reconciles share.
pub struct SummaryContext {
    /// The client writes go through.
    pub client: Client,
    /// How many writes the API server refused with 409 (and were retried).
    pub conflicts: AtomicU64,
    /// How many writes succeeded.
    pub writes: AtomicU64,
}

/// The annotation a ConfigMap should carry: its data keys, sorted, comma-separated.
pub fn wanted(cm: &ConfigMap) -> String {
    let mut keys: Vec<&str> = cm.data.iter().flatten().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.join(",")
}

/// One level-driven reconcile: read the latest state, compute, write only if different.
pub async fn reconcile(
    ctx: Arc<SummaryContext>,
    request: Request,
) -> Result<Action, ReconcileError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    retry_on_conflict(|| async {
        // A fresh read on every attempt: the retry must start from what is stored now.
        let Some(mut cm) = api.get_opt(&request.name).await? else {
            return Ok(());
        };
        if cm.labels().get(LABEL).map(String::as_str) != Some("true") {
            return Ok(());
        }
        let want = wanted(&cm);
        if cm.annotations().get(ANNOTATION) == Some(&want) {
            return Ok(());
        }
        cm.annotations_mut().insert(ANNOTATION.to_string(), want);
        // The PUT carries the resourceVersion read above: optimistic concurrency.
        match api
            .replace(&request.name, &PostParams::default(), &cm)
            .await
        {
            Ok(_) => {
                ctx.writes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                if matches!(&error, kube::Error::Api(s) if s.code == 409) {
                    ctx.conflicts.fetch_add(1, Ordering::SeqCst);
                }
                Err(error)
            }
        }
    })
    .await?;
    Ok(Action::await_change())
}

/// The controller over `factory`'s ConfigMap informer in `namespace`.
pub fn controller(
    ctx: Arc<SummaryContext>,
    namespace: &str,
) -> kubeforge_runtime::controller::RunnableController {
    Controller::<ConfigMap>::new("workshop-summarize")
        .scope(InformerScope::namespace(namespace).labels(&format!("{LABEL}=true")))
        .build(reconcile, ctx)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    let ctx = Arc::new(SummaryContext {
        client: client.clone(),
        conflicts: AtomicU64::new(0),
        writes: AtomicU64::new(0),
    });
    let factory = SharedInformerFactory::new(client);
    println!("summarizing ConfigMaps labelled {LABEL}=true in default; Ctrl-C stops");
    println!(
        "  kubectl create configmap demo --from-literal=a=1 && kubectl label configmap demo {LABEL}=true"
    );
    controller(ctx, "default")
        .run(&factory, kubeforge_runtime::manager::shutdown_signal())
        .await?;
    factory.shutdown().await;
    Ok(())
}
