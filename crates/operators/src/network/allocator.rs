//! Handing out addresses so that no address is ever held by two live pods, even with several
//! workers or several controller processes allocating at once, each with its own (possibly
//! stale) cache.
//!
//! The protocol, per network, in rounds:
//! 1. Read the Network and the metadata of the namespace's pods from the API server (never the
//!    cache: a cache may not show an address written a moment ago).
//! 2. [`plan`] who holds what, which claims still stand, and new claims for pods that need an
//!    address.
//! 3. Record the claims on the Network (annotation [`CLAIMS_ANNOTATION`]) with the
//!    resourceVersion read in step 1. This write is the serialization point: of two allocators
//!    that read the same Network, one gets 409 Conflict and starts over, and then sees the
//!    other's claims. An address is therefore either held by a pod (seen in step 1) or claimed
//!    on the Network before any pod is written with it.
//! 4. Write each claimed address to its pod, with the pod's resourceVersion as precondition (a
//!    pod that changed meanwhile, e.g. left the network, is not written; the next round decides
//!    again). A claim is completed by whoever gets there: the allocator that made it, or another
//!    one finding it in step 2 (so a crashed allocator's claims are not lost).
//! 5. The next round drops the claims whose pods now hold their addresses.
//!
//! A round reads the pods live only when it must. When every write of the previous round
//! succeeded and the Network is still at the version that round left it at, nobody else has
//! recorded or dropped a claim since, so the previous round's view with its own writes applied
//! (each PATCH answers with the pod's new resourceVersion) is as good as a live read for what
//! matters: an address is still either held in that view or claimed. The view may be stale in
//! harmless ways only: a pod deleted since still looks like a holder (its address stays
//! reserved a round longer), and a pod created since waits for the next reconcile.
//!
//! The rounds end when nothing is left to claim or write. The cluster is the only state: pods'
//! annotations and the claims on the Network; a restarted controller rebuilds everything from
//! them.

use super::assignment::{CLAIMS_ANNOTATION, IP_ANNOTATION, Plan, PodView, claims_of, plan};
use super::pool::Pool;
use super::types::Network;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// How many pod writes of one round are in flight at once.
const WRITE_CONCURRENCY: usize = 32;
/// How many rounds one reconcile runs before it yields (and is requeued).
const MAX_ROUNDS: usize = 64;

/// What the allocation rounds of one reconcile did and found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The last round's plan (holders after the writes that succeeded are in the next one).
    pub plan: Plan,
    /// Pods written (addresses assigned or released).
    pub written: usize,
    /// Whether the rounds ended with nothing left to do (otherwise: requeue soon).
    pub settled: bool,
    /// Whether the Network is gone or being deleted (allocation stopped).
    pub stopped: bool,
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409 || s.code == 404)
}

/// The views of every pod of `namespace`, read from the API server.
pub async fn live_pods(client: &Client, namespace: &str) -> Result<Vec<PodView>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(pods
        .list_metadata(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|p| PodView::of(&p.metadata))
        .collect())
}

/// Writes the claims `claims` on `network`, if it is still at the version read; the Network as
/// written, or `None` when it changed (or went) meanwhile.
async fn record_claims(
    api: &Api<Network>,
    network: &Network,
    claims: &BTreeMap<String, String>,
) -> Result<Option<Network>, kube::Error> {
    let value = if claims.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::String(serde_json::to_string(claims).unwrap_or_default())
    };
    let patch = json!({
        "metadata": {
            "resourceVersion": network.resource_version(),
            "annotations": {CLAIMS_ANNOTATION: value},
        }
    });
    match api
        .patch(
            &network.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(written) => Ok(Some(written)),
        Err(e) if is_conflict(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets (or with `None` removes) a pod's address, if the pod is still at the version read; the
/// pod's view after the write, or `None` when it changed (or went) meanwhile.
async fn write_address(
    pods: &Api<Pod>,
    pod: &PodView,
    address: Option<&str>,
) -> Result<Option<PodView>, kube::Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": pod.resource_version,
            "annotations": {IP_ANNOTATION: address},
        }
    });
    match pods
        .patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(written) => Ok(Some(PodView::of(&written.metadata))),
        Err(e) if is_conflict(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs allocation rounds for `name` in `namespace` with `pool` until they settle (see the
/// module docs); `batch` bounds the claims in flight.
pub async fn allocate(
    client: &Client,
    namespace: &str,
    name: &str,
    pool: &Pool,
    batch: usize,
) -> Result<Outcome, kube::Error> {
    let networks: Api<Network> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut outcome = Outcome::default();
    // The previous round's view with its writes applied, and the Network's resourceVersion it
    // is good for (see the module docs).
    let mut carried: Option<(String, Vec<PodView>)> = None;
    for _ in 0..MAX_ROUNDS {
        let Some(network) = networks.get_opt(name).await? else {
            outcome.stopped = true;
            return Ok(outcome);
        };
        let deleting = network.metadata.deletion_timestamp.is_some();
        let mut views = match carried.take() {
            Some((version, views))
                if network.metadata.resource_version.as_deref() == Some(version.as_str()) =>
            {
                views
            }
            _ => live_pods(client, namespace).await?,
        };
        let claims = claims_of(&network.metadata);
        let round = plan(name, pool, &views, &claims, !deleting, batch);
        let mut version = network.metadata.resource_version.clone();
        if round.claims != claims {
            match record_claims(&networks, &network, &round.claims).await? {
                Some(written) => version = written.metadata.resource_version,
                // Another allocator changed the Network since it was read: read again.
                None => continue,
            }
        }
        outcome.stopped = deleting;
        if round.assignments.is_empty() && round.releases.is_empty() {
            outcome.plan = round;
            outcome.settled = true;
            return Ok(outcome);
        }
        let writes: Vec<(PodView, Option<String>)> = round
            .assignments
            .iter()
            .map(|(pod, address)| (pod.clone(), Some(address.clone())))
            .chain(round.releases.iter().map(|pod| (pod.clone(), None)))
            .collect();
        let mut results = futures::stream::iter(writes.into_iter().map(|(pod, address)| {
            let pods = pods.clone();
            async move { write_address(&pods, &pod, address.as_deref()).await }
        }))
        .buffer_unordered(WRITE_CONCURRENCY);
        let mut written = HashMap::new();
        let mut complete = true;
        while let Some(result) = results.next().await {
            match result? {
                Some(view) => {
                    outcome.written += 1;
                    written.insert(view.name.clone(), view);
                }
                None => complete = false,
            }
        }
        drop(results);
        // A pod that changed under a write is known only to the server: read it next round.
        if complete && let Some(version) = version {
            for view in &mut views {
                if let Some(after) = written.remove(&view.name) {
                    *view = after;
                }
            }
            carried = Some((version, views));
        }
        outcome.plan = round;
    }
    Ok(outcome)
}
