//! The `batch` scenario: Jobs and CronJobs through kubectl, run by every kubectl version as part
//! of the suite in `kubectl.rs` (the server simulates workloads, so Jobs' pods run and end).
//!
//! `create job` (pods succeed after the simulated second), `wait --for=condition=complete`,
//! `get jobs` (and `-o wide`) columns as kube-apiserver prints them, `create cronjob`, `get
//! cronjobs` columns, and `create job --from=cronjob/x` (kubectl builds the Job from the
//! CronJob's template on the client, with the `cronjob.kubernetes.io/instantiate: manual`
//! annotation and the CronJob as owner).
//!
//! kubectl ≥ 1.32 sends these typed `create` bodies as protobuf, older versions as JSON: every
//! step runs with every version.

use super::*;
use kubectl_support::{Cell, expect_table};

fn is(text: &str) -> Cell<'_> {
    Cell::Is(text)
}

pub(crate) async fn batch(k: &Kubectl) -> Result<()> {
    let ns = "batch";
    k.namespace(ns).await?;
    let out = k
        .ok(&[
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
        .await?;
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

    let out = k
        .ok(&[
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
        .await?;
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

    // `create job --from` is kubectl's own Job built from the CronJob (protobuf from 1.32).
    {
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
