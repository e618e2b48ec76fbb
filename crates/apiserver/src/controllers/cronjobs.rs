//! The simulated cronjob controller (upstream's `pkg/controller/cronjob`, on with the
//! simulated workloads): CronJobs create Jobs on schedule.
//!
//! - Every [`TICK`] (and on every change of a CronJob or its Jobs) each CronJob is looked at:
//!   the most recent schedule time since its `lastScheduleTime` (or creation), no older than
//!   `startingDeadlineSeconds`, in its `timeZone` (the server's zone when unset), gets a Job
//!   `<cronjob>-<minutes since the epoch>` from the `jobTemplate` (its labels and annotations,
//!   `batch.kubernetes.io/cronjob-scheduled-timestamp`, a controlling ownerReference), unless
//!   the CronJob is suspended. `concurrencyPolicy`: `Allow` runs Jobs side by side, `Forbid`
//!   skips the time while one is active, `Replace` deletes the active ones first.
//! - Status: `active` (references to the unfinished Jobs), `lastScheduleTime`,
//!   `lastSuccessfulTime`; finished Jobs beyond `successfulJobsHistoryLimit` /
//!   `failedJobsHistoryLimit` are deleted, oldest first. Events `SuccessfulCreate`,
//!   `SawCompletedJob`, `SuccessfulDelete`.
//! - Time is read from a [`Clock`], which tests (and demos) can move forward instead of waiting
//!   for the next minute.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::owned::{Key, OwnedIndex, controller_uid};
use super::{key_of, str_at as s, write_options};
use crate::registry::batch::jobs::has_condition;
use crate::registry::batch::schedule::{Schedule, time_zone};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, Rest, WriteOptions};
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How often every CronJob's schedule is checked.
pub const TICK: Duration = Duration::from_secs(1);
/// The annotation with the time a Job was scheduled for.
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
const MANAGER: &str = "kubeforge-cronjob-controller";
/// The most schedule times looked at in one pass (upstream gives up counting after 100 missed).
const MAX_MISSED: usize = 10_000;

/// The cronjob controller's clock: the system's, moved forward by what [`Clock::advance`] added.
/// Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Moves this clock (and its clones) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Now, by this clock.
    pub fn now(&self) -> jiff::Timestamp {
        let offset = jiff::SignedDuration::from_millis(self.offset_ms.load(Ordering::Relaxed));
        jiff::Timestamp::now()
            .checked_add(offset)
            .unwrap_or(jiff::Timestamp::MAX)
    }
}

struct Types {
    cronjobs: Arc<ResourceType>,
    jobs: Arc<ResourceType>,
    events: EventRecorder,
}

fn opts() -> WriteOptions {
    write_options(MANAGER)
}

/// A timestamp as Kubernetes writes it (RFC 3339, seconds, UTC).
fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Whether Job `j` finished, and how.
fn finished(j: &Value) -> Option<&'static str> {
    if has_condition(j, "Complete") {
        Some("Complete")
    } else if has_condition(j, "Failed") {
        Some("Failed")
    } else {
        None
    }
}

/// Runs the cronjob controller on `clock` until the store closes.
pub async fn run(rest: Rest, clock: Clock) {
    let r = rest.catalog.snapshot();
    let (Some(cronjobs), Some(jobs)) = (
        r.find("batch", "v1", "cronjobs"),
        r.find("batch", "v1", "jobs"),
    ) else {
        return;
    };
    drop(r);
    let t = Types {
        cronjobs,
        jobs,
        events: EventRecorder::new("cronjob-controller"),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut index = OwnedIndex::default();
    let mut known: BTreeSet<Key> = BTreeSet::new();
    let mut changes = Changes::all(&rest);
    loop {
        let mut dirty = BTreeSet::new();
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                // Relisted: the next tick looks at every CronJob.
                Some(Change::Resync { .. }) => {
                    index = OwnedIndex::default();
                    known.clear();
                    if let Ok(list) = rest.list(&t.cronjobs, None, &ListOptions::default()).await {
                        known.extend(list.items.iter().map(|o| key_of(&o.value())));
                    }
                    if let Ok(list) = rest.list(&t.jobs, None, &ListOptions::default()).await {
                        for o in list.items {
                            let v = o.value();
                            index.set(key_of(&v), controller_uid(&v));
                        }
                    }
                }
                Some(Change::Events(events)) => {
                    for e in events {
                        let key = (e.key.namespace.clone(), e.key.name.clone());
                        let gone = matches!(e.event_type, EventType::Deleted);
                        if e.key.resource == t.cronjobs.storage_key {
                            if gone {
                                known.remove(&key);
                            } else {
                                known.insert(key.clone());
                                dirty.insert(key);
                            }
                        } else if e.key.resource == t.jobs.storage_key {
                            let v = e.object.value();
                            index.update(&key, gone, &v);
                            if let Some(owner) = cron_job_owner(&v) {
                                dirty.insert((key.0, owner));
                            }
                        }
                    }
                }
            },
            _ = tick.tick() => dirty.extend(known.iter().cloned()),
        }
        for (ns, name) in dirty {
            if let Err(e) = cron_job(&rest, &t, &index, &clock, &ns, &name).await {
                tracing::debug!(namespace = ns, cronjob = name, error = %e, "simulating cronjob");
            }
        }
    }
}

/// The name of the CronJob controlling Job `v`, if one does.
fn cron_job_owner(v: &Value) -> Option<String> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind").and_then(Value::as_str) == Some("CronJob")
        })
        .and_then(|r| r.get("name")?.as_str())
        .map(str::to_string)
}

type Step = Result<(), crate::status::ApiError>;

/// The schedule time CronJob `cj` is due for at `now`: the latest one after its last schedule
/// (or its creation) and within its starting deadline.
fn due(cj: &Value, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let schedule = Schedule::parse(s(cj, "/spec/schedule")).ok()?;
    let zone = cj.pointer("/spec/timeZone").and_then(Value::as_str);
    let tz = time_zone(zone).ok()?;
    let mut earliest: jiff::Timestamp = match s(cj, "/status/lastScheduleTime") {
        "" => s(cj, "/metadata/creationTimestamp").parse().ok()?,
        last => last.parse().ok()?,
    };
    if let Some(deadline) = cj
        .pointer("/spec/startingDeadlineSeconds")
        .and_then(Value::as_i64)
    {
        let bound = now
            .checked_sub(jiff::SignedDuration::from_secs(deadline))
            .ok()?;
        earliest = earliest.max(bound);
    }
    let mut at = earliest.to_zoned(tz);
    let mut latest = None;
    for _ in 0..MAX_MISSED {
        match schedule.next_after(&at) {
            Some(next) if next.timestamp() <= now => {
                latest = Some(next.timestamp());
                at = next;
            }
            _ => break,
        }
    }
    latest
}

/// The scheduled-timestamp annotation: the time in the CronJob's zone, RFC 3339 as Go writes it.
fn scheduled_stamp(cj: &Value, at: jiff::Timestamp) -> String {
    let zone = cj.pointer("/spec/timeZone").and_then(Value::as_str);
    let zoned = at.to_zoned(time_zone(zone).unwrap_or(jiff::tz::TimeZone::UTC));
    if zoned.offset().seconds() == 0 {
        rfc3339(at)
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

async fn delete_job(rest: &Rest, t: &Types, cj: &Value, job: &Value) -> Step {
    let del = DeleteOptions {
        uid: Some(s(job, "/metadata/uid").to_string()),
        propagation_policy: Some("Background".into()),
        ..DeleteOptions::default()
    };
    let (ns, name) = key_of(job);
    match rest.delete(&t.jobs, Some(&ns), &name, &del).await {
        Ok(_) => {
            t.events.normal(
                rest,
                cj,
                ("batch/v1", "CronJob"),
                "SuccessfulDelete",
                format!("Deleted job {name}"),
            );
            Ok(())
        }
        Err(e) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

fn job_ref(job: &Value) -> Value {
    json!({"kind": "Job", "namespace": s(job, "/metadata/namespace"), "name": s(job, "/metadata/name"),
        "uid": s(job, "/metadata/uid"), "apiVersion": "batch/v1",
        "resourceVersion": s(job, "/metadata/resourceVersion")})
}

async fn cron_job(
    rest: &Rest,
    t: &Types,
    index: &OwnedIndex,
    clock: &Clock,
    ns: &str,
    name: &str,
) -> Step {
    let Ok(cj) = rest.get_value(&t.cronjobs, Some(ns), name) else {
        return Ok(());
    };
    if cj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Ok(());
    }
    let uid = s(&cj, "/metadata/uid").to_string();
    let mut jobs: Vec<Value> = index
        .owned_by(&uid)
        .into_iter()
        .filter_map(|(jns, jname)| rest.get_value(&t.jobs, Some(&jns), &jname).ok())
        .filter(|j| controller_uid(j).as_deref() == Some(uid.as_str()))
        .collect();
    jobs.sort_by(|a, b| {
        (s(a, "/metadata/creationTimestamp"), s(a, "/metadata/name"))
            .cmp(&(s(b, "/metadata/creationTimestamp"), s(b, "/metadata/name")))
    });
    let mut status = cj.get("status").cloned().unwrap_or(json!({}));
    let was_active: BTreeSet<String> = status
        .get("active")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| s(r, "/name").to_string())
        .collect();
    // Finished Jobs: seen once, then kept within the history limits.
    let mut last_success = status
        .get("lastSuccessfulTime")
        .and_then(Value::as_str)
        .map(str::to_string);
    for j in &jobs {
        let Some(how) = finished(j) else { continue };
        let jname = s(j, "/metadata/name");
        if was_active.contains(jname) {
            t.events.normal(
                rest,
                &cj,
                ("batch/v1", "CronJob"),
                "SawCompletedJob",
                format!("Saw completed job: {jname}, condition: {how}"),
            );
        }
        let done = s(j, "/status/completionTime");
        if how == "Complete" && !done.is_empty() && last_success.as_deref().is_none_or(|l| l < done)
        {
            last_success = Some(done.to_string());
        }
    }
    for (how, field, default) in [
        ("Complete", "/spec/successfulJobsHistoryLimit", 3),
        ("Failed", "/spec/failedJobsHistoryLimit", 1),
    ] {
        let limit = cj
            .pointer(field)
            .and_then(Value::as_i64)
            .unwrap_or(default)
            .max(0) as usize;
        let done: Vec<&Value> = jobs.iter().filter(|j| finished(j) == Some(how)).collect();
        for j in done.iter().take(done.len().saturating_sub(limit)) {
            delete_job(rest, t, &cj, j).await?;
        }
    }
    let mut active: Vec<&Value> = jobs
        .iter()
        .filter(|j| {
            finished(j).is_none()
                && j.pointer("/metadata/deletionTimestamp")
                    .is_none_or(Value::is_null)
        })
        .collect();
    let mut created: Option<Value> = None;
    let suspended = cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    if !suspended && let Some(at) = due(&cj, clock.now()) {
        let policy = s(&cj, "/spec/concurrencyPolicy");
        let job_name = format!("{name}-{}", at.as_second() / 60);
        let already = jobs.iter().any(|j| s(j, "/metadata/name") == job_name);
        if policy == "Forbid" && !active.is_empty() {
            // Skipped: the time is not recorded, the next one is tried when due.
        } else if !already {
            if policy == "Replace" {
                for j in &active {
                    delete_job(rest, t, &cj, j).await?;
                }
                active.clear();
            }
            let template = cj
                .pointer("/spec/jobTemplate")
                .cloned()
                .unwrap_or(json!({}));
            let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
            meta["name"] = json!(job_name);
            meta["namespace"] = json!(ns);
            meta["annotations"][SCHEDULED_TIMESTAMP] = json!(scheduled_stamp(&cj, at));
            meta["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob",
                "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
            let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": template.get("spec").cloned().unwrap_or(json!({}))});
            match rest.create(&t.jobs, Some(ns), job, &opts()).await {
                Ok(c) => {
                    t.events.normal(
                        rest,
                        &cj,
                        ("batch/v1", "CronJob"),
                        "SuccessfulCreate",
                        format!("Created job {job_name}"),
                    );
                    created = Some(c.object);
                }
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
            status["lastScheduleTime"] = json!(rfc3339(at));
        } else {
            status["lastScheduleTime"] = json!(rfc3339(at));
        }
    }
    let mut refs: Vec<Value> = active.iter().map(|j| job_ref(j)).collect();
    refs.extend(created.as_ref().map(job_ref));
    let map = status.as_object_mut().expect("status is an object");
    if refs.is_empty() {
        map.remove("active");
    } else {
        map.insert("active".into(), json!(refs));
    }
    if let Some(l) = last_success {
        map.insert("lastSuccessfulTime".into(), json!(l));
    }
    if cj.get("status") != Some(&status) {
        let mut body = cj.clone();
        body["status"] = status;
        rest.update(&t.cronjobs, Some(ns), name, body, &opts(), Some("status"))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn the_latest_missed_time_is_due() {
        let cj = json!({"metadata": {"creationTimestamp": "2024-01-01T10:00:30Z"},
            "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC"}});
        assert_eq!(due(&cj, ts("2024-01-01T10:04:59Z")), None);
        assert_eq!(
            due(&cj, ts("2024-01-01T10:17:00Z")),
            Some(ts("2024-01-01T10:15:00Z"))
        );
        let mut late = cj.clone();
        late["status"] = json!({"lastScheduleTime": "2024-01-01T10:15:00Z"});
        assert_eq!(due(&late, ts("2024-01-01T10:19:00Z")), None);
        // Past the starting deadline, nothing is due.
        late["spec"]["startingDeadlineSeconds"] = json!(30);
        assert_eq!(due(&late, ts("2024-01-01T10:21:00Z")), None);
        assert_eq!(
            due(&late, ts("2024-01-01T10:20:10Z")),
            Some(ts("2024-01-01T10:20:00Z"))
        );
    }

    #[test]
    fn scheduled_stamps_are_go_rfc3339_in_the_zone() {
        let at = ts("2024-07-01T07:00:00Z");
        let utc = json!({"spec": {"timeZone": "Etc/UTC"}});
        assert_eq!(scheduled_stamp(&utc, at), "2024-07-01T07:00:00Z");
        let berlin = json!({"spec": {"timeZone": "Europe/Berlin"}});
        assert_eq!(scheduled_stamp(&berlin, at), "2024-07-01T09:00:00+02:00");
    }

    #[test]
    fn the_clock_moves_forward_for_every_clone() {
        let clock = Clock::system();
        let view = clock.clone();
        let before = view.now();
        clock.advance(Duration::from_secs(120));
        assert!(view.now().as_second() - before.as_second() >= 120);
    }
}
