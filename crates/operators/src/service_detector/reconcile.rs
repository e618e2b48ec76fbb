//! One reconcile: a Pod's `kubeforge.dev/services` annotation, or a Service's
//! `kubeforge.dev/selected-pods` count and its warning when it has selected no Pod for longer
//! than the grace period. Both read only the shared caches and write only on change.

use super::index::{pods_selected, selector, services_selecting};
use super::metrics::DetectorMetrics;
use super::{Options, REASON_NO_PODS, SELECTED_PODS_ANNOTATION, SERVICES_ANNOTATION};
use crate::events::Events;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use kubeforge_runtime::cache::{Store, key_for};
use kubeforge_runtime::controller::{Action, ReconcileError, Request};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

/// Requests for Services carry this prefix before the Service's name; Pod names cannot contain
/// `/`, so the one work queue keeps the two kinds apart.
const SERVICE_PREFIX: &str = "service/";

/// What a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Pod: its annotation.
    Pod {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A Service: its count and orphan warning.
    Service {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl Target {
    /// The work queue request for this target.
    pub fn request(&self) -> Request {
        match self {
            Target::Pod { namespace, name } => Request::namespaced(namespace, name),
            Target::Service { namespace, name } => {
                Request::namespaced(namespace, &format!("{SERVICE_PREFIX}{name}"))
            }
        }
    }

    /// The target a request names.
    pub fn from_request(request: &Request) -> Self {
        let namespace = request.namespace.clone().unwrap_or_default();
        match request.name.strip_prefix(SERVICE_PREFIX) {
            Some(name) => Target::Service {
                namespace,
                name: name.to_string(),
            },
            None => Target::Pod {
                namespace,
                name: request.name.clone(),
            },
        }
    }

    /// The request for Service `service`.
    pub fn service_request(service: &Service) -> Request {
        Target::Service {
            namespace: service.metadata.namespace.clone().unwrap_or_default(),
            name: service.metadata.name.clone().unwrap_or_default(),
        }
        .request()
    }
}

/// Since when a Service has selected no Pod, and whether it was warned about.
#[derive(Debug, Clone, Copy)]
struct Orphan {
    since: Instant,
    warned: bool,
}

/// What the detector remembers between reconciles: the gauges' sets, the grace periods, and its
/// own writes the cache has not shown yet.
#[derive(Debug, Default)]
struct Tally {
    pods_without_service: HashSet<String>,
    orphans: HashMap<String, Orphan>,
    /// By `kind/namespace/name`: the resourceVersion the object had when the detector wrote
    /// `value` into it. While the cache still shows that version, the write is in flight (its
    /// watch event will come and reconcile again); writing the same value again would only be
    /// a redundant request.
    in_flight: HashMap<String, (String, Option<String>)>,
}

/// What every reconcile reads and writes through.
pub struct DetectorContext {
    /// The client the annotations are written with.
    pub client: Client,
    /// The shared Pod cache (with the detector's indexes).
    pub pods: Arc<Store<Pod>>,
    /// The shared Service cache (with the detector's index).
    pub services: Arc<Store<Service>>,
    /// Warnings about Services.
    pub events: Events,
    /// The grace period.
    pub options: Options,
    /// The gauges.
    pub metrics: DetectorMetrics,
    tally: Mutex<Tally>,
}

impl std::fmt::Debug for DetectorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectorContext")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DetectorContext {
    /// A context over these caches.
    pub fn new(
        client: Client,
        pods: Arc<Store<Pod>>,
        services: Arc<Store<Service>>,
        events: Events,
        options: Options,
        metrics: DetectorMetrics,
    ) -> Self {
        DetectorContext {
            client,
            pods,
            services,
            events,
            options,
            metrics,
            tally: Mutex::new(Tally::default()),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reconciles the Pod or Service `request` names.
pub async fn reconcile(
    ctx: Arc<DetectorContext>,
    request: Request,
) -> Result<Action, ReconcileError> {
    match Target::from_request(&request) {
        Target::Pod { namespace, name } => reconcile_pod(&ctx, &namespace, &name).await,
        Target::Service { namespace, name } => reconcile_service(&ctx, &namespace, &name).await,
    }
}

/// `{"metadata": {"annotations": {key: value}}}`, `null` removing the annotation.
fn annotation_patch(key: &str, value: Option<String>) -> Patch<Value> {
    Patch::Merge(json!({"metadata": {"annotations": {key: value}}}))
}

fn annotation<K: Resource>(object: &K, key: &str) -> Option<String> {
    object.meta().annotations.as_ref()?.get(key).cloned()
}

/// The key of `object` among the detector's writes.
fn write_key<K: Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{}/{}",
        K::kind(&()),
        key_for(
            object.meta().namespace.as_deref(),
            &object.meta().name.clone().unwrap_or_default()
        )
    )
}

/// Writes `value` into annotation `key` of `object` unless it is there already or on its way
/// there (the detector wrote it and the cache has not caught up); a gone object is not an
/// error (its deletion brings its own reconcile).
async fn annotate<K>(
    ctx: &DetectorContext,
    object: &K,
    key: &str,
    value: Option<String>,
) -> Result<bool, ReconcileError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let write = write_key(object);
    let version = object.meta().resource_version.clone().unwrap_or_default();
    if annotation(object, key) == value {
        ctx.tally().in_flight.remove(&write);
        return Ok(false);
    }
    if ctx.tally().in_flight.get(&write) == Some(&(version.clone(), value.clone())) {
        return Ok(false);
    }
    let meta = object.meta();
    let api = Api::<K>::namespaced(
        ctx.client.clone(),
        meta.namespace.as_deref().unwrap_or_default(),
    );
    let name = meta.name.clone().unwrap_or_default();
    match api
        .patch(
            &name,
            &PatchParams::default(),
            &annotation_patch(key, value.clone()),
        )
        .await
    {
        Ok(_) => {
            ctx.tally().in_flight.insert(write, (version, value));
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error.into()),
    }
}

async fn reconcile_pod(
    ctx: &DetectorContext,
    namespace: &str,
    name: &str,
) -> Result<Action, ReconcileError> {
    let key = key_for(Some(namespace), name);
    let Some(pod) = ctx.pods.get_by_key(&key) else {
        let mut tally = ctx.tally();
        tally.pods_without_service.remove(&key);
        tally.in_flight.remove(&format!("Pod/{key}"));
        ctx.metrics
            .pods_without_service
            .set(tally.pods_without_service.len() as i64);
        return Ok(Action::await_change());
    };
    let names: Vec<String> = services_selecting(&ctx.services, &pod)?
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    {
        let mut tally = ctx.tally();
        if names.is_empty() {
            tally.pods_without_service.insert(key);
        } else {
            tally.pods_without_service.remove(&key);
        }
        ctx.metrics
            .pods_without_service
            .set(tally.pods_without_service.len() as i64);
    }
    let want = (!names.is_empty()).then(|| names.join(","));
    annotate(ctx, pod.as_ref(), SERVICES_ANNOTATION, want).await?;
    Ok(Action::await_change())
}

async fn reconcile_service(
    ctx: &DetectorContext,
    namespace: &str,
    name: &str,
) -> Result<Action, ReconcileError> {
    let key = key_for(Some(namespace), name);
    // A Service that selects Pods is no orphan; one that is gone is not written to either (its
    // write in flight, if any, is forgotten with it). A count written a moment ago stays in
    // flight: forgetting it would write the same count again before the cache shows it.
    let not_orphan = |ctx: &DetectorContext| {
        let mut tally = ctx.tally();
        tally.orphans.remove(&key);
        ctx.metrics
            .services_without_pods
            .set(tally.orphans.len() as i64);
    };
    let Some(service) = ctx.services.get_by_key(&key) else {
        not_orphan(ctx);
        ctx.tally().in_flight.remove(&format!("Service/{key}"));
        return Ok(Action::await_change());
    };
    let Some(selector) = selector(&service) else {
        // No selector (any more): no count to show, nothing to warn about.
        not_orphan(ctx);
        annotate(ctx, service.as_ref(), SELECTED_PODS_ANNOTATION, None).await?;
        return Ok(Action::await_change());
    };
    let count = pods_selected(&ctx.pods, namespace, selector)?.len();
    annotate(
        ctx,
        service.as_ref(),
        SELECTED_PODS_ANNOTATION,
        Some(count.to_string()),
    )
    .await?;
    if count > 0 {
        not_orphan(ctx);
        return Ok(Action::await_change());
    }
    let now = Instant::now();
    let (orphan, warn) = {
        let mut tally = ctx.tally();
        let orphan = *tally.orphans.entry(key.clone()).or_insert(Orphan {
            since: now,
            warned: false,
        });
        ctx.metrics
            .services_without_pods
            .set(tally.orphans.len() as i64);
        let due = now.duration_since(orphan.since) >= ctx.options.orphan_grace;
        if due
            && !orphan.warned
            && let Some(entry) = tally.orphans.get_mut(&key)
        {
            entry.warned = true;
        }
        (orphan, due && !orphan.warned)
    };
    if warn {
        let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        ctx.events
            .warning(
                service.as_ref(),
                REASON_NO_PODS,
                &format!(
                    "selector {} has matched no Pod in namespace {namespace} for {:?}",
                    selector.join(","),
                    ctx.options.orphan_grace
                ),
            )
            .await;
        return Ok(Action::await_change());
    }
    if orphan.warned {
        return Ok(Action::await_change());
    }
    // Look again when the grace period is over, unless a Pod turns up first.
    Ok(Action::requeue_after(
        ctx.options.orphan_grace - now.duration_since(orphan.since),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_pods_and_services_apart() {
        for target in [
            Target::Pod {
                namespace: "default".into(),
                name: "web-1".into(),
            },
            Target::Service {
                namespace: "default".into(),
                name: "web-1".into(),
            },
        ] {
            assert_eq!(Target::from_request(&target.request()), target);
        }
        assert_ne!(
            Target::Pod {
                namespace: "default".into(),
                name: "web".into()
            }
            .request(),
            Target::Service {
                namespace: "default".into(),
                name: "web".into()
            }
            .request()
        );
    }
}
