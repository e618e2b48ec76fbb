//! batch/v1 against the real server with the simulated controllers: Jobs run to completion
//! (one pod, parallel pods, Indexed), fail at their backoff limit or by a pod failure policy,
//! are deleted after their TTL; CronJobs fire on schedule (on a clock the test moves forward),
//! honour `concurrencyPolicy: Forbid` and their history limits; defaulting and validation as
//! a client sees them.

mod kube_support;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use kube_support::{api_err, eventually, namespace};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::controllers::cronjobs::Clock;
use serde_json::{Value, json};
use std::time::Duration;

async fn start(clock: Clock) -> ApiServer {
    kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .cron_clock(clock),
    )
    .await
    .start()
    .await
    .expect("server starts")
}

/// A Job whose pods run `duration` and exit with `exit_code`.
fn job(name: &str, spec: Value, duration: &str, exit_code: i32) -> Job {
    let mut spec = spec;
    spec["template"] = json!({
        "metadata": {"annotations": {
            "kubeforge.dev/simulate-duration": duration,
            "kubeforge.dev/simulate-exit-code": exit_code.to_string(),
        }},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
    });
    serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name}, "spec": spec}))
    .expect("a Job")
}

fn condition(job: &Job, type_: &str) -> Option<(String, String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
                c.type_.clone(),
            )
        })
}

async fn finished(api: &Api<Job>, name: &str, type_: &str) -> Job {
    eventually(&format!("job {name} {type_}"), || async {
        let j = api.get(name).await.ok()?;
        condition(&j, type_).map(|_| j)
    })
    .await
}

async fn pods_of(client: &Client, ns: &str, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    pods.list(&lp).await.expect("pods").items
}

#[tokio::test]
async fn a_job_runs_to_completion() {
    let server = start(Clock::system()).await;
    let client = server.client();
    namespace(&client, "one").await;
    let api: Api<Job> = Api::namespaced(client.clone(), "one");
    let created = api
        .create(&PostParams::default(), &job("pi", json!({}), "200ms", 0))
        .await
        .expect("create");
    // Defaulted as upstream: counts, policies and the generated selector and labels.
    let spec = created.spec.as_ref().expect("spec");
    let uid = created.metadata.uid.clone().expect("uid");
    assert_eq!(
        (spec.completions, spec.parallelism, spec.backoff_limit),
        (Some(1), Some(1), Some(6))
    );
    assert_eq!(spec.completion_mode.as_deref(), Some("NonIndexed"));
    assert_eq!(
        spec.pod_replacement_policy.as_deref(),
        Some("TerminatingOrFailed")
    );
    let selector = spec.selector.as_ref().and_then(|s| s.match_labels.clone());
    assert_eq!(
        selector.and_then(|m| m.get("batch.kubernetes.io/controller-uid").cloned()),
        Some(uid.clone())
    );
    let labels = created.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("job-name").map(String::as_str), Some("pi"));
    assert_eq!(labels.get("controller-uid"), Some(&uid));

    let done = finished(&api, "pi", "Complete").await;
    let status = done.status.clone().expect("status");
    assert_eq!(status.succeeded, Some(1));
    assert_eq!(status.active, None);
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(
        condition(&done, "SuccessCriteriaMet").map(|c| c.0),
        Some("CompletionsReached".into())
    );
    assert_eq!(
        condition(&done, "Complete").map(|c| (c.0, c.1)),
        Some((
            "CompletionsReached".into(),
            "Reached expected number of succeeded pods".into()
        ))
    );
    let pods = pods_of(&client, "one", "pi").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded")
    );
    assert!(
        pod.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("pi-"))
    );
    let owner = &pod.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Job", uid.as_str())
    );

    // The selector, template and completions stay.
    let patch = json!({"spec": {"completions": 3}});
    let err = api_err(
        api.patch("pi", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
        422,
        "Invalid",
    );
    assert!(
        err.message
            .contains("spec.completions: Invalid value: 3: field is immutable"),
        "{}",
        err.message
    );
    server.shutdown().await;
}

#[tokio::test]
async fn parallel_pods_reach_the_completions() {
    let server = start(Clock::system()).await;
    let client = server.client();
    namespace(&client, "par").await;
    let api: Api<Job> = Api::namespaced(client.clone(), "par");
    api.create(
        &PostParams::default(),
        &job(
            "work",
            json!({"completions": 5, "parallelism": 2}),
            "300ms",
            0,
        ),
    )
    .await
    .expect("create");
    // Never more than `parallelism` running at once.
    let most_active = std::sync::atomic::AtomicI32::new(0);
    let done = eventually("work to complete", || async {
        let j = api.get("work").await.ok()?;
        let active = j.status.as_ref()?.active.unwrap_or(0);
        most_active.fetch_max(active, std::sync::atomic::Ordering::Relaxed);
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let most_active = most_active.into_inner();
    assert_eq!(done.status.as_ref().and_then(|s| s.succeeded), Some(5));
    assert!(most_active <= 2, "at most 2 active, saw {most_active}");
    assert_eq!(pods_of(&client, "par", "work").await.len(), 5);

    // Indexed: one succeeded pod per index, the indexes reported compressed.
    api.create(
        &PostParams::default(),
        &job(
            "indexed",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            "100ms",
            0,
        ),
    )
    .await
    .expect("create");
    let done = finished(&api, "indexed", "Complete").await;
    let status = done.status.expect("status");
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    let mut indexes: Vec<String> = pods_of(&client, "par", "indexed")
        .await
        .iter()
        .filter_map(|p| {
            p.metadata
                .annotations
                .as_ref()?
                .get("batch.kubernetes.io/job-completion-index")
                .cloned()
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    server.shutdown().await;
}

#[tokio::test]
async fn failing_pods_exhaust_the_backoff_limit_or_hit_a_failure_policy() {
    let server = start(Clock::system()).await;
    let client = server.client();
    namespace(&client, "fail").await;
    let api: Api<Job> = Api::namespaced(client.clone(), "fail");
    api.create(
        &PostParams::default(),
        &job("flaky", json!({"backoffLimit": 2}), "100ms", 1),
    )
    .await
    .expect("create");
    let failed = finished(&api, "flaky", "Failed").await;
    assert_eq!(
        condition(&failed, "Failed").map(|c| (c.0, c.1)),
        Some((
            "BackoffLimitExceeded".into(),
            "Job has reached the specified backoff limit".into()
        ))
    );
    assert!(condition(&failed, "FailureTarget").is_some());
    // backoffLimit 2: the third failure fails the Job, no fourth pod is made.
    assert_eq!(failed.status.as_ref().and_then(|s| s.failed), Some(3));
    assert_eq!(pods_of(&client, "fail", "flaky").await.len(), 3);
    let events: Api<Event> = Api::namespaced(client.clone(), "fail");
    eventually("the job controller's Warning", || async {
        let lp = ListParams::default().fields("involvedObject.name=flaky");
        let list = events.list(&lp).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some("BackoffLimitExceeded")
                    && e.message.as_deref() == Some("Job has reached the specified backoff limit")
            })
            .then_some(())
    })
    .await;

    // A FailJob rule fails the Job at the first matching exit code.
    api.create(
        &PostParams::default(),
        &job(
            "policy",
            json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
            ]}}),
            "100ms",
            42,
        ),
    )
    .await
    .expect("create");
    let failed = finished(&api, "policy", "Failed").await;
    let (reason, message, _) = condition(&failed, "Failed").expect("Failed");
    assert_eq!(reason, "PodFailurePolicy");
    assert!(
        message.starts_with("Container main for pod fail/policy-")
            && message.ends_with("failed with exit code 42 matching FailJob rule at index 0"),
        "{message}"
    );
    assert_eq!(pods_of(&client, "fail", "policy").await.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_finished_job_is_deleted_after_its_ttl() {
    let server = start(Clock::system()).await;
    let client = server.client();
    namespace(&client, "ttl").await;
    let api: Api<Job> = Api::namespaced(client.clone(), "ttl");
    api.create(
        &PostParams::default(),
        &job("short", json!({"ttlSecondsAfterFinished": 1}), "100ms", 0),
    )
    .await
    .expect("create");
    finished(&api, "short", "Complete").await;
    eventually("the job and its pods to be deleted", || async {
        let gone = api.get_opt("short").await.ok()?.is_none();
        (gone && pods_of(&client, "ttl", "short").await.is_empty()).then_some(())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn validation_speaks_upstreams_words() {
    let server = start(Clock::system()).await;
    let client = server.client();
    namespace(&client, "bad").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "bad");
    let mut always = job("always", json!({"parallelism": -1}), "1s", 0);
    if let Some(spec) = always.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.restart_policy = None;
    }
    let err = api_err(
        jobs.create(&PostParams::default(), &always).await,
        422,
        "Invalid",
    );
    assert_eq!(
        err.message,
        "Job.batch \"always\" is invalid: [spec.parallelism: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"]"
    );
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "bad");
    let cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "nope"}, "spec": {
        "schedule": "61 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}))
    .expect("a CronJob");
    let err = api_err(
        cronjobs.create(&PostParams::default(), &cj).await,
        422,
        "Invalid",
    );
    assert!(
        err.message.starts_with(
            "CronJob.batch \"nope\" is invalid: spec.schedule: Invalid value: \"61 * * * *\": "
        ),
        "{}",
        err.message
    );
    server.shutdown().await;
}

fn cron_job(name: &str, schedule: &str, policy: &str, duration: &str) -> CronJob {
    serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": schedule, "concurrencyPolicy": policy, "timeZone": "Etc/UTC",
            "successfulJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"cron": name}}, "spec": {"template": {
                "metadata": {"annotations": {"kubeforge.dev/simulate-duration": duration}},
                "spec": {"restartPolicy": "OnFailure",
                    "containers": [{"name": "c", "image": "busybox"}]}}}}}}))
    .expect("a CronJob")
}

async fn jobs_of(api: &Api<Job>, cron: &str) -> Vec<Job> {
    let lp = ListParams::default().labels(&format!("cron={cron}"));
    api.list(&lp).await.expect("jobs").items
}

#[tokio::test]
async fn cron_jobs_fire_on_schedule_and_keep_their_history() {
    let clock = Clock::system();
    let server = start(clock.clone()).await;
    let client = server.client();
    namespace(&client, "cron").await;
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "cron");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "cron");
    let created = cronjobs
        .create(
            &PostParams::default(),
            &cron_job("tick", "* * * * *", "Allow", "100ms"),
        )
        .await
        .expect("create");
    let spec = created.spec.expect("spec");
    assert_eq!(
        (spec.suspend, spec.failed_jobs_history_limit),
        (Some(false), Some(1))
    );
    clock.advance(Duration::from_secs(61));
    let first = eventually("a first job", || async {
        jobs_of(&jobs, "tick").await.into_iter().next()
    })
    .await;
    let name = first.metadata.name.clone().expect("name");
    assert!(name.starts_with("tick-"), "{name}");
    let annotations = first.metadata.annotations.clone().unwrap_or_default();
    assert!(annotations.contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp"));
    let owner = &first.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(owner.kind, "CronJob");
    finished(&jobs, &name, "Complete").await;
    let cj = eventually("lastSuccessfulTime", || async {
        let cj = cronjobs.get("tick").await.ok()?;
        let status = cj.status.clone()?;
        (status.last_successful_time.is_some() && status.active.is_none()).then_some(cj)
    })
    .await;
    assert!(cj.status.and_then(|s| s.last_schedule_time).is_some());

    // A minute later, a second job; with a history limit of 1 the first one goes.
    clock.advance(Duration::from_secs(60));
    eventually(
        "the second job to replace the first in the history",
        || async {
            let names: Vec<String> = jobs_of(&jobs, "tick")
                .await
                .into_iter()
                .filter_map(|j| j.metadata.name)
                .collect();
            (names.len() == 1 && names[0] != name && {
                let j = jobs.get(&names[0]).await.ok()?;
                condition(&j, "Complete").is_some()
            })
            .then_some(())
        },
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn forbid_skips_a_run_while_one_is_active() {
    let clock = Clock::system();
    let server = start(clock.clone()).await;
    let client = server.client();
    namespace(&client, "forbid").await;
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "forbid");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "forbid");
    cronjobs
        .create(
            &PostParams::default(),
            &cron_job("slow", "* * * * *", "Forbid", "1h"),
        )
        .await
        .expect("create");
    clock.advance(Duration::from_secs(61));
    eventually("an active job", || async {
        let cj = cronjobs.get("slow").await.ok()?;
        (cj.status?.active?.len() == 1).then_some(())
    })
    .await;
    // Two more minutes pass; the first job still runs, so nothing new starts.
    clock.advance(Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(jobs_of(&jobs, "slow").await.len(), 1);

    // Replace: the running job is deleted for the next one.
    let patch = json!({"spec": {"concurrencyPolicy": "Replace"}});
    cronjobs
        .patch("slow", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let before: Vec<String> = jobs_of(&jobs, "slow")
        .await
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .collect();
    clock.advance(Duration::from_secs(60));
    eventually("the running job replaced", || async {
        let cj = cronjobs.get("slow").await.ok()?;
        let active = cj.status?.active?;
        (active.len() == 1 && active[0].name.as_ref().is_some_and(|n| !before.contains(n)))
            .then_some(())
    })
    .await;
    server.shutdown().await;
}
