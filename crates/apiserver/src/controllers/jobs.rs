//! Simulated Jobs (kwok-style, on with the simulated workloads): the job controller, the
//! ttl-after-finished controller, and the part of the simulated kubelet that ends a Job's pods.
//!
//! - **Job controller** (upstream's `pkg/controller/job`): a Job gets pods from its template
//!   (`<job>-` names; `<job>-<index>-` with the completion index annotation and label for Indexed
//!   Jobs), bound to the simulated node, at most `parallelism` active and no more than the
//!   completions still needed. Failed pods count towards `backoffLimit` (for `restartPolicy:
//!   OnFailure`, container restarts do) unless a `podFailurePolicy` rule says `Ignore`; a
//!   `FailJob` rule, the backoff limit or `activeDeadlineSeconds` make the Job fail:
//!   `FailureTarget`, active pods deleted, then `Failed` once none is left. Enough succeeded
//!   pods (every index, for Indexed Jobs) make it succeed: `SuccessCriteriaMet`, then `Complete`
//!   with `completionTime`. `suspend` deletes the active pods (`Suspended` condition) and a
//!   resume starts over. Status: `active`, `ready`, `succeeded`, `failed`, `terminating`,
//!   `startTime`, `completionTime`, `completedIndexes`, `uncountedTerminatedPods`, conditions
//!   with upstream's reasons and messages; Events `SuccessfulCreate`, `SuccessfulDelete`,
//!   `Completed`.
//! - **TTL after finished**: a finished Job with `ttlSecondsAfterFinished` is deleted (foreground)
//!   that long after it finished.
//! - **Pod completion** (kwok's `pod-complete` stage, for pods a Job controls): a Running pod's
//!   containers exit after [`POD_DURATION`] (annotation [`SIMULATE_DURATION`] on the pod
//!   template, e.g. `"250ms"`, `"1h"`), with exit code 0 or the one annotation
//!   [`SIMULATE_EXIT_CODE`] names; the pod becomes `Succeeded` or `Failed` (`OnFailure`:
//!   the container restarts, its `restartCount` grows, and it runs again).
//!
//! Not simulated: the backoff delay between retries (a failed pod is replaced at once),
//! `backoffLimitPerIndex`/`maxFailedIndexes`, `successPolicy`, the `job-tracking` pod finalizer.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::owned::{Key, OwnedIndex, controller_uid};
use super::{deleting, key_of, str_at as s, write_options};
use crate::registry::batch::jobs::{conditions_hold, has_condition};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a Job's pod runs, by default, before its containers exit.
pub const POD_DURATION: Duration = Duration::from_secs(1);
/// Pod (template) annotation: the exit code the simulated containers exit with (default 0).
pub const SIMULATE_EXIT_CODE: &str = "kubeforge.dev/simulate-exit-code";
/// Pod (template) annotation: how long the simulated containers run (`"2s"`, `"500ms"`).
pub const SIMULATE_DURATION: &str = "kubeforge.dev/simulate-duration";
/// The annotation (and label) with an Indexed Job pod's completion index.
const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
const MANAGER: &str = "kubeforge-job-controller";

struct Types {
    jobs: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    events: EventRecorder,
}

fn opts() -> WriteOptions {
    write_options(MANAGER)
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

fn timestamp(v: &Value, p: &str) -> Option<jiff::Timestamp> {
    s(v, p).parse().ok()
}

/// What the loop is told besides store events: a Job to look at again (a deadline or a TTL),
/// or a pod whose simulated containers exit now.
enum Wake {
    Job(Key),
    PodExit(Key, String),
}

/// Runs the Job controllers until the store closes.
pub async fn run(rest: Rest) {
    let r = rest.catalog.snapshot();
    let (Some(jobs), Some(pods)) = (r.find("batch", "v1", "jobs"), r.find("", "v1", "pods")) else {
        return;
    };
    drop(r);
    let t = Types {
        jobs,
        pods,
        events: EventRecorder::new("job-controller"),
    };
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel::<Wake>();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let ctx = Ctx {
        rest: &rest,
        t: &t,
        wake: &wake_tx,
        running: &running,
    };
    let mut index = OwnedIndex::default();
    let mut changes = Changes::all(&rest);
    loop {
        let mut dirty_jobs = BTreeSet::new();
        let mut dirty_pods = BTreeSet::new();
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => {
                    index = OwnedIndex::default();
                    if let Ok(list) = rest.list(&t.jobs, None, &ListOptions::default()).await {
                        dirty_jobs.extend(list.items.iter().map(|o| key_of(&o.value())));
                    }
                    if let Ok(list) = rest.list(&t.pods, None, &ListOptions::default()).await {
                        for o in list.items {
                            let v = o.value();
                            if job_owner(&v).is_some() {
                                index.set(key_of(&v), controller_uid(&v));
                                dirty_pods.insert(key_of(&v));
                            }
                        }
                    }
                }
                Some(Change::Events(events)) => {
                    for e in events {
                        let key = (e.key.namespace.clone(), e.key.name.clone());
                        if e.key.resource == t.jobs.storage_key {
                            dirty_jobs.insert(key);
                        } else if e.key.resource == t.pods.storage_key {
                            let v = e.object.value();
                            let Some(owner) = job_owner(&v) else { continue };
                            index.update(&key, matches!(e.event_type, EventType::Deleted), &v);
                            dirty_jobs.insert((key.0.clone(), owner));
                            dirty_pods.insert(key);
                        }
                    }
                }
            },
            Some(wake) = wake_rx.recv() => match wake {
                Wake::Job(key) => { dirty_jobs.insert(key); }
                Wake::PodExit(key, uid) => {
                    running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&uid);
                    if let Err(e) = ctx.exit_containers(&key, &uid).await {
                        tracing::debug!(pod = ?key, error = %e, "simulating a pod's exit");
                    }
                }
            },
        }
        ctx.reconcile(&index, dirty_jobs, dirty_pods).await;
    }
}

/// The name of the Job controlling pod `v`, if one does.
fn job_owner(v: &Value) -> Option<String> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind").and_then(Value::as_str) == Some("Job")
                && r.get("apiVersion").and_then(Value::as_str) == Some("batch/v1")
        })
        .and_then(|r| r.get("name")?.as_str())
        .map(str::to_string)
}

type Step = Result<(), crate::status::ApiError>;

struct Ctx<'a> {
    rest: &'a Rest,
    t: &'a Types,
    wake: &'a mpsc::UnboundedSender<Wake>,
    /// Pods (by uid) whose simulated containers are running towards their exit.
    running: &'a Arc<Mutex<HashSet<String>>>,
}

/// A condition as the job controller writes it.
fn condition(type_: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": type_, "status": if status { "True" } else { "False" }, "lastProbeTime": now,
        "lastTransitionTime": now, "reason": reason, "message": message})
}

/// Sets `cond` in `conditions` unless one of its type already has its status (then it is kept,
/// with its transition time).
fn set_condition(conditions: &mut Vec<Value>, cond: Value) {
    match conditions
        .iter_mut()
        .find(|c| c.get("type") == cond.get("type"))
    {
        Some(c) if c.get("status") == cond.get("status") => {}
        Some(c) => *c = cond,
        None => conditions.push(cond),
    }
}

/// Upstream's compressed index list (`0-2,5`).
fn index_ranges(indexes: &BTreeSet<i64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = indexes.iter().peekable();
    while let Some(&start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// The completion index of an Indexed Job's pod.
fn pod_index(p: &Value) -> Option<i64> {
    p.pointer("/metadata/annotations")
        .and_then(|a| a.get(COMPLETION_INDEX))
        .and_then(Value::as_str)
        .and_then(|i| i.parse().ok())
}

fn ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| conditions_hold(cs, "Ready"))
}

/// What a `podFailurePolicy` rule does with a failed pod: the first matching rule's action and
/// its message for `FailJob`.
fn failure_action(job: &Value, pod: &Value) -> Option<(String, String)> {
    let rules = job.pointer("/spec/podFailurePolicy/rules")?.as_array()?;
    let pod_name = format!(
        "{}/{}",
        s(pod, "/metadata/namespace"),
        s(pod, "/metadata/name")
    );
    for (i, rule) in rules.iter().enumerate() {
        let action = s(rule, "/action").to_string();
        if let Some(exit) = rule.get("onExitCodes").filter(|e| !e.is_null()) {
            let values: Vec<i64> = exit
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .collect();
            let only = s(exit, "/containerName");
            let statuses = pod
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            for c in statuses.into_iter().flatten() {
                let Some(code) = int(c, "/state/terminated/exitCode") else {
                    continue;
                };
                if code == 0 || (!only.is_empty() && s(c, "/name") != only) {
                    continue;
                }
                let matched = match s(exit, "/operator") {
                    "In" => values.contains(&code),
                    "NotIn" => !values.contains(&code),
                    _ => false,
                };
                if matched {
                    let message = format!(
                        "Container {} for pod {pod_name} failed with exit code {code} matching {action} rule at index {i}",
                        s(c, "/name")
                    );
                    return Some((action, message));
                }
            }
        }
        for pattern in rule
            .get("onPodConditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let status = match s(pattern, "/status") {
                "" => "True",
                other => other,
            };
            let has = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| s(c, "/type") == s(pattern, "/type") && s(c, "/status") == status)
                });
            if has {
                let message = format!(
                    "Pod {pod_name} has condition {} matching {action} rule at index {i}",
                    s(pattern, "/type")
                );
                return Some((action, message));
            }
        }
    }
    None
}

/// The simulated run time of pod `p`.
fn pod_duration(p: &Value) -> Duration {
    p.pointer("/metadata/annotations")
        .and_then(|a| a.get(SIMULATE_DURATION))
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<jiff::SignedDuration>().ok())
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or(POD_DURATION)
}

/// The simulated exit code of pod `p`.
fn pod_exit_code(p: &Value) -> i64 {
    p.pointer("/metadata/annotations")
        .and_then(|a| a.get(SIMULATE_EXIT_CODE))
        .and_then(Value::as_str)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0)
}

impl Ctx<'_> {
    async fn reconcile(&self, index: &OwnedIndex, jobs: BTreeSet<Key>, pods: BTreeSet<Key>) {
        for key in pods {
            self.pod(&key);
        }
        for (ns, name) in jobs {
            if let Err(e) = self.job(index, &ns, &name).await {
                tracing::debug!(namespace = ns, job = name, error = %e, "simulating job");
            }
        }
    }

    /// The kubelet's part: a Running pod of a Job gets its exit scheduled, once.
    fn pod(&self, key: &Key) {
        let Ok(p) = self.rest.get_value(&self.t.pods, Some(&key.0), &key.1) else {
            return;
        };
        if deleting(&p)
            || s(&p, "/status/phase") != "Running"
            || !super::nodes::simulated(self.rest, s(&p, "/spec/nodeName"))
        {
            return;
        }
        let uid = s(&p, "/metadata/uid").to_string();
        if !self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.clone())
        {
            return;
        }
        let (wake, key, after) = (self.wake.clone(), key.clone(), pod_duration(&p));
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = wake.send(Wake::PodExit(key, uid));
        });
    }

    /// The containers of pod `key` (still `uid`) exit with the simulated code.
    async fn exit_containers(&self, key: &Key, uid: &str) -> Step {
        let Ok(p) = self.rest.get_value(&self.t.pods, Some(&key.0), &key.1) else {
            return Ok(());
        };
        if s(&p, "/metadata/uid") != uid || deleting(&p) || s(&p, "/status/phase") != "Running" {
            return Ok(());
        }
        let code = pod_exit_code(&p);
        let now = crate::rest::now();
        let restarts = code != 0 && s(&p, "/spec/restartPolicy") == "OnFailure";
        let mut body = p.clone();
        let statuses: Vec<Value> = p
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut c| {
                let started = c
                    .pointer("/state/running/startedAt")
                    .cloned()
                    .unwrap_or(json!(now));
                let terminated = json!({"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                    "startedAt": started, "finishedAt": now, "containerID": c.get("containerID")});
                if restarts {
                    c["lastState"] = json!({"terminated": terminated});
                    c["restartCount"] = json!(int(&c, "/restartCount").unwrap_or(0) + 1);
                    c["state"] = json!({"running": {"startedAt": now}});
                } else {
                    c["ready"] = json!(false);
                    c["started"] = json!(false);
                    c["state"] = json!({"terminated": terminated});
                }
                c
            })
            .collect();
        body["status"]["containerStatuses"] = json!(statuses);
        if !restarts {
            body["status"]["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
            if let Some(conditions) = body
                .pointer_mut("/status/conditions")
                .and_then(Value::as_array_mut)
            {
                for c in conditions {
                    if matches!(s(c, "/type"), "Ready" | "ContainersReady") {
                        c["status"] = json!("False");
                        c["reason"] = json!("PodCompleted");
                        c["lastTransitionTime"] = json!(now);
                    }
                }
            }
        }
        self.rest
            .update(
                &self.t.pods,
                Some(&key.0),
                &key.1,
                body,
                &opts(),
                Some("status"),
            )
            .await?;
        if restarts {
            // Runs again: schedule the next exit.
            self.pod(key);
        }
        Ok(())
    }

    fn wake_job_after(&self, key: Key, after: Duration) {
        let wake = self.wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = wake.send(Wake::Job(key));
        });
    }

    async fn delete_pod(&self, job: &Value, p: &Value) -> Step {
        let (ns, name) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"));
        let del = DeleteOptions {
            uid: Some(s(p, "/metadata/uid").to_string()),
            ..DeleteOptions::default()
        };
        match self.rest.delete(&self.t.pods, Some(ns), name, &del).await {
            Ok(_) => {
                self.t.events.normal(
                    self.rest,
                    job,
                    ("batch/v1", "Job"),
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                );
                Ok(())
            }
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn job(&self, index: &OwnedIndex, ns: &str, name: &str) -> Step {
        let t = self.t;
        let Ok(job) = self.rest.get_value(&t.jobs, Some(ns), name) else {
            return Ok(());
        };
        if deleting(&job) {
            return Ok(());
        }
        let key: Key = (ns.to_string(), name.to_string());
        let now_ts = jiff::Timestamp::now();
        let now = crate::rest::now();
        if has_condition(&job, "Complete") || has_condition(&job, "Failed") {
            return self.expire(&job, key, now_ts).await;
        }
        let uid = s(&job, "/metadata/uid").to_string();
        let pods: Vec<Value> = index
            .owned_by(&uid)
            .into_iter()
            .filter_map(|(pns, pname)| self.rest.get_value(&t.pods, Some(&pns), &pname).ok())
            .filter(|p| controller_uid(p).as_deref() == Some(uid.as_str()))
            .collect();
        let phase = |p: &Value| s(p, "/status/phase").to_string();
        let terminal = |p: &Value| matches!(phase(p).as_str(), "Succeeded" | "Failed");
        let active: Vec<&Value> = pods
            .iter()
            .filter(|p| !terminal(p) && !deleting(p))
            .collect();
        let terminating = pods.iter().filter(|p| !terminal(p) && deleting(p)).count() as i64;
        let succeeded_pods: Vec<&Value> = pods.iter().filter(|p| phase(p) == "Succeeded").collect();
        let mut fail_job: Option<(&str, String)> = None;
        let mut failed = 0i64;
        for p in pods.iter().filter(|p| phase(p) == "Failed") {
            match failure_action(&job, p) {
                Some((action, _)) if action == "Ignore" => {}
                Some((action, message)) if action == "FailJob" => {
                    failed += 1;
                    fail_job.get_or_insert(("PodFailurePolicy", message));
                }
                _ => failed += 1,
            }
        }
        // With `OnFailure`, the kubelet restarts containers in place; the restarts count.
        let restarts: i64 = pods
            .iter()
            .filter(|p| s(p, "/spec/restartPolicy") == "OnFailure")
            .flat_map(|p| {
                p.pointer("/status/containerStatuses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|c| int(&c, "/restartCount").unwrap_or(0))
            .sum();
        let spec = job.get("spec").cloned().unwrap_or(json!({}));
        let indexed = s(&spec, "/completionMode") == "Indexed";
        let completions = int(&spec, "/completions");
        let parallelism = int(&spec, "/parallelism").unwrap_or(1).max(0);
        let backoff_limit = int(&spec, "/backoffLimit").unwrap_or(6);
        let suspended = spec.get("suspend").and_then(Value::as_bool) == Some(true);
        let succeeded_indexes: BTreeSet<i64> = succeeded_pods
            .iter()
            .filter_map(|p| pod_index(p))
            .filter(|i| completions.is_none_or(|c| *i < c))
            .collect();
        let succeeded = if indexed {
            succeeded_indexes.len() as i64
        } else {
            succeeded_pods.len() as i64
        };

        let mut status = job.get("status").cloned().unwrap_or(json!({}));
        let mut conditions: Vec<Value> = status
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if fail_job.is_none() && failed + restarts > backoff_limit {
            fail_job = Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".to_string(),
            ));
        }
        if fail_job.is_none()
            && let (Some(deadline), Some(start)) = (
                int(&spec, "/activeDeadlineSeconds"),
                timestamp(&status, "/startTime"),
            )
            && !suspended
        {
            let left = start.as_second() + deadline - now_ts.as_second();
            if left <= 0 {
                fail_job = Some((
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline".to_string(),
                ));
            } else {
                self.wake_job_after(key.clone(), Duration::from_secs(left.unsigned_abs()));
            }
        }
        if let Some((reason, message)) = &fail_job
            && !has_condition(&job, "FailureTarget")
        {
            set_condition(
                &mut conditions,
                condition("FailureTarget", true, reason, message, &now),
            );
        }
        let success = match completions {
            _ if fail_job.is_some() || has_condition(&job, "FailureTarget") => false,
            Some(c) if indexed => (0..c).all(|i| succeeded_indexes.contains(&i)),
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        };
        if success {
            set_condition(
                &mut conditions,
                condition(
                    "SuccessCriteriaMet",
                    true,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &now,
                ),
            );
        }
        let finishing = conditions_hold(&conditions, "FailureTarget") || success;
        let mut active_count = active.len() as i64;
        if finishing || suspended {
            for p in &active {
                self.delete_pod(&job, p).await?;
            }
            active_count = 0;
        } else {
            // Pods to create: up to parallelism, no more than the completions still needed.
            let replace_terminating = s(&spec, "/podReplacementPolicy") != "Failed";
            let busy = active.len() as i64 + if replace_terminating { 0 } else { terminating };
            let wanted = match completions {
                Some(c) if !indexed => (c - succeeded).min(parallelism),
                Some(c) => {
                    let open = (0..c)
                        .filter(|i| !succeeded_indexes.contains(i))
                        .filter(|i| !active.iter().any(|p| pod_index(p) == Some(*i)))
                        .count() as i64;
                    (open + active.len() as i64).min(parallelism)
                }
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            let mut free_indexes = completions
                .filter(|_| indexed)
                .map(|c| {
                    (0..c)
                        .filter(|i| !succeeded_indexes.contains(i))
                        .filter(|i| !active.iter().any(|p| pod_index(p) == Some(*i)))
                        .collect::<Vec<i64>>()
                })
                .unwrap_or_default()
                .into_iter();
            for _ in busy..wanted {
                let index = if indexed {
                    match free_indexes.next() {
                        Some(i) => Some(i),
                        None => break,
                    }
                } else {
                    None
                };
                self.create_pod(&job, index).await?;
                active_count += 1;
            }
        }
        let remaining = active_count + terminating;
        if suspended {
            set_condition(
                &mut conditions,
                condition("Suspended", true, "JobSuspended", "Job suspended", &now),
            );
        } else if conditions
            .iter()
            .any(|c| s(c, "/type") == "Suspended" && s(c, "/status") == "True")
        {
            set_condition(
                &mut conditions,
                condition("Suspended", false, "JobResumed", "Job resumed", &now),
            );
            status["startTime"] = json!(now);
        }
        let target = conditions
            .iter()
            .find(|c| s(c, "/type") == "FailureTarget" && s(c, "/status") == "True")
            .map(|c| (s(c, "/reason").to_string(), s(c, "/message").to_string()));
        let mut failed_now = None;
        if let Some((reason, message)) = &target
            && remaining == 0
            && !conditions_hold(&conditions, "Failed")
        {
            set_condition(
                &mut conditions,
                condition("Failed", true, reason, message, &now),
            );
            failed_now = target.clone();
        }
        let complete = target.is_none()
            && (success || conditions_hold(&conditions, "SuccessCriteriaMet"))
            && remaining == 0
            && !conditions_hold(&conditions, "Complete");
        if complete {
            set_condition(
                &mut conditions,
                condition(
                    "Complete",
                    true,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &now,
                ),
            );
            status["completionTime"] = json!(now);
        }
        if !suspended && status.get("startTime").is_none_or(Value::is_null) {
            status["startTime"] = json!(now);
        }
        let ready_count = active.iter().filter(|p| ready(p)).count() as i64;
        let map = status.as_object_mut().expect("status is an object");
        for (field, value) in [
            ("active", active_count),
            ("succeeded", succeeded),
            ("failed", failed),
        ] {
            if value == 0 {
                map.remove(field);
            } else {
                map.insert(field.into(), json!(value));
            }
        }
        map.insert(
            "ready".into(),
            json!(if finishing || suspended {
                0
            } else {
                ready_count
            }),
        );
        map.insert("terminating".into(), json!(terminating));
        map.insert("uncountedTerminatedPods".into(), json!({}));
        if indexed {
            if succeeded_indexes.is_empty() {
                map.remove("completedIndexes");
            } else {
                map.insert(
                    "completedIndexes".into(),
                    json!(index_ranges(&succeeded_indexes)),
                );
            }
        }
        if conditions.is_empty() {
            map.remove("conditions");
        } else {
            map.insert("conditions".into(), json!(conditions));
        }
        map.retain(|_, v| !v.is_null());
        if job.get("status") != Some(&status) {
            let mut body = job.clone();
            body["status"] = status.clone();
            let updated = self
                .rest
                .update(&t.jobs, Some(ns), name, body, &opts(), Some("status"))
                .await?;
            if let Some((reason, message)) = failed_now {
                let kind = ("batch/v1", "Job");
                let events = &self.t.events;
                events.warning(self.rest, &updated.object, kind, &reason, message);
            }
            if complete {
                self.t.events.normal(
                    self.rest,
                    &updated.object,
                    ("batch/v1", "Job"),
                    "Completed",
                    "Job completed".into(),
                );
            }
        }
        Ok(())
    }

    async fn create_pod(&self, job: &Value, index: Option<i64>) -> Step {
        let name = s(job, "/metadata/name");
        let ns = s(job, "/metadata/namespace");
        let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
        let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
        meta["namespace"] = json!(ns);
        meta["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name,
            "uid": s(job, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true}]);
        match index {
            Some(i) => {
                meta["generateName"] = json!(format!("{name}-{i}-"));
                meta["annotations"][COMPLETION_INDEX] = json!(i.to_string());
                meta["labels"][COMPLETION_INDEX] = json!(i.to_string());
                if spec.get("hostname").is_none_or(Value::is_null) {
                    spec["hostname"] = json!(format!("{name}-{i}"));
                }
            }
            None => meta["generateName"] = json!(format!("{name}-")),
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
        let created = self
            .rest
            .create(&self.t.pods, Some(ns), pod, &opts())
            .await?;
        self.t.events.normal(
            self.rest,
            job,
            ("batch/v1", "Job"),
            "SuccessfulCreate",
            format!("Created pod: {}", s(&created.object, "/metadata/name")),
        );
        Ok(())
    }

    /// The ttl-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is
    /// deleted (foreground, as upstream's) once that long has passed since it finished.
    async fn expire(&self, job: &Value, key: Key, now: jiff::Timestamp) -> Step {
        let Some(ttl) = int(job, "/spec/ttlSecondsAfterFinished") else {
            return Ok(());
        };
        let finished = timestamp(job, "/status/completionTime").or_else(|| {
            job.pointer("/status/conditions")
                .and_then(Value::as_array)?
                .iter()
                .find(|c| s(c, "/type") == "Failed" && s(c, "/status") == "True")
                .and_then(|c| timestamp(c, "/lastTransitionTime"))
        });
        let Some(finished) = finished else {
            return Ok(());
        };
        let left = finished.as_second() + ttl - now.as_second();
        if left > 0 {
            self.wake_job_after(key, Duration::from_secs(left.unsigned_abs()));
            return Ok(());
        }
        let del = DeleteOptions {
            uid: Some(s(job, "/metadata/uid").to_string()),
            propagation_policy: Some("Foreground".into()),
            ..DeleteOptions::default()
        };
        match self
            .rest
            .delete(&self.t.jobs, Some(&key.0), &key.1, &del)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_compress_as_upstream() {
        let set: BTreeSet<i64> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(index_ranges(&set), "0-2,4,6-7");
        assert_eq!(index_ranges(&BTreeSet::new()), "");
    }

    #[test]
    fn annotations_set_the_simulated_run() {
        let p = json!({"metadata": {"annotations": {SIMULATE_DURATION: "250ms", SIMULATE_EXIT_CODE: "3"}}});
        assert_eq!(pod_duration(&p), Duration::from_millis(250));
        assert_eq!(pod_exit_code(&p), 3);
        let plain = json!({"metadata": {}});
        assert_eq!(
            (pod_duration(&plain), pod_exit_code(&plain)),
            (POD_DURATION, 0)
        );
    }

    #[test]
    fn failure_policy_rules_match_exit_codes_and_conditions() {
        let job = json!({"spec": {"podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        ]}}});
        let pod = |code: i64| {
            json!({"metadata": {"namespace": "ns", "name": "p"}, "status": {
            "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": code}}}]}})
        };
        assert_eq!(
            failure_action(&job, &pod(42)),
            Some((
                "FailJob".into(),
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into()
            ))
        );
        assert_eq!(failure_action(&job, &pod(1)), None);
        let mut disrupted = pod(1);
        disrupted["status"]["conditions"] = json!([{"type": "DisruptionTarget", "status": "True"}]);
        assert_eq!(
            failure_action(&job, &disrupted).map(|a| a.0),
            Some("Ignore".into())
        );
    }
}
