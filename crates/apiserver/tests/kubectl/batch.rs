//! The `batch` scenario: Jobs and CronJobs through kubectl, run by every kubectl version as part
//! of the suite in `kubectl.rs` (the server simulates workloads, so Jobs' pods run and end).
//!
//! `create job` (pods succeed after the simulated second), `wait --for=condition=complete`,
//! `get jobs` (and `-o wide`) columns as kube-apiserver prints them, `create cronjob`, `get
//! cronjobs` columns, and `create job --from=cronjob/x` (kubectl builds the Job from the
//! CronJob's template on the client, with the `cronjob.kubernetes.io/instantiate: manual`
//! annotation and the CronJob as owner).
//!
//! kubectl ≥ 1.32 sends the typed `create job`/`create cronjob` bodies as protobuf, which the
//! request decoder does not know for batch/v1 yet (the generic protobuf converter of issue 12 is
//! on branch `i12-protobuf`): those versions create the same objects from manifests with
//! `create -f`, and run every other step.

use super::*;
use kubectl_support::{Cell, expect_table};

fn is(text: &str) -> Cell<'_> {
    Cell::Is(text)
}

/// Whether this kubectl's typed `create` of batch/v1 objects sends protobuf.
fn typed_create_is_protobuf(k: &Kubectl) -> bool {
    k.minor() >= 32
}

/// Creates `manifest` (YAML) with `kubectl create -f`.
async fn create_from(k: &Kubectl, name: &str, manifest: &str) -> Result<String> {
    let path = k.home.path().join(format!("{name}.yaml"));
    std::fs::write(&path, manifest)?;
    k.ok(&["create", "-f", path.to_str().unwrap_or_default()])
        .await
}

pub(crate) async fn batch(k: &Kubectl) -> Result<()> {
    let ns = "batch";
    k.namespace(ns).await?;
    let out = if typed_create_is_protobuf(k) {
        create_from(
            k,
            "job-pi",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pi\n  namespace: batch\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: pi\n        image: busybox:1.36\n        command: [echo, hi]\n",
        )
        .await?
    } else {
        k.ok(&[
            "create",
            "job",
            "pi",
            "-n",
            ns,
            "--image=busybox:1.36",
            "--",
            "echo",
            "hi",
        ])
        .await?
    };
    expect_line(&out, "job.batch/pi created")?;
    let out = k
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/pi",
            "-n",
            ns,
            "--timeout=60s",
        ])
        .await?;
    expect_line(&out, "job.batch/pi condition met")?;
    expect_table(
        &k.ok(&["get", "jobs", "-n", ns]).await?,
        &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        &[is("pi"), is("Complete"), is("1/1"), Cell::Age, Cell::Age],
    )
    .context("get jobs")?;
    let uid = k
        .jsonpath(&["get", "job", "pi", "-n", ns], "{.metadata.uid}")
        .await?;
    let selector = format!("batch.kubernetes.io/controller-uid={uid}");
    expect_table(
        &k.ok(&["get", "jobs", "-n", ns, "-o", "wide"]).await?,
        &[
            "NAME",
            "STATUS",
            "COMPLETIONS",
            "DURATION",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
        &[
            is("pi"),
            is("Complete"),
            is("1/1"),
            Cell::Age,
            Cell::Age,
            is("pi"),
            is("busybox:1.36"),
            is(&selector),
        ],
    )
    .context("get jobs -o wide")?;
    let phases = k
        .jsonpath(
            &["get", "pods", "-n", ns, "-l", "job-name=pi"],
            "{.items[*].status.phase}",
        )
        .await?;
    expect_eq(phases.as_str(), "Succeeded", "phase of the job's pod")?;

    let out = if typed_create_is_protobuf(k) {
        create_from(
            k,
            "cronjob-hello",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: hello\n  namespace: batch\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: hello\n            image: busybox:1.36\n            command: [date]\n",
        )
        .await?
    } else {
        k.ok(&[
            "create",
            "cronjob",
            "hello",
            "-n",
            ns,
            "--image=busybox:1.36",
            "--schedule=*/5 * * * *",
            "--",
            "date",
        ])
        .await?
    };
    expect_line(&out, "cronjob.batch/hello created")?;
    expect_table(
        &k.ok(&["get", "cronjobs", "-n", ns]).await?,
        &[
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE",
        ],
        &[
            is("hello"),
            is("*/5 * * * *"),
            is("<none>"),
            is("False"),
            is("0"),
            is("<none>"),
            Cell::Age,
        ],
    )
    .context("get cronjobs")?;
    expect_eq(
        k.jsonpath(
            &["get", "cj", "hello", "-n", ns],
            "{.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} {.spec.failedJobsHistoryLimit}",
        )
        .await?
        .as_str(),
        "Allow 3 1",
        "CronJob defaults",
    )?;

    // `create job --from` is kubectl's own Job built from the CronJob: typed, so protobuf
    // from 1.32 (see the module doc).
    if !typed_create_is_protobuf(k) {
        let out = k
            .ok(&["create", "job", "manual", "-n", ns, "--from=cronjob/hello"])
            .await?;
        expect_line(&out, "job.batch/manual created")?;
        let job = k.json(&["get", "job", "manual", "-n", ns]).await?;
        expect_eq(
            &job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
            &json!("manual"),
            "the manual instantiation annotation",
        )?;
        expect_eq(
            &job["metadata"]["ownerReferences"][0]["kind"],
            &json!("CronJob"),
            "the manual job's owner",
        )?;
        let out = k
            .ok(&[
                "wait",
                "--for=condition=complete",
                "job/manual",
                "-n",
                ns,
                "--timeout=60s",
            ])
            .await?;
        expect_line(&out, "job.batch/manual condition met")?;
    }

    // A Job kubectl cannot create as written: upstream's words come back.
    let manifest = k.manifest(
        "bad-job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\n  namespace: batch\nspec:\n  \
         template:\n    spec:\n      restartPolicy: Always\n      containers:\n      - name: c\n        \
         image: busybox\n",
    )?;
    k.rejects(
        &["create", "-f", &manifest],
        &[r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#],
    )
    .await?;
    Ok(())
}
