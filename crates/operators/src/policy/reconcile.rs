//! One check of one policy, level-driven: from the cached policy and the cached pods of its
//! namespace, decide each pod's verdict, put on (or take off) the policy's mark and note each pod
//! that starts failing (both through the process's shared pod writer, `writes.rs`, which merges
//! them with other policies' into one patch and one Warning event per pod) or delete the pod,
//! and write the status when it changed.
//!
//! What this guarantees:
//! - A policy only removes or changes keys its own marker annotation names (see `marks.rs`).
//! - Of two policies of one kind in a namespace that set the same key, the older one (by
//!   creation time, then name) acts; the other reports `Conflict` and leaves its pods alone.
//! - A write the cache has not caught up with yet is not sent again: until the cache's copy of
//!   the pod shows the write (its marker annotation as written, or the pod terminating), the
//!   pod counts as done (for at most 30 seconds).
//! - While the policy exists it carries a finalizer; when it is deleted (or found gone) every
//!   mark it put on pods is removed before the finalizer goes.

use super::evaluate::InvalidSpec;
use super::kinds::{Enforcement, PolicyKind};
use super::marks::{self, LABEL_VALUE, Mark};
use super::status::{self, NotReady, Outcome};
use super::types::FailingPod;
use super::writes::{Check as WriterCheck, PodWrites};
use crate::events::Events;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::{Selector, SelectorExt};
use kube::{Client, Resource, ResourceExt};
use kubeforge_runtime::cache::Lister;
use kubeforge_runtime::controller::{Action, ReconcileError, Request};
use kubeforge_runtime::finalizer::{Event as FinalizerEvent, finalizer};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The finalizer that holds a deleted policy until its marks are gone.
pub const FINALIZER: &str = "policy.k8s-go.openshift.org/cleanup";
/// Event reason on a pod that starts failing a policy.
pub const FAILED_POLICY: &str = "FailedPolicy";
/// Event reason on a pod a policy deletes.
pub const DELETED_BY_POLICY: &str = "DeletedByPolicy";
/// How many deletions (the `kill` and `delete` actions) of one check are in flight at once.
const DELETE_CONCURRENCY: usize = 32;
/// How long a write may stay unseen by the cache before it is no longer trusted.
const EXPECTATION_TTL: Duration = Duration::from_secs(30);

/// What a check needs: a client for writes, listers for reads, a recorder for events, the
/// process's pod writer, and what this process remembers between checks.
pub struct PolicyContext<K> {
    /// Writes go to the API server.
    pub client: Client,
    /// Marks and `FailedPolicy` events go through the writer every policy controller of the
    /// process shares (merged per pod).
    pub writes: PodWrites,
    /// Policies of the kind, from the shared cache.
    pub policies: Lister<K>,
    /// Pods, from the shared cache (read per namespace through its namespace index).
    pub pods: Lister<Pod>,
    /// Events about pods.
    pub events: Events,
    deletes: tokio::sync::Semaphore,
    memory: Mutex<Memory>,
}

/// What a controller remembers between checks (rebuilt from the cluster after a restart).
#[derive(Default)]
struct Memory {
    /// Per policy (`namespace/name`) and pod (`name`), what a write made the pod, and when.
    pending: HashMap<String, HashMap<String, (Expect, Instant)>>,
    /// Per policy, the uids of the pods known to fail it (events go to new ones only).
    failing: HashMap<String, HashSet<String>>,
}

impl<K> PolicyContext<K> {
    /// A context with empty memory.
    pub fn new(
        client: Client,
        writes: PodWrites,
        policies: Lister<K>,
        pods: Lister<Pod>,
        events: Events,
    ) -> Self {
        PolicyContext {
            client,
            writes,
            policies,
            pods,
            events,
            deletes: tokio::sync::Semaphore::new(DELETE_CONCURRENCY),
            memory: Mutex::new(Memory::default()),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K> std::fmt::Debug for PolicyContext<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyContext").finish_non_exhaustive()
    }
}

/// Why a check did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The API server refused or failed a request.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// Pods written moments ago are not in the cache yet (cleanup waits for them).
    #[error("{0} pod write(s) not yet seen by the cache")]
    CacheBehind(usize),
    /// Some pod writes failed.
    #[error("{failed} pod write(s) failed; first: {first}")]
    Writes {
        /// How many failed.
        failed: usize,
        /// The first failure (shared by every policy whose change the failed write carried).
        first: Arc<kube::Error>,
    },
}

/// What a check did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Pods whose marks were set, changed or removed.
    pub patched: usize,
    /// Pods deleted.
    pub deleted: usize,
    /// Whether the status was written.
    pub status_written: bool,
}

/// The requests for every policy in `pod`'s namespace (a pod change concerns only those).
pub fn policies_for_pod<K: PolicyKind>(policies: &Lister<K>, pod: &Pod) -> Vec<Request> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    policies
        .namespaced(namespace)
        .list(&Selector::default())
        .iter()
        .map(|p| Request::namespaced(namespace, &p.name_any()))
        .collect()
}

fn key_of<K: Resource>(policy: &K) -> String {
    format!(
        "{}/{}",
        policy.meta().namespace.as_deref().unwrap_or_default(),
        policy.meta().name.as_deref().unwrap_or_default()
    )
}

/// The older live policy of the kind in the namespace that sets the same key, if any.
fn conflicting<K: PolicyKind>(ctx: &PolicyContext<K>, policy: &K) -> Option<String> {
    let Enforcement::Mark(mark) = policy.enforcement() else {
        return None;
    };
    let rank = |p: &K| (p.meta().creation_timestamp.clone(), p.name_any());
    let mine = rank(policy);
    ctx.policies
        .namespaced(policy.meta().namespace.as_deref().unwrap_or_default())
        .list(&Selector::default())
        .iter()
        .filter(|other| {
            other.meta().deletion_timestamp.is_none()
                && other.name_any() != policy.name_any()
                && other.enforcement() == Enforcement::Mark(mark.clone())
                && rank(other) < mine
        })
        .map(|other| rank(other.as_ref()))
        .min()
        .map(|(_, name)| format!("{}/{name}", K::kind(&())))
}

/// What a pod looks like once the cache has seen a write to it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// The policy's marker annotation has this value (`None`: absent).
    Marker(Option<String>),
    /// The pod with this uid is gone or terminating.
    Gone(Option<String>),
}

impl Expect {
    fn seen_in(&self, pod: Option<&Pod>, marker: &str) -> bool {
        match (self, pod) {
            (Expect::Marker(value), Some(pod)) => pod.annotations().get(marker) == value.as_ref(),
            (Expect::Marker(_), None) => true,
            (Expect::Gone(uid), Some(pod)) => {
                pod.metadata.deletion_timestamp.is_some() || pod.metadata.uid != *uid
            }
            (Expect::Gone(_), None) => true,
        }
    }
}

/// One write a check decided on.
enum Write {
    /// A change of the policy's mark (through the shared writer), and the note of a pod that
    /// starts failing (its Warning event).
    Mark {
        pod: Arc<Pod>,
        patch: Option<serde_json::Value>,
        expect: Option<String>,
        note: Option<String>,
    },
    Delete {
        pod: Arc<Pod>,
        message: String,
    },
}

/// Deletes a failing pod (the `kill`/`delete` actions), with its event; `Some(pod name, what
/// the pod becomes)` when it did.
async fn delete<K: Send + Sync>(
    ctx: &PolicyContext<K>,
    pod: Arc<Pod>,
    message: String,
) -> Result<Option<(String, Expect)>, Arc<kube::Error>> {
    let _permit = ctx.deletes.acquire().await;
    let api: Api<Pod> = Api::namespaced(
        ctx.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => {
            ctx.events
                .warning(pod.as_ref(), DELETED_BY_POLICY, &message)
                .await;
            Ok(Some((
                pod.name_any(),
                Expect::Gone(pod.metadata.uid.clone()),
            )))
        }
        // Gone already, or replaced by a pod of the same name.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
        Err(e) => Err(Arc::new(e)),
    }
}

/// Hands every mark to the writer at once (then drops `check`, so the writer knows this check
/// has chosen), runs the deletions, and waits for all; remembers the pods changed as pending for
/// `policy_key`, and returns how many were patched and deleted and the failures.
async fn execute<K: Send + Sync>(
    ctx: &PolicyContext<K>,
    policy_key: &str,
    writes: Vec<Write>,
    check: Option<WriterCheck>,
) -> (usize, usize, Vec<Arc<kube::Error>>) {
    type Outcome = Result<Option<(String, Expect)>, Arc<kube::Error>>;
    let (mut patched, mut deleted) = (0, 0);
    let mut failures = Vec::new();
    let mut pending: FuturesUnordered<BoxFuture<'_, (bool, Outcome)>> = FuturesUnordered::new();
    for write in writes {
        match write {
            Write::Mark {
                pod,
                patch,
                expect,
                note,
            } => {
                let patching = patch.is_some();
                let answer = ctx.writes.enqueue(&pod, patch, note);
                pending.push(Box::pin(async move {
                    let outcome = answer.await.map(|written| {
                        (written && patching).then(|| (pod.name_any(), Expect::Marker(expect)))
                    });
                    (false, outcome)
                }));
            }
            Write::Delete { pod, message } => {
                pending.push(Box::pin(
                    async move { (true, delete(ctx, pod, message).await) },
                ));
            }
        }
    }
    drop(check);
    let mut changed = Vec::new();
    while let Some((deletion, outcome)) = pending.next().await {
        match outcome {
            Ok(Some(pod)) => {
                if deletion {
                    deleted += 1;
                } else {
                    patched += 1;
                }
                changed.push(pod);
            }
            Ok(None) => {}
            Err(e) => failures.push(e),
        }
    }
    if !changed.is_empty() {
        let now = Instant::now();
        let mut memory = ctx.memory();
        let pending = memory.pending.entry(policy_key.to_string()).or_default();
        for (name, expect) in changed {
            pending.insert(name, (expect, now));
        }
    }
    (patched, deleted, failures)
}

/// The pods (by name) a write of policy `policy_key` went to that the cache does not show yet;
/// `marker` is the policy's marker annotation.
fn pending_writes<K>(
    ctx: &PolicyContext<K>,
    policy_key: &str,
    marker: &str,
    pods: &[Arc<Pod>],
) -> HashSet<String> {
    let mut memory = ctx.memory();
    let Some(pending) = memory.pending.get_mut(policy_key) else {
        return HashSet::new();
    };
    let by_name: HashMap<&str, &Pod> = pods
        .iter()
        .map(|p| (p.metadata.name.as_deref().unwrap_or_default(), p.as_ref()))
        .collect();
    pending.retain(|name, (expect, at)| {
        at.elapsed() < EXPECTATION_TTL
            && !expect.seen_in(by_name.get(name.as_str()).copied(), marker)
    });
    pending.keys().cloned().collect()
}

/// Checks every pod of a live policy's namespace, acts on the verdicts and writes the status.
/// (The finalizer is the caller's: see [`reconcile`].)
pub async fn apply<K: PolicyKind>(
    ctx: &PolicyContext<K>,
    policy: &K,
) -> Result<Changes, PolicyError> {
    let namespace = policy.meta().namespace.clone().unwrap_or_default();
    let name = policy.name_any();
    let policy_key = key_of(policy);
    let marker = marks::marker_key(K::NAME, &name);
    let kind = K::kind(&());
    // Other checks' marks wait for this one's (see `writes.rs`).
    let choosing = ctx.writes.check();
    let pods = ctx.pods.namespaced(&namespace).list(&Selector::default());

    let selector = policy
        .pod_selector()
        .cloned()
        .map(Selector::try_from)
        .transpose()
        .map_err(|e| InvalidSpec::PodSelector(e.to_string()));
    let check = policy.check();
    let (check, selector) = match (check, selector) {
        (Ok(check), Ok(selector)) => (check, selector),
        (Err(e), _) | (_, Err(e)) => {
            // Nothing can be judged: release every mark, report why.
            drop(choosing);
            let changes = release_all(ctx, &policy_key, &marker, &pods).await?;
            let outcome = Outcome {
                problem: Some(NotReady::InvalidSpec(e.to_string())),
                ..Outcome::default()
            };
            return write_status(ctx, policy, outcome, changes).await;
        }
    };
    let conflict_with = conflicting(ctx, policy);
    let enforcement = policy.enforcement();
    let acting = conflict_with.is_none();
    let pending = pending_writes(ctx, &policy_key, &marker, &pods);
    let known_failing = ctx.memory().failing.remove(&policy_key).unwrap_or_default();

    let mut outcome = Outcome {
        conflict_with: conflict_with.clone(),
        ..Outcome::default()
    };
    let mut now_failing = HashSet::new();
    let mut writes = Vec::new();
    for pod in &pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let in_scope = selector
            .as_ref()
            .is_none_or(|s| s.matches(pod.metadata.labels.as_ref().unwrap_or(&Default::default())));
        let failure = if in_scope { check.evaluate(pod) } else { None };
        if in_scope {
            match &failure {
                Some(_) => outcome.failed += 1,
                None => outcome.passed += 1,
            }
        }
        let pod_name = pod.name_any();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let held = marks::current(pod, &marker);
        let starts_failing = failure.as_ref().and_then(|f| {
            now_failing.insert(uid.clone());
            (!known_failing.contains(&uid) && held.is_none())
                .then(|| format!("fails {kind} {name:?}: {}", f.reasons.join("; ")))
        });
        if let Some(f) = &failure {
            outcome.failing.push(FailingPod {
                pod: pod_name.clone(),
                reasons: f.reasons.clone(),
            });
        }
        if acting
            && enforcement == Enforcement::Delete
            && let Some(f) = &failure
        {
            if !pending.contains(&pod_name) {
                writes.push(Write::Delete {
                    pod: pod.clone(),
                    message: format!(
                        "deleted: the pod fails {kind} {name:?}: {}",
                        f.reasons.join("; ")
                    ),
                });
            }
            continue;
        }
        if pending.contains(&pod_name) {
            if let Some(note) = starts_failing {
                writes.push(Write::Mark {
                    pod: pod.clone(),
                    patch: None,
                    expect: None,
                    note: Some(note),
                });
            }
            continue;
        }
        let desired = match (&failure, &enforcement, acting) {
            (Some(f), Enforcement::Mark(mark), true) => Some((
                mark,
                match mark {
                    Mark::Label(_) => LABEL_VALUE.to_string(),
                    Mark::Annotation(_) => f.containers.join(","),
                },
            )),
            _ => None,
        };
        let plan = marks::plan(
            pod,
            &marker,
            desired.as_ref().map(|(m, v)| (*m, v.as_str())),
        );
        if plan.blocked {
            outcome.blocked += 1;
        }
        if plan.patch.is_some() || starts_failing.is_some() {
            let expect = (!plan.blocked)
                .then(|| desired.as_ref().map(|(mark, _)| mark.encode()))
                .flatten();
            writes.push(Write::Mark {
                pod: pod.clone(),
                patch: plan.patch,
                expect,
                note: starts_failing,
            });
        }
    }
    ctx.memory().failing.insert(policy_key.clone(), now_failing);

    let (patched, deleted, failures) = execute(ctx, &policy_key, writes, Some(choosing)).await;
    if let Some(other) = &conflict_with {
        outcome.problem = Some(NotReady::Conflict(format!(
            "{other} sets the same key in this namespace; this policy does not act"
        )));
    }
    if let Some(first) = failures.first() {
        outcome.problem = Some(NotReady::WriteFailed(format!(
            "{} pod write(s) failed; first: {first}",
            failures.len()
        )));
    }
    let changes = Changes {
        patched,
        deleted,
        status_written: false,
    };
    let changes = write_status(ctx, policy, outcome, changes).await?;
    let mut failures = failures;
    if !failures.is_empty() {
        let failed = failures.len();
        return Err(PolicyError::Writes {
            failed,
            first: failures.swap_remove(0),
        });
    }
    Ok(changes)
}

/// Writes the status `outcome` gives when it differs from the policy's.
async fn write_status<K: PolicyKind>(
    ctx: &PolicyContext<K>,
    policy: &K,
    outcome: Outcome,
    mut changes: Changes,
) -> Result<Changes, PolicyError> {
    let previous = policy.policy_status();
    let new_status = status::compute(previous, policy.meta().generation, outcome);
    if previous != Some(&new_status) {
        let api: Api<K> = Api::namespaced(
            ctx.client.clone(),
            policy.meta().namespace.as_deref().unwrap_or_default(),
        );
        let patch = serde_json::json!({ "status": new_status });
        match api
            .patch_status(
                &policy.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => changes.status_written = true,
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(changes)
}

/// Removes the marks policy `policy_key` put on `pods`.
async fn release_all<K: Send + Sync>(
    ctx: &PolicyContext<K>,
    policy_key: &str,
    marker: &str,
    pods: &[Arc<Pod>],
) -> Result<Changes, PolicyError> {
    let writes: Vec<Write> = pods
        .iter()
        .filter_map(|pod| {
            marks::plan(pod, marker, None)
                .patch
                .map(|patch| Write::Mark {
                    pod: pod.clone(),
                    patch: Some(patch),
                    expect: None,
                    note: None,
                })
        })
        .collect();
    let (patched, _, mut failures) = execute(ctx, policy_key, writes, None).await;
    if !failures.is_empty() {
        let failed = failures.len();
        return Err(PolicyError::Writes {
            failed,
            first: failures.swap_remove(0),
        });
    }
    Ok(Changes {
        patched,
        ..Changes::default()
    })
}

/// Removes every mark policy `name` of kind `K` put on the pods of `namespace`, and forgets it.
/// Run when the policy is being deleted (under its finalizer) or found gone.
pub async fn cleanup<K: PolicyKind>(
    ctx: &PolicyContext<K>,
    namespace: &str,
    name: &str,
) -> Result<usize, PolicyError> {
    let policy_key = format!("{namespace}/{name}");
    let marker = marks::marker_key(K::NAME, name);
    let pods = ctx.pods.namespaced(namespace).list(&Selector::default());
    // A mark written moments ago may not be in the cache yet: wait for it rather than leave it.
    let pending = pending_writes(ctx, &policy_key, &marker, &pods).len();
    if pending > 0 {
        return Err(PolicyError::CacheBehind(pending));
    }
    let changes = release_all(ctx, &policy_key, &marker, &pods).await?;
    let mut memory = ctx.memory();
    memory.pending.remove(&policy_key);
    memory.failing.remove(&policy_key);
    Ok(changes.patched)
}

/// The controller's reconcile: a policy gone or being deleted has its marks removed; a live
/// policy gets the finalizer, then [`apply`], and is checked again after
/// [`RECHECK`](status::RECHECK) even if nothing changes.
pub async fn reconcile<K: PolicyKind>(
    ctx: Arc<PolicyContext<K>>,
    request: Request,
) -> Result<Action, ReconcileError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let Some(policy) = ctx.policies.get(&namespace, &request.name) else {
        cleanup(&ctx, &namespace, &request.name).await?;
        return Ok(Action::await_change());
    };
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, policy, |event| async {
        match event {
            FinalizerEvent::Apply(policy) => {
                apply(&ctx, policy.as_ref()).await?;
                Ok(Action::requeue_after(status::RECHECK))
            }
            FinalizerEvent::Cleanup(policy) => {
                cleanup(&ctx, &namespace, &policy.name_any()).await?;
                Ok(Action::await_change())
            }
        }
    })
    .await
}
