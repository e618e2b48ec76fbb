//! One sync of one Network: its finalizer, the allocation rounds, its status and its events.
//!
//! What this guarantees:
//! - A live Network carries the finalizer [`FINALIZER`]; a deleted one keeps it (and says so in
//!   its `Ready` condition) until no pod holds one of its addresses, and hands out no new ones.
//! - Nothing is read from the API server when the cache shows nothing to do; allocation reads
//!   live (see `allocator.rs`).
//! - The status is written, and the Normal `Synced` event published, only when something changed.
//! - A pod that cannot get an address gets one Warning event when it starts waiting (per reason,
//!   while this process runs), not one per sync.

use super::allocator::{self, Outcome};
use super::assignment::{PodView, claims_of, plan};
use super::pool::{Cidr, Pool};
use super::status::{self, Findings};
use super::types::Network;
use crate::events::Events;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use kubeforge_runtime::cache::Lister;
use kubeforge_runtime::controller::{Action, ReconcileError, Request};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The finalizer that holds a deleted Network while pods hold its addresses.
pub const FINALIZER: &str = "samplecrd.k8s.io/addresses";
/// The reason of the Normal event of a sync that changed something (the original's).
pub const SUCCESS_SYNCED: &str = "Synced";
/// The message of that event (the original's).
pub const MESSAGE_SYNCED: &str = "Network synced successfully";
/// Warning reason: the pool has no address left for the pod.
pub const ADDRESS_EXHAUSTED: &str = "AddressExhausted";
/// Warning reason: the pod names a Network that does not exist.
pub const NETWORK_NOT_FOUND: &str = "NetworkNotFound";
/// Warning reason: the pod names a Network that is being deleted.
pub const NETWORK_TERMINATING: &str = "NetworkTerminating";
/// Claims in flight per network at once (bounds the claims annotation to a few tens of KiB).
pub const DEFAULT_BATCH: usize = 1000;

/// What one sync needs: a client for writes and live reads, listers, a recorder for events.
pub struct NetworkContext {
    /// Writes and live reads go to the API server.
    pub client: Client,
    /// Networks, from the shared cache.
    pub networks: Lister<Network>,
    /// Pods, from the shared cache.
    pub pods: Lister<Pod>,
    /// Events about networks and pods.
    pub events: Events,
    /// Claims in flight per network at once.
    pub batch: usize,
    /// The reason each waiting pod (by uid) was last warned about.
    warned: Mutex<HashMap<String, &'static str>>,
}

impl std::fmt::Debug for NetworkContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkContext")
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl NetworkContext {
    /// A context with the default batch size.
    pub fn new(
        client: Client,
        networks: Lister<Network>,
        pods: Lister<Pod>,
        events: Events,
    ) -> Self {
        NetworkContext {
            client,
            networks,
            pods,
            events,
            batch: DEFAULT_BATCH,
            warned: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes a Warning about `pod` unless it was last warned for the same reason.
    async fn warn(&self, namespace: &str, pod: &PodView, reason: &'static str, message: &str) {
        {
            let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
            if warned.get(&pod.uid) == Some(&reason) {
                return;
            }
            warned.insert(pod.uid.clone(), reason);
        }
        let object = Pod {
            metadata: ObjectMeta {
                name: Some(pod.name.clone()),
                namespace: Some(namespace.to_string()),
                uid: Some(pod.uid.clone()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        };
        self.events.warning(&object, reason, message).await;
    }

    /// Forgets the warnings of pods that got an address.
    fn settled(&self, uids: impl Iterator<Item = String>) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_empty() {
            return;
        }
        for uid in uids {
            warned.remove(&uid);
        }
    }

    fn cached_pods(&self, namespace: &str) -> Vec<PodView> {
        self.pods
            .namespaced(namespace)
            .list(&Default::default())
            .iter()
            .map(|p| PodView::of(p.meta()))
            .collect()
    }
}

/// The other Networks of `network`'s namespace whose CIDR overlaps its own (sorted).
fn overlapping(networks: &Lister<Network>, network: &Network, cidr: Cidr) -> Vec<String> {
    let name = network.name_any();
    let mut names: Vec<String> = networks
        .namespaced(&network.namespace().unwrap_or_default())
        .list(&Default::default())
        .iter()
        .filter(|other| other.name_any() != name)
        .filter(|other| Cidr::parse(&other.spec.cidr).is_some_and(|c| c.masked().overlaps(cidr)))
        .map(|other| other.name_any())
        .collect();
    names.sort();
    names
}

async fn write_finalizers(
    api: &Api<Network>,
    network: &Network,
    finalizers: Vec<String>,
) -> Result<(), kube::Error> {
    let patch = json!({
        "metadata": {"resourceVersion": network.resource_version(), "finalizers": finalizers}
    });
    match api
        .patch(
            &network.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `status` when it differs from the network's; returns whether it wrote.
async fn write_status(
    api: &Api<Network>,
    network: &Network,
    status: &super::types::NetworkStatus,
) -> Result<bool, kube::Error> {
    if network.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let patch = json!({"status": status});
    match api
        .patch_status(
            &network.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Pods of `namespace` naming network `name` and holding no address.
fn waiting(pods: &[PodView], name: &str) -> Vec<PodView> {
    pods.iter()
        .filter(|p| p.network.as_deref() == Some(name) && p.ip.is_none())
        .cloned()
        .collect()
}

/// The controller's reconcile for the Network `request` names.
pub async fn reconcile(
    ctx: Arc<NetworkContext>,
    request: Request,
) -> Result<Action, ReconcileError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let Some(network) = ctx.networks.get(&namespace, &request.name) else {
        let message = format!(
            "Network \"{}\" does not exist in namespace \"{namespace}\"",
            request.name
        );
        for pod in waiting(&ctx.cached_pods(&namespace), &request.name) {
            ctx.warn(&namespace, &pod, NETWORK_NOT_FOUND, &message)
                .await;
        }
        return Ok(Action::await_change());
    };
    let api: Api<Network> = Api::namespaced(ctx.client.clone(), &namespace);
    let has_finalizer = network.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = network.meta().deletion_timestamp.is_some();
    if deleting && !has_finalizer {
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        let mut finalizers = network.finalizers().to_vec();
        finalizers.push(FINALIZER.to_string());
        write_finalizers(&api, &network, finalizers).await?;
        return Ok(Action::await_change());
    }
    let pool = match Pool::new(
        &network.spec.cidr,
        &network.spec.gateway,
        &network.spec.excludes,
    ) {
        Ok(pool) => pool,
        Err(error) => {
            if deleting {
                release_finalizer(&api, &network).await?;
                return Ok(Action::await_change());
            }
            let found = Findings {
                allocated: 0,
                capacity: 0,
                unplaced: 0,
                overlapping: Vec::new(),
                invalid: Some(error.to_string()),
                deleting,
            };
            let status =
                status::compute(network.status.as_ref(), network.meta().generation, &found);
            write_status(&api, &network, &status).await?;
            return Ok(Action::await_change());
        }
    };
    sync(&ctx, &api, &network, &pool).await
}

async fn release_finalizer(api: &Api<Network>, network: &Network) -> Result<(), kube::Error> {
    let finalizers = network
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    write_finalizers(api, network, finalizers).await
}

async fn sync(
    ctx: &NetworkContext,
    api: &Api<Network>,
    network: &Network,
    pool: &Pool,
) -> Result<Action, ReconcileError> {
    let namespace = network.namespace().unwrap_or_default();
    let name = network.name_any();
    let deleting = network.meta().deletion_timestamp.is_some();
    // From the cache first: when it shows nothing to write, nothing is read from the server.
    let cached = ctx.cached_pods(&namespace);
    let quick = plan(&name, pool, &cached, &BTreeMap::new(), !deleting, ctx.batch);
    let outcome = if quick.assignments.is_empty()
        && quick.releases.is_empty()
        && claims_of(network.meta()).is_empty()
    {
        Outcome {
            plan: quick,
            written: 0,
            settled: true,
            stopped: deleting,
        }
    } else {
        allocator::allocate(&ctx.client, &namespace, &name, pool, ctx.batch).await?
    };
    let holders: HashSet<&str> = outcome.plan.holders.values().map(String::as_str).collect();
    ctx.settled(
        cached
            .iter()
            .filter(|p| holders.contains(p.name.as_str()))
            .map(|p| p.uid.clone()),
    );
    if deleting {
        // Decide on live data: a pod may hold an address the cache does not show yet.
        let live = allocator::live_pods(&ctx.client, &namespace).await?;
        let live_plan = plan(&name, pool, &live, &BTreeMap::new(), false, 0);
        if live_plan.holders.is_empty() {
            release_finalizer(api, network).await?;
            return Ok(Action::await_change());
        }
        let message = format!("Network \"{name}\" is being deleted");
        for pod in waiting(&live, &name) {
            ctx.warn(&namespace, &pod, NETWORK_TERMINATING, &message)
                .await;
        }
    }
    for pod in &outcome.plan.unplaced {
        let message = format!(
            "no free address in Network \"{name}\" ({}): every address is allocated, reserved or excluded",
            network.spec.cidr
        );
        ctx.warn(&namespace, pod, ADDRESS_EXHAUSTED, &message).await;
    }
    let found = Findings {
        allocated: outcome.plan.holders.len() as u128,
        capacity: pool.capacity(),
        unplaced: outcome.plan.unplaced.len(),
        overlapping: overlapping(&ctx.networks, network, pool.cidr()),
        invalid: None,
        deleting,
    };
    let status = status::compute(network.status.as_ref(), network.meta().generation, &found);
    let status_written = write_status(api, network, &status).await?;
    if status_written || outcome.written > 0 {
        ctx.events
            .normal(network, SUCCESS_SYNCED, MESSAGE_SYNCED)
            .await;
    }
    if !outcome.settled {
        return Ok(Action::requeue_after(Duration::from_millis(100)));
    }
    Ok(Action::await_change())
}
