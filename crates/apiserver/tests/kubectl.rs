//! kubectl compatibility suite: every installed kubectl (1.27 … 1.33) against an in-process
//! [`ApiServer`], asserting on what kubectl prints and on what the server then holds.
//!
//! There is one test per kubectl version (`kubectl_1_27` … `kubectl_1_33`); the test harness runs
//! them in parallel. Each version gets its own in-memory server, kubeconfig and a fresh `HOME` and
//! `--cache-dir`, so kubectl's discovery and OpenAPI disk cache never leaks between servers that
//! happen to reuse a port. Every scenario works in its own namespace, so a version's scenarios run
//! a few at a time; the test then fails listing every scenario that failed, with kubectl's output.
//!
//! Scenarios:
//! - `create`: `create -f` (a manifest), `create namespace`, `create configmap --from-literal`,
//!   `create secret generic`, `create deployment --image` (typed commands send protobuf from 1.32).
//! - `get`: `-o yaml`, `-o json` (object and list), `-o jsonpath`, `-o name`, `-l` (equality and
//!   inequality), `--field-selector metadata.name=` (and `!=`), `--chunk-size=2` over five objects
//!   (every object returned, `continue` tokens used).
//! - `apply`: create, `unchanged`, `configured` on a changed field; a Deployment update is a
//!   strategic merge patch (a container field set by someone else survives).
//! - `replace`: PUT with the object's resourceVersion; a stale resourceVersion is a Conflict.
//! - `label_annotate`: `label` (add, `--overwrite`, remove) and `annotate` (add, remove).
//! - `patch`: `--type merge` (including `(no change)`), `--type json` (including a failing `test`
//!   operation), default strategic merge for a Deployment (containers merged by name, `$patch:
//!   delete`).
//! - `delete`: a plain delete finishes quickly; a delete held by a finalizer waits (kubectl's
//!   GET/LIST/WATCH with `fieldSelector=metadata.name=…`) until the finalizer is removed; delete by
//!   label; deleting a namespace with contents waits until it is gone.
//! - `custom_resources`: a CRD from YAML, `wait --for=condition=Established`, create/get/apply of a
//!   custom resource (by plural and short name), strategic patch refused with 415 while merge patch
//!   works, strict validation of an unknown nested field, `api-resources --api-group`, `explain`
//!   of a custom resource field.
//! - `watch`: `get -w --output-watch-events` sees ADDED/MODIFIED/DELETED lines as they happen;
//!   plain `get -w` prints the table header once, then a row (NAME DATA AGE) per new object.
//! - `api_resources`: short names (`cm`, `deploy`, `ns`), scope, kinds, verbs, `--namespaced=false`,
//!   `api-versions`.
//! - `explain`: `explain configmap.data`, `explain deployment.spec.replicas`.
//! - `get_all`: `get all` prints Deployments and Services (category `all`) but not ConfigMaps.
//! - `dry_run`: `--dry-run=server` for create, apply, patch and delete stores nothing.
//! - `validation`: an unknown field is rejected under `--validate=strict` (the message names the
//!   field), accepted and dropped under `--validate=false`, accepted with a warning under
//!   `--validate=warn`.
//! - `errors`: NotFound, AlreadyExists, an unknown resource type, a missing namespace, an invalid
//!   name, and "No resources found".
//!
//! Whole-cluster scenarios (`kubectl/cluster.rs`; the server simulates workloads):
//! - `columns`: `get` headers and cells, as against a real cluster, for Namespace, ConfigMap,
//!   Secret, Pod (and `-o wide`), Service, Deployment (and `-o wide`), ReplicaSet, Event, Lease,
//!   Role, RoleBinding (`-o wide`), CRD, and a custom resource's printer columns (`-o wide` adds
//!   the priority-1 column).
//! - `server_side_apply`: a conflict with `kubectl create`'s manager, `--force-conflicts`, a
//!   conflict between two appliers, shared ownership, removal of a field no longer applied.
//! - `csa_to_ssa`: `apply` then `apply --server-side` (no conflict with client-side apply's
//!   manager; kubectl's managedFields migration), `diff --server-side` exit codes, a dropped field
//!   removed, the last-applied annotation kept for a later client-side `apply`.
//! - `rollout_history`: `set image` twice, `rollout history` (and `--revision`), `rollout undo`
//!   (the earlier ReplicaSet reused as the next revision), `undo --to-revision`, a skipped undo,
//!   `rollout status --revision`.
//! - `edit` (scripted `KUBE_EDITOR`), `diff` (exit codes, dry run), `workloads` (`rollout status`,
//!   `scale` up and down, `set image` with rolling replacement), `cascade` (`delete
//!   --cascade=orphan|foreground|background`, `delete namespace` with workloads), `describe` (a
//!   ConfigMap, a Deployment and a custom resource with their Events, including a kube-rs
//!   `Recorder`'s and the simulated deployment controller's).
//!
//! - `drain` (`kubectl/drain.rs`, on a server of its own with two simulated nodes, after the
//!   others: a drain evicts every pod of the node): a Deployment and a PodDisruptionBudget from
//!   a manifest, `get pdb` columns, `cordon` (`get nodes` shows `Ready,SchedulingDisabled`),
//!   `drain --ignore-daemonsets --delete-emptydir-data` (evictions through `pods/eviction`, any
//!   429 retried until the budget allows; the replacements run on the other node), `uncordon`.
//! - `batch` (`kubectl/batch.rs`): `create job`, `wait --for=condition=complete job/x`, `get jobs`
//!   (and `-o wide`) columns, `create cronjob`, `get cronjobs` columns and defaults, `create job
//!   --from=cronjob/x`, a Job refused with upstream's restartPolicy message.
//! - `stateful_daemon` (`kubectl/apps.rs`): `apply -f` a StatefulSet and a DaemonSet, `rollout
//!   status` of both, `get sts,ds` columns, claims per ordinal, `set image` + `rollout
//!   status|history|undo` for both, `scale sts --replicas=1` leaving only `x-0`.
//!
//! The first group's assertions on human-readable output only look at the header's first column
//! and the NAME column (or the `kind/name` prefix); `columns`, `watch` and `describe` compare
//! every column, so they fail if the server's Tables were missing or wrong.
//!
//! Binaries and the runner: see `kubectl_support` (a missing binary fails under `CI=true`).
//! `KUBEFORGE_KUBECTL_SCENARIOS=name,name` runs only the scenarios named (while iterating).

mod kube_support;

#[path = "kubectl/apps.rs"]
mod apps;
#[path = "kubectl/auth.rs"]
mod auth;
#[path = "kubectl/batch.rs"]
mod batch;
#[path = "kubectl/cluster.rs"]
mod cluster;
#[path = "kubectl/drain.rs"]
mod drain;
mod kubectl_support;

use anyhow::{Context, Result, anyhow, bail, ensure};
use apps::stateful_daemon;
use auth::auth;
use batch::batch;
use cluster::{
    cascade, columns, csa_to_ssa, describe, diff, edit, rollout_history, server_side_apply,
    workloads,
};
use drain::drain;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kubectl_support::{
    EVENT_TIMEOUT, Kubectl, expect_eq, expect_line, kubectl_binary, kubectl_versions, name_column,
    names, stdout_lines, wait_for_line,
};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How many scenarios of one kubectl version run at once (each in its own namespace). kubectl
/// spends much of a call waiting, so a few at a time keep two cores busy.
const SCENARIO_CONCURRENCY: usize = 4;

kubectl_versions!();

/// Runs the scenarios, [`SCENARIO_CONCURRENCY`] at a time, printing how long each took and
/// returning `name: error` for every one that failed.
macro_rules! run_scenarios {
    ($k:expr, [$($scenario:ident),* $(,)?]) => {{
        let only = std::env::var("KUBEFORGE_KUBECTL_SCENARIOS").ok();
        let runs: Vec<ScenarioRun<'_>> = vec![$(
            Box::pin(async {
                if only.as_deref().is_some_and(|only| {
                    !only.split(',').any(|s| s.trim() == stringify!($scenario))
                }) {
                    return Ok(());
                }
                let started = Instant::now();
                let result = $scenario($k).await;
                eprintln!("  {:<16} {:>6.1?}", stringify!($scenario), started.elapsed());
                result.map_err(|e| format!("{}: {e:#}", stringify!($scenario)))
            }),
        )*];
        futures::stream::iter(runs)
            .buffered(SCENARIO_CONCURRENCY)
            .filter_map(|result| async move { result.err() })
            .collect::<Vec<String>>()
            .await
    }};
}

/// One scenario in flight: its failure message, if any.
type ScenarioRun<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

#[test]
fn a_split_kubectl_reads_and_watches_through_the_reader() {
    use kubectl_support::reads;
    for read in [
        &["get", "configmaps", "--watch"][..],
        &["-n", "apps", "describe", "deployment", "web"],
        &["wait", "--for=condition=Available", "deployment/web"],
        &["rollout", "status", "deployment/web"],
        &["--namespace", "x", "rollout", "history", "deployment/web"],
    ] {
        assert!(reads(read), "{read:?}");
    }
    for write in [
        &["apply", "-f", "app.yaml"][..],
        &["-n", "get", "delete", "configmap", "get"],
        &["rollout", "restart", "deployment/web"],
        &["scale", "deployment/web", "--replicas=3"],
        &["label", "configmap", "app", "x=y"],
    ] {
        assert!(!reads(write), "{write:?}");
    }
}

/// Runs every scenario with kubectl `version` against a fresh server.
async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    // On etcd, two servers share it: kubectl writes through one and reads and watches through
    // the other.
    let (server, reader) = match kube_support::etcd::requested_config().await {
        Some(config) => {
            let start = |config| async move {
                ApiServer::builder()
                    .etcd(config)
                    .simulate_workloads(true)
                    .start()
                    .await
                    .expect("starting an API server on etcd")
            };
            (start(config.clone()).await, Some(start(config).await))
        }
        None => (
            ApiServer::builder()
                .in_memory()
                .simulate_workloads(true)
                .start()
                .await
                .expect("starting the API server"),
            None,
        ),
    };
    let k = match &reader {
        Some(reader) => Kubectl::split(binary.clone(), &server, reader),
        None => Kubectl::new(binary.clone(), &server),
    }
    .expect("preparing kubectl's home directory");
    let started = Instant::now();
    let failures = run_scenarios!(
        &k,
        [
            create,
            get,
            apply,
            replace,
            label_annotate,
            patch,
            delete,
            custom_resources,
            watch,
            api_resources,
            explain,
            get_all,
            dry_run,
            validation,
            errors,
            columns,
            server_side_apply,
            csa_to_ssa,
            edit,
            diff,
            workloads,
            rollout_history,
            cascade,
            describe,
            auth,
            batch,
            stateful_daemon,
        ]
    );
    server.shutdown().await;
    if let Some(reader) = reader {
        reader.shutdown().await;
    }
    // Draining evicts every pod of the node: on a server of its own.
    let mut failures = failures;
    let server = kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .nodes(2),
    )
    .await
    .start()
    .await
    .expect("starting the API server");
    let k = Kubectl::new(binary, &server).expect("preparing kubectl's home directory");
    failures.extend(run_scenarios!(&k, [drain]));
    server.shutdown().await;
    eprintln!(
        "kubectl {version}: all scenarios in {:.1?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "kubectl {version}: {} scenario(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

async fn create(k: &Kubectl) -> Result<()> {
    let ns = "create";
    expect_line(
        &k.ok(&["create", "namespace", ns]).await?,
        "namespace/create created",
    )?;
    expect_eq(
        k.jsonpath(&["get", "namespace", ns], "{.status.phase}")
            .await?
            .as_str(),
        "Active",
        "phase of the new namespace",
    )?;

    let manifest = k.manifest(
        "create.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-file\n  namespace: create\n  \
         labels:\n    app: x\ndata:\n  key: value\n",
    )?;
    expect_line(
        &k.ok(&["create", "-f", &manifest]).await?,
        "configmap/from-file created",
    )?;
    let cm = k.json(&["get", "configmap", "from-file", "-n", ns]).await?;
    expect_eq(&cm["data"], &json!({"key": "value"}), "data of from-file")?;
    expect_eq(&cm["metadata"]["labels"], &json!({"app": "x"}), "labels")?;

    let out = k
        .ok(&[
            "create",
            "configmap",
            "literal",
            "-n",
            ns,
            "--from-literal=greeting=hello",
            "--from-literal=target=world",
        ])
        .await?;
    expect_line(&out, "configmap/literal created")?;
    let cm = k.json(&["get", "cm", "literal", "-n", ns]).await?;
    expect_eq(
        &cm["data"],
        &json!({"greeting": "hello", "target": "world"}),
        "data of literal",
    )?;

    let out = k
        .ok(&[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            ns,
            "--from-literal=password=s3cret",
        ])
        .await?;
    expect_line(&out, "secret/creds created")?;
    let secret = k.json(&["get", "secret", "creds", "-n", ns]).await?;
    expect_eq(&secret["type"], &json!("Opaque"), "secret type")?;
    expect_eq(
        &secret["data"],
        &json!({"password": "czNjcmV0"}),
        "secret data (base64)",
    )?;

    let out = k
        .ok(&[
            "create",
            "deployment",
            "web",
            "-n",
            ns,
            "--image=nginx:1.25",
            "--replicas=2",
        ])
        .await?;
    expect_line(&out, "deployment.apps/web created")?;
    let deploy = k.json(&["get", "deploy", "web", "-n", ns]).await?;
    expect_eq(&deploy["spec"]["replicas"], &json!(2), "replicas")?;
    expect_eq(
        &deploy["spec"]["selector"]["matchLabels"],
        &json!({"app": "web"}),
        "selector",
    )?;
    let containers = &deploy["spec"]["template"]["spec"]["containers"];
    expect_eq(&containers[0]["name"], &json!("nginx"), "container name")?;
    expect_eq(&containers[0]["image"], &json!("nginx:1.25"), "image")?;

    // More typed commands (protobuf bodies from 1.32): every built-in kind decodes.
    for (args, created) in [
        (
            &[
                "create",
                "pdb",
                "web",
                "--selector=app=web",
                "--min-available=1",
            ][..],
            "poddisruptionbudget.policy/web created",
        ),
        (
            &["create", "ingress", "web", "--rule=example.com/=web:80"][..],
            "ingress.networking.k8s.io/web created",
        ),
        (
            &["create", "quota", "small", "--hard=pods=10,requests.cpu=2"][..],
            "resourcequota/small created",
        ),
        (
            &["create", "service", "nodeport", "np", "--tcp=80:8080"][..],
            "service/np created",
        ),
    ] {
        let mut full = args.to_vec();
        full.extend(["-n", ns]);
        expect_line(&k.ok(&full).await?, created)?;
    }
    expect_line(
        &k.ok(&["create", "priorityclass", "create-high", "--value=1000"])
            .await?,
        "priorityclass.scheduling.k8s.io/create-high created",
    )?;
    let pdb = k.json(&["get", "pdb", "web", "-n", ns]).await?;
    expect_eq(&pdb["spec"]["minAvailable"], &json!(1), "PDB minAvailable")?;
    expect_eq(
        &pdb["spec"]["selector"]["matchLabels"],
        &json!({"app": "web"}),
        "PDB selector",
    )?;
    let ingress = k.json(&["get", "ingress", "web", "-n", ns]).await?;
    expect_eq(
        &ingress["spec"]["rules"][0]["host"],
        &json!("example.com"),
        "ingress host",
    )?;
    expect_eq(
        &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"],
        &json!({"name": "web", "port": {"number": 80}}),
        "ingress backend",
    )?;
    let quota = k.json(&["get", "quota", "small", "-n", ns]).await?;
    expect_eq(
        &quota["spec"]["hard"],
        &json!({"pods": "10", "requests.cpu": "2"}),
        "quota",
    )?;
    let pc = k.json(&["get", "priorityclass", "create-high"]).await?;
    expect_eq(&pc["value"], &json!(1000), "priority value")?;
    Ok(())
}

async fn get(k: &Kubectl) -> Result<()> {
    let ns = "get";
    k.namespace(ns).await?;
    let manifest: String = (1..=5)
        .map(|i| {
            let app = if i % 2 == 1 { "x" } else { "z" };
            format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  labels:\n    \
                 app: {app}\ndata:\n  index: \"{i}\"\n"
            )
        })
        .collect();
    let file = k.manifest("get.yaml", &manifest)?;
    let out = k.ok(&["create", "-f", &file, "-n", ns]).await?;
    for i in 1..=5 {
        expect_line(&out, &format!("configmap/c{i} created"))?;
    }

    let yaml = k.ok(&["get", "cm", "c1", "-n", ns, "-o", "yaml"]).await?;
    let cm: Value = serde_norway::from_str(&yaml).with_context(|| format!("parsing:\n{yaml}"))?;
    expect_eq(&cm["apiVersion"], &json!("v1"), "apiVersion (yaml)")?;
    expect_eq(&cm["kind"], &json!("ConfigMap"), "kind (yaml)")?;
    expect_eq(&cm["metadata"]["name"], &json!("c1"), "name (yaml)")?;
    expect_eq(&cm["metadata"]["namespace"], &json!(ns), "namespace (yaml)")?;
    expect_eq(&cm["data"], &json!({"index": "1"}), "data (yaml)")?;
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        ensure!(
            cm["metadata"][field]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "metadata.{field} missing in:\n{yaml}"
        );
    }

    let cm = k.json(&["get", "cm", "c2", "-n", ns]).await?;
    expect_eq(
        &cm["metadata"]["labels"],
        &json!({"app": "z"}),
        "labels (json)",
    )?;
    let list = k.json(&["get", "cm", "-n", ns]).await?;
    expect_eq(&list["kind"], &json!("List"), "kind of a listed -o json")?;
    expect_eq(
        list["items"].as_array().map(Vec::len),
        Some(5),
        "items in -o json",
    )?;

    let out = k
        .jsonpath(&["get", "cm", "-n", ns], "{.items[*].metadata.name}")
        .await?;
    expect_eq(out.as_str(), "c1 c2 c3 c4 c5", "jsonpath over a list")?;
    let out = k
        .jsonpath(&["get", "cm", "c3", "-n", ns], "{.data.index}")
        .await?;
    expect_eq(out.as_str(), "3", "jsonpath of a field")?;

    let out = k.ok(&["get", "cm", "-n", ns, "-l", "app=x"]).await?;
    expect_eq(
        name_column(&out)?,
        vec!["c1".into(), "c3".into(), "c5".into()],
        "-l app=x",
    )?;
    let out = k
        .ok(&["get", "cm", "-n", ns, "-l", "app!=x", "-o", "name"])
        .await?;
    expect_eq(
        names(&out),
        vec!["configmap/c2".into(), "configmap/c4".into()],
        "-l app!=x",
    )?;

    let out = k
        .ok(&[
            "get",
            "cm",
            "-n",
            ns,
            "--field-selector",
            "metadata.name=c4",
        ])
        .await?;
    expect_eq(
        name_column(&out)?,
        vec!["c4".to_string()],
        "--field-selector =",
    )?;
    let out = k
        .ok(&[
            "get",
            "cm",
            "-n",
            ns,
            "--field-selector",
            "metadata.name!=c4",
            "-o",
            "name",
        ])
        .await?;
    expect_eq(names(&out).len(), 4, "--field-selector != count")?;

    // -v=6 logs every request URL, which shows that kubectl really paged.
    let out = k
        .run(&["get", "cm", "-n", ns, "--chunk-size=2", "-v=6"])
        .await?;
    ensure!(out.success, "chunked get failed:\n{}", out.stderr);
    expect_eq(
        name_column(&out.stdout)?,
        (1..=5).map(|i| format!("c{i}")).collect(),
        "--chunk-size=2 names",
    )?;
    let pages = out.stderr.matches("continue=").count();
    ensure!(
        pages >= 2,
        "expected two requests with a continue token, saw {pages}:\n{}",
        out.stderr
    );
    let out = k
        .ok(&["get", "cm", "-n", ns, "--chunk-size=2", "-o", "name"])
        .await?;
    expect_eq(names(&out).len(), 5, "--chunk-size=2 -o name count")?;
    Ok(())
}

async fn apply(k: &Kubectl) -> Result<()> {
    let ns = "apply";
    k.namespace(ns).await?;
    let cm = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apply\n\
             data:\n  mode: {value}\n"
        )
    };
    let file = k.manifest("apply-cm.yaml", &cm("one"))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "configmap/settings created",
    )?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "configmap/settings unchanged",
    )?;
    k.manifest("apply-cm.yaml", &cm("two"))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "configmap/settings configured",
    )?;
    let live = k.json(&["get", "cm", "settings", "-n", ns]).await?;
    expect_eq(&live["data"], &json!({"mode": "two"}), "data after apply")?;
    let last_applied =
        &live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"];
    ensure!(
        last_applied.as_str().is_some_and(|s| s.contains("two")),
        "last-applied-configuration not updated: {last_applied}"
    );

    let deploy = |image: &str, replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: apply\n\
             spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: app}}\n  \
             template:\n    metadata:\n      labels: {{app: app}}\n    spec:\n      containers:\n      \
             - name: main\n        image: {image}\n"
        )
    };
    let file = k.manifest("apply-deploy.yaml", &deploy("nginx:1.25", 1))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "deployment.apps/app created",
    )?;
    // A field set outside the manifest: a strategic merge (containers keyed by name) keeps it, a
    // JSON merge patch would replace the whole container list and lose it.
    k.ok(&[
        "patch",
        "deploy",
        "app",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"FOO","value":"bar"}]}]"#,
    ])
    .await?;
    k.manifest("apply-deploy.yaml", &deploy("nginx:1.26", 2))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "deployment.apps/app configured",
    )?;
    let live = k.json(&["get", "deploy", "app", "-n", ns]).await?;
    expect_eq(&live["spec"]["replicas"], &json!(2), "replicas after apply")?;
    let containers = &live["spec"]["template"]["spec"]["containers"];
    expect_eq(
        containers.as_array().map(Vec::len),
        Some(1),
        "container count after apply",
    )?;
    expect_eq(
        &containers[0]["image"],
        &json!("nginx:1.26"),
        "image after apply",
    )?;
    expect_eq(
        &containers[0]["env"],
        &json!([{"name": "FOO", "value": "bar"}]),
        "env kept by the strategic merge",
    )?;
    Ok(())
}

async fn replace(k: &Kubectl) -> Result<()> {
    let ns = "replace";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "r", "-n", ns, "--from-literal=a=1"])
        .await?;
    let mut obj = k.json(&["get", "cm", "r", "-n", ns]).await?;
    obj["data"]["a"] = json!("2");
    let file = k.manifest("replace.json", &obj.to_string())?;
    expect_line(
        &k.ok(&["replace", "-f", &file]).await?,
        "configmap/r replaced",
    )?;
    expect_eq(
        k.jsonpath(&["get", "cm", "r", "-n", ns], "{.data.a}")
            .await?
            .as_str(),
        "2",
        "data after replace",
    )?;
    // The file still carries the resourceVersion read before the first replace.
    obj["data"]["a"] = json!("3");
    k.manifest("replace.json", &obj.to_string())?;
    let err = k.fails(&["replace", "-f", &file]).await?;
    ensure!(
        err.contains("Error from server (Conflict)")
            && err.contains(r#"Operation cannot be fulfilled on configmaps "r""#)
            && err.contains("the object has been modified"),
        "unexpected stale replace error:\n{err}"
    );
    expect_eq(
        k.jsonpath(&["get", "cm", "r", "-n", ns], "{.data.a}")
            .await?
            .as_str(),
        "2",
        "data after the rejected replace",
    )?;
    Ok(())
}

async fn label_annotate(k: &Kubectl) -> Result<()> {
    let ns = "label";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "tagged", "-n", ns]).await?;
    expect_line(
        &k.ok(&["label", "cm", "tagged", "-n", ns, "tier=backend"])
            .await?,
        "configmap/tagged labeled",
    )?;
    k.ok(&[
        "label",
        "cm",
        "tagged",
        "-n",
        ns,
        "tier=frontend",
        "--overwrite",
    ])
    .await?;
    let out = k
        .ok(&["get", "cm", "-n", ns, "-l", "tier=frontend", "-o", "name"])
        .await?;
    expect_eq(
        names(&out),
        vec!["configmap/tagged".to_string()],
        "selected by the new label",
    )?;
    expect_line(
        &k.ok(&["label", "cm", "tagged", "-n", ns, "tier-"]).await?,
        "configmap/tagged unlabeled",
    )?;
    let live = k.json(&["get", "cm", "tagged", "-n", ns]).await?;
    ensure!(
        live["metadata"]["labels"].get("tier").is_none(),
        "label not removed: {}",
        live["metadata"]
    );

    // kubectl 1.27 prints "annotate" rather than "annotated".
    let out = k
        .ok(&["annotate", "cm", "tagged", "-n", ns, "note=hello world"])
        .await?;
    ensure!(
        out.starts_with("configmap/tagged annotate"),
        "unexpected annotate output:\n{out}"
    );
    expect_eq(
        k.jsonpath(
            &["get", "cm", "tagged", "-n", ns],
            "{.metadata.annotations.note}",
        )
        .await?
        .as_str(),
        "hello world",
        "annotation",
    )?;
    k.ok(&["annotate", "cm", "tagged", "-n", ns, "note-"])
        .await?;
    let live = k.json(&["get", "cm", "tagged", "-n", ns]).await?;
    ensure!(
        live["metadata"]["annotations"].get("note").is_none(),
        "annotation not removed: {}",
        live["metadata"]
    );
    Ok(())
}

async fn patch(k: &Kubectl) -> Result<()> {
    let ns = "patch";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "p", "-n", ns, "--from-literal=a=1"])
        .await?;
    let merge = ["patch", "cm", "p", "-n", ns, "--type", "merge", "-p"];
    expect_line(
        &k.ok(&[&merge[..], &[r#"{"data":{"b":"2"}}"#]].concat())
            .await?,
        "configmap/p patched",
    )?;
    expect_line(
        &k.ok(&[&merge[..], &[r#"{"data":{"b":"2"}}"#]].concat())
            .await?,
        "configmap/p patched (no change)",
    )?;
    k.ok(&[&merge[..], &[r#"{"data":{"a":null}}"#]].concat())
        .await?;
    let data = k.json(&["get", "cm", "p", "-n", ns]).await?["data"].clone();
    expect_eq(data, json!({"b": "2"}), "data after merge patches")?;

    let json_patch = ["patch", "cm", "p", "-n", ns, "--type", "json", "-p"];
    expect_line(
        &k.ok(&[
            &json_patch[..],
            &[r#"[{"op":"replace","path":"/data/b","value":"3"},{"op":"add","path":"/data/c","value":"4"}]"#],
        ]
        .concat())
        .await?,
        "configmap/p patched",
    )?;
    k.fails(&[
        &json_patch[..],
        &[r#"[{"op":"test","path":"/data/b","value":"nope"},{"op":"remove","path":"/data/c"}]"#],
    ]
    .concat())
    .await?;
    let data = k.json(&["get", "cm", "p", "-n", ns]).await?["data"].clone();
    expect_eq(data, json!({"b": "3", "c": "4"}), "data after JSON patches")?;

    // The default patch type is strategic merge: containers merge by name.
    k.ok(&["create", "deployment", "sm", "-n", ns, "--image=nginx"])
        .await?;
    let get_sm = ["get", "deploy", "sm", "-n", ns];
    let container_names = "{.spec.template.spec.containers[*].name}";
    expect_line(
        &k.ok(&[
            "patch",
            "deploy",
            "sm",
            "-n",
            ns,
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}"#,
        ])
        .await?,
        "deployment.apps/sm patched",
    )?;
    // Upstream puts items new to a merged list before the server's (no $setElementOrder).
    expect_eq(
        k.jsonpath(&get_sm, container_names).await?.as_str(),
        "sidecar nginx",
        "containers after a strategic merge",
    )?;
    k.ok(&[
        "patch",
        "deploy",
        "sm",
        "-n",
        ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#,
    ])
    .await?;
    expect_eq(
        k.jsonpath(&get_sm, container_names).await?.as_str(),
        "nginx",
        "containers after $patch: delete",
    )?;
    Ok(())
}

async fn delete(k: &Kubectl) -> Result<()> {
    let ns = "delete";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "gone", "-n", ns]).await?;
    let started = Instant::now();
    let out = k.ok(&["delete", "cm", "gone", "-n", ns]).await?;
    ensure!(
        out.starts_with(r#"configmap "gone" deleted"#),
        "unexpected delete output:\n{out}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "delete took {:?}",
        started.elapsed()
    );
    k.fails(&["get", "cm", "gone", "-n", ns]).await?;

    // A finalizer keeps the object: kubectl must wait (GET, LIST and WATCH with a
    // metadata.name field selector) until the finalizer is removed, then return promptly.
    let file = k.manifest(
        "held.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: delete\n  \
         finalizers: [example.com/hold]\n",
    )?;
    k.ok(&["create", "-f", &file]).await?;
    let mut deleting = k.spawn(&["delete", "cm", "held", "-n", ns, "--timeout=60s"])?;
    let configmaps: Api<ConfigMap> = Api::namespaced(k.client.clone(), ns);
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let cm = configmaps.get("held").await?;
        if cm.metadata.deletion_timestamp.is_some() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "deletionTimestamp never set on held"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give kubectl time to reach its watch; it must still be waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(status) = deleting.try_wait()? {
        bail!("kubectl delete returned ({status}) while a finalizer still held the object");
    }
    k.ok(&[
        "patch",
        "cm",
        "held",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await?;
    let out = tokio::time::timeout(Duration::from_secs(10), deleting.wait_with_output())
        .await
        .map_err(|_| anyhow!("kubectl delete still waiting 10s after the finalizer went"))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && stdout.starts_with(r#"configmap "held" deleted"#),
        "delete of held failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k.fails(&["get", "cm", "held", "-n", ns]).await?;

    // A namespace goes through Terminating while its contents are removed; kubectl waits.
    k.namespace("doomed").await?;
    k.ok(&["create", "configmap", "inside", "-n", "doomed"])
        .await?;
    let started = Instant::now();
    let out = k.ok(&["delete", "namespace", "doomed"]).await?;
    ensure!(
        out.starts_with(r#"namespace "doomed" deleted"#),
        "unexpected namespace delete output:\n{out}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "namespace delete took {:?}",
        started.elapsed()
    );
    let err = k.fails(&["get", "namespace", "doomed"]).await?;
    expect_line(
        &err,
        r#"Error from server (NotFound): namespaces "doomed" not found"#,
    )?;

    for name in ["b1", "b2", "b3"] {
        k.ok(&["create", "configmap", name, "-n", ns]).await?;
    }
    k.ok(&["label", "cm", "b1", "b2", "-n", ns, "batch=yes"])
        .await?;
    let out = k.ok(&["delete", "cm", "-l", "batch=yes", "-n", ns]).await?;
    expect_eq(out.lines().count(), 2, "objects deleted by label")?;
    let out = k.ok(&["get", "cm", "-n", ns, "-o", "name"]).await?;
    expect_eq(
        names(&out),
        vec!["configmap/b3".to_string()],
        "left after delete -l",
    )?;
    Ok(())
}

const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
    singular: widget
    listKind: WidgetList
    shortNames: [wd]
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The desired state of the widget.
            properties:
              size:
                type: integer
                description: How big the widget is.
              color:
                type: string
"#;

async fn custom_resources(k: &Kubectl) -> Result<()> {
    let ns = "crd";
    k.namespace(ns).await?;
    let file = k.manifest("crd.yaml", WIDGET_CRD)?;
    expect_line(
        &k.ok(&["create", "-f", &file]).await?,
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
    )?;
    expect_line(
        &k.ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=30s",
        ])
        .await?,
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com condition met",
    )?;

    let widget = |name: &str, size: u32| {
        format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: crd\n\
             spec:\n  size: {size}\n  color: blue\n"
        )
    };
    let file = k.manifest("w1.yaml", &widget("w1", 3))?;
    expect_line(
        &k.ok(&["create", "-f", &file]).await?,
        "widget.example.com/w1 created",
    )?;
    let w1 = k.json(&["get", "widgets", "w1", "-n", ns]).await?;
    expect_eq(&w1["apiVersion"], &json!("example.com/v1"), "apiVersion")?;
    expect_eq(&w1["kind"], &json!("Widget"), "kind")?;
    expect_eq(&w1["spec"], &json!({"size": 3, "color": "blue"}), "spec")?;
    let out = k.ok(&["get", "wd", "-n", ns]).await?;
    expect_eq(
        name_column(&out)?,
        vec!["w1".to_string()],
        "get by short name",
    )?;
    let out = k
        .ok(&["get", "widget.example.com/w1", "-n", ns, "-o", "name"])
        .await?;
    expect_eq(
        names(&out),
        vec!["widget.example.com/w1".to_string()],
        "-o name",
    )?;

    // Client-side apply of a custom resource updates with a JSON merge patch.
    let file = k.manifest("w2.yaml", &widget("w2", 1))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "widget.example.com/w2 created",
    )?;
    k.manifest("w2.yaml", &widget("w2", 5))?;
    expect_line(
        &k.ok(&["apply", "-f", &file]).await?,
        "widget.example.com/w2 configured",
    )?;
    expect_eq(
        k.jsonpath(&["get", "wd", "w2", "-n", ns], "{.spec.size}")
            .await?
            .as_str(),
        "5",
        "size after apply",
    )?;

    let err = k
        .fails(&[
            "patch",
            "wd",
            "w1",
            "-n",
            ns,
            "-p",
            r#"{"spec":{"size":4}}"#,
        ])
        .await?;
    ensure!(
        err.contains("application/strategic-merge-patch+json is not supported"),
        "unexpected error for a strategic patch of a custom resource:\n{err}"
    );
    k.ok(&[
        "patch",
        "wd",
        "w1",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":4}}"#,
    ])
    .await?;
    expect_eq(
        k.jsonpath(&["get", "wd", "w1", "-n", ns], "{.spec.size}")
            .await?
            .as_str(),
        "4",
        "size after merge patch",
    )?;

    let file = k.manifest(
        "w-bad.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\n  namespace: crd\n\
         spec:\n  size: 1\n  bogus: 1\n",
    )?;
    let err = k
        .fails(&["create", "-f", &file, "--validate=strict"])
        .await?;
    ensure!(
        err.contains(r#"unknown field "spec.bogus""#),
        "strict validation error does not name the field:\n{err}"
    );

    let out = k.ok(&["api-resources", "--api-group=example.com"]).await?;
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("widgets"))
        .ok_or_else(|| anyhow!("no widgets row in:\n{out}"))?;
    expect_eq(
        row.split_whitespace().collect::<Vec<_>>(),
        vec!["widgets", "wd", "example.com/v1", "true", "Widget"],
        "widgets row",
    )?;

    let out = k.ok(&["explain", "widget.spec.size"]).await?;
    ensure!(
        out.contains("How big the widget is.") && out.contains("<integer>"),
        "unexpected explain output:\n{out}"
    );
    let out = k.ok(&["explain", "widgets.spec"]).await?;
    ensure!(
        out.contains("The desired state of the widget.") && out.contains("color"),
        "unexpected explain output:\n{out}"
    );
    Ok(())
}

async fn watch(k: &Kubectl) -> Result<()> {
    let ns = "watch";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "first", "-n", ns]).await?;

    let mut watcher = k.spawn(&["get", "cm", "-n", ns, "-w", "--output-watch-events"])?;
    let mut lines = stdout_lines(&mut watcher)?;
    let event = |kind: &'static str, name: &'static str| {
        move |w: &[&str]| w.first() == Some(&kind) && w.get(1) == Some(&name)
    };
    wait_for_line(&mut lines, "ADDED first", event("ADDED", "first")).await?;
    k.ok(&["create", "configmap", "second", "-n", ns]).await?;
    wait_for_line(&mut lines, "ADDED second", event("ADDED", "second")).await?;
    k.ok(&["label", "cm", "second", "-n", ns, "seen=yes"])
        .await?;
    wait_for_line(&mut lines, "MODIFIED second", event("MODIFIED", "second")).await?;
    k.ok(&["delete", "cm", "second", "-n", ns]).await?;
    wait_for_line(&mut lines, "DELETED second", event("DELETED", "second")).await?;
    watcher.kill().await?;

    // Plain `get -w` prints table rows: the header once, then NAME DATA AGE per event.
    let mut watcher = k.spawn(&["get", "cm", "-n", ns, "-w"])?;
    let mut lines = stdout_lines(&mut watcher)?;
    wait_for_line(&mut lines, "the header", |w| w == ["NAME", "DATA", "AGE"]).await?;
    wait_for_line(&mut lines, "first", |w| w.first() == Some(&"first")).await?;
    k.ok(&[
        "create",
        "configmap",
        "third",
        "-n",
        ns,
        "--from-literal=a=b",
    ])
    .await?;
    wait_for_line(&mut lines, "a row for third", |w| {
        w.len() == 3 && w[0] == "third" && w[1] == "1" && kubectl_support::is_age(w[2])
    })
    .await?;
    watcher.kill().await?;
    Ok(())
}

async fn api_resources(k: &Kubectl) -> Result<()> {
    let out = k.ok(&["api-resources"]).await?;
    let row = |name: &str| -> Result<Vec<String>> {
        out.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|w| w.first().map(String::as_str) == Some(name))
            .ok_or_else(|| anyhow!("no {name} row in:\n{out}"))
    };
    expect_eq(
        row("configmaps")?,
        vec!["configmaps", "cm", "v1", "true", "ConfigMap"]
            .into_iter()
            .map(String::from)
            .collect(),
        "configmaps row",
    )?;
    expect_eq(
        row("deployments")?,
        vec!["deployments", "deploy", "apps/v1", "true", "Deployment"]
            .into_iter()
            .map(String::from)
            .collect(),
        "deployments row",
    )?;
    expect_eq(
        row("namespaces")?,
        vec!["namespaces", "ns", "v1", "false", "Namespace"]
            .into_iter()
            .map(String::from)
            .collect(),
        "namespaces row",
    )?;

    let out = k.ok(&["api-resources", "-o", "wide"]).await?;
    let configmaps = out
        .lines()
        .find(|l| l.starts_with("configmaps "))
        .ok_or_else(|| anyhow!("no configmaps row in:\n{out}"))?;
    ensure!(
        configmaps.contains("create,delete,deletecollection,get,list,patch,update,watch"),
        "configmap verbs missing:\n{configmaps}"
    );

    let out = k
        .ok(&["api-resources", "--namespaced=false", "-o", "name"])
        .await?;
    let cluster_scoped = names(&out);
    ensure!(
        cluster_scoped.iter().any(|n| n == "namespaces")
            && !cluster_scoped.iter().any(|n| n == "configmaps"),
        "unexpected cluster-scoped resources:\n{out}"
    );

    let out = k.ok(&["api-versions"]).await?;
    for version in ["v1", "apps/v1", "apiextensions.k8s.io/v1"] {
        expect_line(&out, version)?;
    }
    Ok(())
}

async fn explain(k: &Kubectl) -> Result<()> {
    let out = k.ok(&["explain", "configmap.data"]).await?;
    ensure!(
        out.contains("ConfigMap")
            && out.contains("map[string]string")
            && out.contains("Data contains the configuration data."),
        "unexpected explain configmap.data:\n{out}"
    );
    let out = k.ok(&["explain", "deployment.spec.replicas"]).await?;
    ensure!(
        out.contains("Deployment") && out.contains("<integer>"),
        "unexpected explain deployment.spec.replicas:\n{out}"
    );
    Ok(())
}

async fn get_all(k: &Kubectl) -> Result<()> {
    let ns = "all";
    k.namespace(ns).await?;
    k.ok(&["create", "deployment", "web", "-n", ns, "--image=nginx"])
        .await?;
    k.ok(&[
        "create",
        "service",
        "clusterip",
        "web",
        "-n",
        ns,
        "--tcp=80:8080",
    ])
    .await?;
    k.ok(&["create", "configmap", "not-in-all", "-n", ns])
        .await?;
    let out = k.ok(&["get", "all", "-n", ns]).await?;
    let first: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    ensure!(
        first.contains(&"deployment.apps/web")
            && first.contains(&"service/web")
            && !out.contains("not-in-all"),
        "unexpected get all output:\n{out}"
    );
    Ok(())
}

async fn dry_run(k: &Kubectl) -> Result<()> {
    let ns = "dry";
    k.namespace(ns).await?;
    let out = k
        .ok(&[
            "create",
            "configmap",
            "ghost",
            "-n",
            ns,
            "--from-literal=a=b",
            "--dry-run=server",
        ])
        .await?;
    expect_line(&out, "configmap/ghost created (server dry run)")?;
    let obj = k
        .json(&[
            "create",
            "configmap",
            "ghost",
            "-n",
            ns,
            "--from-literal=a=b",
            "--dry-run=server",
        ])
        .await?;
    expect_eq(&obj["data"], &json!({"a": "b"}), "dry-run object")?;
    let file = k.manifest(
        "dry.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ghost\n  namespace: dry\n",
    )?;
    expect_line(
        &k.ok(&["apply", "-f", &file, "--dry-run=server"]).await?,
        "configmap/ghost created (server dry run)",
    )?;
    let err = k.fails(&["get", "cm", "ghost", "-n", ns]).await?;
    ensure!(err.contains("NotFound"), "dry run stored ghost:\n{err}");

    k.ok(&[
        "create",
        "configmap",
        "real",
        "-n",
        ns,
        "--from-literal=a=1",
    ])
    .await?;
    // kubectl patch prints no "(server dry run)" suffix (its printer drops the template).
    expect_line(
        &k.ok(&[
            "patch",
            "cm",
            "real",
            "-n",
            ns,
            "--type",
            "merge",
            "-p",
            r#"{"data":{"a":"2"}}"#,
            "--dry-run=server",
        ])
        .await?,
        "configmap/real patched",
    )?;
    expect_line(
        &k.ok(&["delete", "cm", "real", "-n", ns, "--dry-run=server"])
            .await?,
        r#"configmap "real" deleted (server dry run)"#,
    )?;
    expect_eq(
        k.jsonpath(&["get", "cm", "real", "-n", ns], "{.data.a}")
            .await?
            .as_str(),
        "1",
        "real after dry-run patch and delete",
    )?;
    Ok(())
}

async fn validation(k: &Kubectl) -> Result<()> {
    let ns = "validate";
    k.namespace(ns).await?;
    let manifest = |name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: validate\n\
             data:\n  a: b\nbogusField: 1\n"
        )
    };
    let strict = k.manifest("strict.yaml", &manifest("strict"))?;
    let err = k
        .fails(&["create", "-f", &strict, "--validate=strict"])
        .await?;
    ensure!(
        err.contains(r#"unknown field "bogusField""#),
        "strict validation error does not name the field:\n{err}"
    );
    k.fails(&["get", "cm", "strict", "-n", ns]).await?;

    let lax = k.manifest("lax.yaml", &manifest("lax"))?;
    expect_line(
        &k.ok(&["create", "-f", &lax, "--validate=false"]).await?,
        "configmap/lax created",
    )?;
    let obj = k.json(&["get", "cm", "lax", "-n", ns]).await?;
    ensure!(
        obj.get("bogusField").is_none(),
        "unknown field stored: {obj}"
    );

    let warn = k.manifest("warn.yaml", &manifest("warn"))?;
    let out = k.run(&["create", "-f", &warn, "--validate=warn"]).await?;
    ensure!(
        out.success && out.stderr.contains(r#"unknown field "bogusField""#),
        "--validate=warn should create with a warning:\n{}{}",
        out.stdout,
        out.stderr
    );
    Ok(())
}

async fn errors(k: &Kubectl) -> Result<()> {
    let ns = "errors";
    k.namespace(ns).await?;
    let err = k.fails(&["get", "cm", "nosuch", "-n", ns]).await?;
    expect_line(
        &err,
        r#"Error from server (NotFound): configmaps "nosuch" not found"#,
    )?;

    let out = k.run(&["get", "cm", "-n", ns]).await?;
    ensure!(
        out.success && out.stdout.is_empty(),
        "get in an empty namespace:\n{}{}",
        out.stdout,
        out.stderr
    );
    expect_line(&out.stderr, "No resources found in errors namespace.")?;

    k.ok(&["create", "configmap", "dup", "-n", ns]).await?;
    let err = k.fails(&["create", "configmap", "dup", "-n", ns]).await?;
    ensure!(
        err.contains(r#"configmaps "dup" already exists"#),
        "unexpected duplicate create error:\n{err}"
    );

    let err = k.fails(&["get", "nosuchkinds"]).await?;
    expect_line(
        &err,
        r#"error: the server doesn't have a resource type "nosuchkinds""#,
    )?;

    let err = k
        .fails(&["create", "configmap", "x", "-n", "missing"])
        .await?;
    ensure!(
        err.contains(r#"namespaces "missing" not found"#),
        "unexpected error for a missing namespace:\n{err}"
    );

    let err = k
        .fails(&["create", "configmap", "Bad_Name", "-n", ns])
        .await?;
    ensure!(
        err.contains(
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "unexpected error for an invalid name:\n{err}"
    );
    Ok(())
}
