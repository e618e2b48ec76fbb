//! One sync of one ConfigurationDistributionRule, level-driven: from the cached state of the
//! rule, its sources, the target namespaces and the copies it manages, compute the copies it
//! wants, create/replace what differs, delete what it no longer wants, and report the result in
//! its status.
//!
//! What this guarantees:
//! - A copy is only ever written or deleted when it carries this rule's annotation; an object in
//!   a target namespace that the rule does not manage is never touched (it becomes a status
//!   problem and a Warning event), and a copy managed by another rule is left to that rule (a
//!   `ClaimedByOtherRule` problem), so two rules never fight over one object.
//! - While the rule exists it carries a finalizer ([`reconcile`], through kubeforge-runtime's
//!   finalizer helper); a deleted rule's copies are all deleted before the finalizer goes. A rule
//!   that vanished without it (finalizer removed by hand) still has its copies deleted when it is
//!   reconciled.
//! - The status is written only when it changed.

use super::copy::{self, Distributable};
use super::status;
use super::types::{ConfigurationDistributionRule, Problem};
use crate::events::Events;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use kubeforge_runtime::cache::{IndexError, Informer, Lister};
use kubeforge_runtime::controller::{Action, ReconcileError, Request};
use kubeforge_runtime::finalizer::{Event as FinalizerEvent, finalizer};
use std::collections::HashSet;
use std::sync::Arc;

/// The finalizer that holds a deleted rule until its copies are gone.
pub const FINALIZER: &str = "k8s.tideland.dev/distribution";
/// Index of ConfigMaps and Secrets by the rule (`namespace/name`) managing them.
pub const COPIES_BY_RULE: &str = "codis.copies-by-rule";
/// Index of rules by the namespaces they list.
pub const RULES_BY_TARGET: &str = "codis.rules-by-target";
/// How many writes of one sync are in flight at once.
const WRITE_CONCURRENCY: usize = 16;

/// What one sync needs: a client for writes, listers for reads, a recorder for events.
#[derive(Clone)]
pub struct CodisContext {
    /// Writes go to the API server.
    pub client: Client,
    /// Rules, from the shared cache (indexed by [`RULES_BY_TARGET`]).
    pub rules: Lister<ConfigurationDistributionRule>,
    /// ConfigMaps in every namespace (indexed by [`COPIES_BY_RULE`]).
    pub config_maps: Lister<ConfigMap>,
    /// Secrets in every namespace (indexed by [`COPIES_BY_RULE`]).
    pub secrets: Lister<Secret>,
    /// Namespaces.
    pub namespaces: Lister<Namespace>,
    /// Events about rules.
    pub events: Events,
}

/// Adds the indexes a [`CodisContext`]'s listers are read through; adding them twice (another
/// controller sharing the informers) is fine.
pub fn add_indexes(
    rules: &Informer<ConfigurationDistributionRule>,
    config_maps: &Informer<ConfigMap>,
    secrets: &Informer<Secret>,
) -> Result<(), IndexError> {
    fn tolerate(result: Result<(), IndexError>) -> Result<(), IndexError> {
        match result {
            Err(IndexError::Conflict(_)) => Ok(()),
            other => other,
        }
    }
    tolerate(
        rules
            .store()
            .add_indexer(RULES_BY_TARGET, |rule: &ConfigurationDistributionRule| {
                rule.spec.namespaces.clone()
            }),
    )?;
    tolerate(
        config_maps
            .store()
            .add_indexer(COPIES_BY_RULE, by_rule::<ConfigMap>),
    )?;
    tolerate(
        secrets
            .store()
            .add_indexer(COPIES_BY_RULE, by_rule::<Secret>),
    )
}

/// The index function of [`COPIES_BY_RULE`].
fn by_rule<K: Distributable>(object: &K) -> Vec<String> {
    copy::managing_rule(object)
        .map(str::to_string)
        .into_iter()
        .collect()
}

/// The rules (`namespace`, `name`) a change of a ConfigMap or Secret concerns: the rules of its
/// namespace (it may be, or have been, a source), the rules listing its namespace (it may be a
/// copy, or an object in the way of one) and the rule its annotation names.
pub fn rules_for_object<K: Resource>(
    rules: &Lister<ConfigurationDistributionRule>,
    object: &K,
) -> Vec<(String, String)> {
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    let mut keys: HashSet<(String, String)> = rules
        .namespaced(&namespace)
        .list(&Default::default())
        .iter()
        .chain(rules_listing(rules, &namespace).iter())
        .map(|r| (r.namespace().unwrap_or_default(), r.name_any()))
        .collect();
    if let Some((ns, name)) = copy::managing_rule(object).and_then(|k| k.split_once('/')) {
        keys.insert((ns.to_string(), name.to_string()));
    }
    keys.into_iter().collect()
}

/// The rules (`namespace`, `name`) that list namespace `name` as a target.
pub fn rules_for_namespace(
    rules: &Lister<ConfigurationDistributionRule>,
    name: &str,
) -> Vec<(String, String)> {
    rules_listing(rules, name)
        .iter()
        .map(|r| (r.namespace().unwrap_or_default(), r.name_any()))
        .collect()
}

fn rules_listing(
    rules: &Lister<ConfigurationDistributionRule>,
    namespace: &str,
) -> Vec<Arc<ConfigurationDistributionRule>> {
    rules
        .by_index(RULES_BY_TARGET, namespace)
        .unwrap_or_default()
}

/// Why a sync did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CodisError {
    /// The API server refused or failed a request.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// Some copies could not be written or deleted (they are listed in the status).
    #[error("{failed} of the rule's writes failed; first: {first}")]
    Writes {
        /// How many writes failed.
        failed: usize,
        /// The first failure.
        first: kube::Error,
    },
}

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Copies created.
    pub created: usize,
    /// Copies replaced (or deleted and created again) to match their sources.
    pub updated: usize,
    /// Copies deleted.
    pub deleted: usize,
    /// Whether the status was written.
    pub status_written: bool,
}

/// One write a sync decided on.
enum Write<K> {
    Create(K),
    Replace(K),
    Recreate {
        old_uid: Option<String>,
        copy: K,
    },
    Delete {
        namespace: String,
        name: String,
        uid: Option<String>,
    },
}

/// The outcome of one write: which object, and whether it worked.
struct Written {
    object: String,
    namespace: String,
    kind: WriteKind,
    result: Result<(), kube::Error>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Create,
    Update,
    Delete,
}

fn uid_precondition(uid: Option<String>) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..DeleteParams::background()
    }
}

/// Deletion where "already gone" counts as done.
async fn delete<K: Distributable>(
    api: &Api<K>,
    name: &str,
    params: &DeleteParams,
) -> Result<(), kube::Error> {
    match api.delete(name, params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn perform<K: Distributable>(client: Client, write: Write<K>) -> Written {
    let kind = K::kind(&());
    let (namespace, name, write_kind) = match &write {
        Write::Create(c) | Write::Replace(c) | Write::Recreate { copy: c, .. } => (
            c.namespace().unwrap_or_default(),
            c.name_any(),
            if matches!(write, Write::Create(_)) {
                WriteKind::Create
            } else {
                WriteKind::Update
            },
        ),
        Write::Delete {
            namespace, name, ..
        } => (namespace.clone(), name.clone(), WriteKind::Delete),
    };
    let api: Api<K> = Api::namespaced(client, &namespace);
    let result = match write {
        Write::Create(copy) => api.create(&PostParams::default(), &copy).await.map(|_| ()),
        Write::Replace(copy) => api
            .replace(&name, &PostParams::default(), &copy)
            .await
            .map(|_| ()),
        Write::Recreate { old_uid, copy } => {
            match delete(&api, &name, &uid_precondition(old_uid)).await {
                Ok(()) => api.create(&PostParams::default(), &copy).await.map(|_| ()),
                Err(e) => Err(e),
            }
        }
        Write::Delete { uid, .. } => delete(&api, &name, &uid_precondition(uid)).await,
    };
    Written {
        object: format!("{kind}/{name}"),
        namespace,
        kind: write_kind,
        result,
    }
}

/// What distributing one kind found and decided.
struct Plan<K> {
    writes: Vec<Write<K>>,
    in_place: i32,
    problems: Vec<Problem>,
}

/// Decides the writes of one kind: `sources` into `targets`, against what `lister` holds.
fn plan<K: Distributable>(
    rule_key: &str,
    lister: &Lister<K>,
    sources: &[Arc<K>],
    targets: &[String],
) -> Plan<K> {
    let kind = K::kind(&());
    let mut plan = Plan {
        writes: Vec::new(),
        in_place: 0,
        problems: Vec::new(),
    };
    for target in targets {
        for source in sources {
            let name = source.name_any();
            let Some(existing) = lister.get(target, &name) else {
                plan.writes.push(Write::Create(copy::desired_copy(
                    source.as_ref(),
                    target,
                    rule_key,
                )));
                continue;
            };
            match copy::managing_rule(existing.as_ref()) {
                Some(owner) if owner == rule_key => {
                    if copy::is_copy_of(existing.as_ref(), source.as_ref(), rule_key) {
                        plan.in_place += 1;
                        continue;
                    }
                    let desired = copy::desired_copy(source.as_ref(), target, rule_key);
                    if K::needs_recreate(existing.as_ref(), &desired) {
                        plan.writes.push(Write::Recreate {
                            old_uid: existing.meta().uid.clone(),
                            copy: desired,
                        });
                    } else {
                        let mut desired = desired;
                        desired.meta_mut().resource_version = existing.resource_version();
                        plan.writes.push(Write::Replace(desired));
                    }
                }
                Some(other) => plan.problems.push(Problem {
                    namespace: target.clone(),
                    object: Some(format!("{kind}/{name}")),
                    reason: "ClaimedByOtherRule".into(),
                    message: format!(
                        "{kind} \"{target}/{name}\" is distributed by rule \"{other}\"; this rule leaves it alone"
                    ),
                }),
                None => plan.problems.push(Problem {
                    namespace: target.clone(),
                    object: Some(format!("{kind}/{name}")),
                    reason: "NotManaged".into(),
                    message: format!(
                        "{kind} \"{target}/{name}\" already exists and is not managed by this rule"
                    ),
                }),
            }
        }
    }
    // A copy is wanted when its namespace is a target and a source has its name.
    let target_set: HashSet<&str> = targets.iter().map(String::as_str).collect();
    let source_names: HashSet<&str> = sources
        .iter()
        .filter_map(|s| s.meta().name.as_deref())
        .collect();
    plan.writes
        .extend(copies_to_delete(lister, rule_key, |namespace, name| {
            !(target_set.contains(namespace) && source_names.contains(name))
        }));
    plan
}

/// The sources of one kind in the rule's namespace (none when the mode excludes the kind).
fn sources<K: Distributable>(
    lister: &Lister<K>,
    namespace: &str,
    selector: &str,
    enabled: bool,
) -> Vec<Arc<K>> {
    if !enabled {
        return Vec::new();
    }
    let mut found: Vec<Arc<K>> = lister
        .namespaced(namespace)
        .list(&Default::default())
        .into_iter()
        .filter(|o| copy::selected(o.as_ref(), selector))
        .collect();
    found.sort_by_key(|o| o.name_any());
    found
}

/// Runs the writes of one kind, a few at a time, and folds their outcomes into `changes`,
/// `problems` and `failures`; returns how many of them leave a copy in place.
async fn execute<K: Distributable>(
    client: &Client,
    writes: Vec<Write<K>>,
    changes: &mut Changes,
    problems: &mut Vec<Problem>,
    failures: &mut Vec<kube::Error>,
) -> i32 {
    let mut in_place = 0;
    let mut outcomes =
        futures::stream::iter(writes.into_iter().map(|w| perform(client.clone(), w)))
            .buffer_unordered(WRITE_CONCURRENCY);
    while let Some(written) = outcomes.next().await {
        match written.result {
            Ok(()) => match written.kind {
                WriteKind::Create => {
                    changes.created += 1;
                    in_place += 1;
                }
                WriteKind::Update => {
                    changes.updated += 1;
                    in_place += 1;
                }
                WriteKind::Delete => changes.deleted += 1,
            },
            Err(error) => {
                problems.push(Problem {
                    namespace: written.namespace,
                    object: Some(written.object),
                    reason: "WriteFailed".into(),
                    message: error.to_string(),
                });
                failures.push(error);
            }
        }
    }
    in_place
}

/// A deletion of every copy of one kind that rule `rule_key` manages and `unwanted` (given its
/// namespace and name) says it no longer wants.
fn copies_to_delete<K: Distributable>(
    lister: &Lister<K>,
    rule_key: &str,
    unwanted: impl Fn(&str, &str) -> bool,
) -> Vec<Write<K>> {
    lister
        .by_index(COPIES_BY_RULE, rule_key)
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            let meta = o.meta();
            unwanted(
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
            )
        })
        .map(|o| Write::Delete {
            namespace: o.namespace().unwrap_or_default(),
            name: o.name_any(),
            uid: o.meta().uid.clone(),
        })
        .collect()
}

/// Deletes every copy rule `rule_key` (`namespace/name`) manages; returns how many it deleted.
/// Run when the rule is being deleted (under its finalizer) or found gone.
pub async fn cleanup(ctx: &CodisContext, rule_key: &str) -> Result<usize, CodisError> {
    let mut changes = Changes::default();
    let mut problems = Vec::new();
    let mut failures = Vec::new();
    let config_maps = copies_to_delete(&ctx.config_maps, rule_key, |_, _| true);
    let secrets = copies_to_delete(&ctx.secrets, rule_key, |_, _| true);
    execute(
        &ctx.client,
        config_maps,
        &mut changes,
        &mut problems,
        &mut failures,
    )
    .await;
    execute(
        &ctx.client,
        secrets,
        &mut changes,
        &mut problems,
        &mut failures,
    )
    .await;
    if let Some(first) = failures.pop() {
        return Err(CodisError::Writes {
            failed: failures.len() + 1,
            first,
        });
    }
    Ok(changes.deleted)
}

/// Brings the copies of a live rule in line with it, and its status with what it found.
/// (The finalizer is the caller's: see [`reconcile`].)
pub async fn apply(
    ctx: &CodisContext,
    rule: &ConfigurationDistributionRule,
) -> Result<Changes, CodisError> {
    let namespace = rule.namespace().unwrap_or_default();
    let namespace = namespace.as_str();
    let name = rule.name_any();
    let rule_key = format!("{namespace}/{name}");
    let mut changes = Changes::default();
    let api: Api<ConfigurationDistributionRule> = Api::namespaced(ctx.client.clone(), namespace);
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    let mut seen = HashSet::new();
    for target in &rule.spec.namespaces {
        if !seen.insert(target.as_str()) {
            continue;
        }
        if target == namespace {
            problems.push(Problem {
                namespace: target.clone(),
                object: None,
                reason: "SameNamespace".into(),
                message: "the rule's own namespace holds the sources; nothing is copied into it"
                    .into(),
            });
            continue;
        }
        match ctx.namespaces.get("", target) {
            None => problems.push(Problem {
                namespace: target.clone(),
                object: None,
                reason: "NamespaceNotFound".into(),
                message: format!(
                    "namespace \"{target}\" does not exist; copies follow when it is created"
                ),
            }),
            Some(ns) if ns.meta().deletion_timestamp.is_some() => problems.push(Problem {
                namespace: target.clone(),
                object: None,
                reason: "NamespaceTerminating".into(),
                message: format!("namespace \"{target}\" is being deleted"),
            }),
            Some(_) => targets.push(target.clone()),
        }
    }

    let selector = rule.spec.selector.as_str();
    let config_maps = plan(
        &rule_key,
        &ctx.config_maps,
        &sources(
            &ctx.config_maps,
            namespace,
            selector,
            rule.spec.mode.config_maps(),
        ),
        &targets,
    );
    let secrets = plan(
        &rule_key,
        &ctx.secrets,
        &sources(&ctx.secrets, namespace, selector, rule.spec.mode.secrets()),
        &targets,
    );
    let mut distributed = config_maps.in_place + secrets.in_place;
    problems.extend(config_maps.problems);
    problems.extend(secrets.problems);
    let mut failures = Vec::new();
    distributed += execute(
        &ctx.client,
        config_maps.writes,
        &mut changes,
        &mut problems,
        &mut failures,
    )
    .await;
    distributed += execute(
        &ctx.client,
        secrets.writes,
        &mut changes,
        &mut problems,
        &mut failures,
    )
    .await;

    let previous = rule.status.as_ref();
    let new_status = status::compute(previous, rule.meta().generation, distributed, problems);
    for problem in status::new_problems(previous, &new_status.problems) {
        ctx.events
            .warning(rule, &problem.reason, &problem.message)
            .await;
    }
    if changes.created + changes.updated + changes.deleted > 0 {
        let message = format!(
            "created {}, updated {}, deleted {} copies",
            changes.created, changes.updated, changes.deleted
        );
        ctx.events.normal(rule, "Distributed", &message).await;
    }
    if previous != Some(&new_status) {
        // A merge patch leaves out what it does not mention: clear solved problems explicitly.
        let mut body = serde_json::to_value(&new_status).unwrap_or_default();
        if new_status.problems.is_empty() {
            body["problems"] = serde_json::Value::Null;
        }
        let patch = serde_json::json!({"status": body});
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => changes.status_written = true,
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(first) = failures.pop() {
        return Err(CodisError::Writes {
            failed: failures.len() + 1,
            first,
        });
    }
    Ok(changes)
}

/// The controller's reconcile: a rule gone or being deleted has its copies cleaned up; a live
/// rule gets the finalizer, then [`apply`].
pub async fn reconcile(ctx: Arc<CodisContext>, request: Request) -> Result<Action, ReconcileError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let Some(rule) = ctx.rules.get(&namespace, &request.name) else {
        cleanup(&ctx, &request.to_string()).await?;
        return Ok(Action::await_change());
    };
    let api: Api<ConfigurationDistributionRule> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, rule, |event| async {
        match event {
            FinalizerEvent::Apply(rule) => {
                apply(&ctx, &rule).await?;
            }
            FinalizerEvent::Cleanup(rule) => {
                cleanup(&ctx, &copy::key_of(rule.as_ref())).await?;
            }
        }
        Ok(Action::await_change())
    })
    .await
}
