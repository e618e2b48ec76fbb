//! eventhorizon in the operator registry: its CRDs, its permissions, its controller (which
//! owns the router's data plane, see `kubeforge-eventhorizon`), and what its Deployment needs
//! beyond the common manifests (the ingest and metrics ports, a Service, `EVENTHORIZON_NAME`).

use crate::rbac::Access;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kubeforge_eventhorizon::controller::parse_name;
use kubeforge_eventhorizon::types::{DEFAULT_METRICS_PORT, DEFAULT_PORT};
use kubeforge_eventhorizon::{
    BIND_ENV, CloudEventHandler, CloudEventOutput, CloudEventValidator, DEFAULT_SINGULARITY,
    Engine, EngineOptions, NAME_ENV, Singularity,
};
use kubeforge_runtime::cache::IndexError;
use kubeforge_runtime::controller::RunnableController;
use kubeforge_runtime::manager::Manager;
use serde_json::{Value, json};

pub use kubeforge_eventhorizon::NAME;

/// The four CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    kubeforge_eventhorizon::crds()
}

/// The router reads the four kinds and writes their statuses.
pub fn permissions() -> Vec<Access> {
    const STATUS: &[&str] = &["get", "update", "patch"];
    vec![
        Access::watch::<Singularity>(),
        Access::status::<Singularity>(STATUS),
        Access::watch::<CloudEventOutput>(),
        Access::status::<CloudEventOutput>(STATUS),
        Access::watch::<CloudEventHandler>(),
        Access::status::<CloudEventHandler>(STATUS),
        Access::watch::<CloudEventValidator>(),
        Access::status::<CloudEventValidator>(STATUS),
    ]
}

/// The router's controller and data plane for the Singularity `$EVENTHORIZON_NAME` (default
/// `kube-system/eventhorizon`), listening on `$EVENTHORIZON_BIND` (default `0.0.0.0`). The data
/// plane runs while the manager leads: when it stops its controllers (a lost lease) ingest stops
/// and the queue drains within the engine's bound, and leading again resumes it; when the process
/// stops, [`Operators::run`](crate::runner::Operators::run) awaits the drain.
pub fn controller(manager: &Manager) -> Result<RunnableController, IndexError> {
    let wanted = std::env::var(NAME_ENV).unwrap_or_else(|_| DEFAULT_SINGULARITY.to_string());
    let (namespace, name) = parse_name(&wanted).unwrap_or_else(|error| {
        tracing::error!(%error, "{NAME_ENV}; serving {DEFAULT_SINGULARITY}");
        parse_name(DEFAULT_SINGULARITY).unwrap_or_default()
    });
    let mut options = EngineOptions::default();
    if let Ok(bind) = std::env::var(BIND_ENV) {
        match bind.parse() {
            Ok(ip) => options.bind = ip,
            Err(error) => tracing::error!(%error, bind, "{BIND_ENV}; binding 0.0.0.0"),
        }
    }
    let engine = Engine::start(options);
    // When the process stops, the queue drains (within the engine's bound) before it exits.
    if let Some(hooks) = manager.extension::<crate::shutdown::ShutdownHooks>() {
        let engine = engine.clone();
        hooks.add(move || {
            Box::pin(async move {
                let report = engine.shutdown().await;
                tracing::info!(
                    undelivered_queued = report.queued,
                    undelivered_in_flight = report.in_flight,
                    "eventhorizon stopped"
                );
            })
        });
    }
    let mut leading = manager.leader_status();
    let drained = engine.clone();
    // While this process does not lead, another one routes: stop and drain; leading again,
    // the next reconcile resumes the engine.
    tokio::spawn(async move {
        while leading.wait_for(|l| *l).await.is_ok() {
            if leading.wait_for(|l| !*l).await.is_err() {
                break;
            }
            drained.shutdown().await;
        }
    });
    Ok(kubeforge_eventhorizon::controller::controller(
        manager, engine, &namespace, &name,
    ))
}

/// Adds what the router's Deployment needs to the common manifests: `EVENTHORIZON_NAME`, the
/// ingest and metrics container ports with `/healthz` on ingest, and a Service for ingest.
pub fn extend_manifests(objects: &mut Vec<Value>, namespace: &str, name: &str) {
    if let Some(container) = objects
        .iter_mut()
        .find(|o| o["kind"] == "Deployment")
        .and_then(|d| d.pointer_mut("/spec/template/spec/containers/0"))
    {
        if let Some(env) = container["env"].as_array_mut() {
            env.push(json!({"name": NAME_ENV, "value": DEFAULT_SINGULARITY}));
        }
        if let Some(ports) = container["ports"].as_array_mut() {
            ports.push(json!({"name": "cloudevents", "containerPort": DEFAULT_PORT}));
            ports.push(json!({"name": "eh-metrics", "containerPort": DEFAULT_METRICS_PORT}));
        }
    }
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kubeforge"}},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": DEFAULT_PORT, "targetPort": "cloudevents"}],
        },
    }));
}
