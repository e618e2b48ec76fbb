//! Behaviours outside suites found to differ from kube-apiserver, each checked against what
//! upstream answers on the wire: the fresh token of an expired continue, the `Status` a DELETE
//! answers when the object is gone at once, graceful deletion of scheduled pods (and the
//! simulated kubelet finishing it), field selectors on unset fields, Node status kept on
//! create, `eventTime: null` in events.k8s.io/v1 and the pod columns on `pods/status` tables.

mod kube_support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use kube_support::{Stored, eventually, raw, start};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::Duration;

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

async fn post(client: &Client, uri: &str, body: Value) -> Value {
    let (code, v) = raw(client, "POST", uri, None, Some(&body)).await;
    assert_eq!(code, 201, "create at {uri}: {v}");
    v
}

fn pod(name: &str, node: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Seconds between two RFC 3339 timestamps.
fn seconds_between(a: &Value, b: &Value) -> i64 {
    let parse = |v: &Value| {
        v.as_str()
            .expect("timestamp")
            .parse::<jiff::Timestamp>()
            .expect("RFC 3339")
    };
    (parse(b) - parse(a)).get_seconds()
}

// ---------------------------------------------------------------------------------------------
// 3. An expired continue token
// ---------------------------------------------------------------------------------------------

/// storage/etcd3 `handleCompactedErrorForPaging`: the 410 carries, in `metadata.continue`, a
/// token that continues after the same key at the latest resourceVersion, and that token works.
#[tokio::test]
async fn expired_continue_answers_an_inconsistent_continue_token() {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory().history(8))
        .await
        .start()
        .await
        .expect("start");
    let client = server.client();
    for i in 0..6 {
        post(
            &client,
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}")}}),
        )
        .await;
    }
    let (code, first) = raw(&client, "GET", &format!("{CMS}?limit=2"), None, None).await;
    assert_eq!(code, 200, "{first}");
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("token")
        .to_string();
    // Objects created after the first page, then enough writes to push its snapshot out of
    // the history.
    for name in ["cm-90", "cm-91"] {
        post(
            &client,
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        )
        .await;
    }
    for i in 0..20 {
        let (code, v) = raw(
            &client,
            "PUT",
            &format!("{CMS}/cm-9{}", i % 2),
            None,
            Some(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-9{}", i % 2)}, "data": {"v": i.to_string()}})),
        )
        .await;
        assert_eq!(code, 200, "{v}");
    }
    let (code, gone) = raw(
        &client,
        "GET",
        &format!("{CMS}?limit=2&continue={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 410, "{gone}");
    let fresh = gone["metadata"]["continue"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("no continue token in {gone}"))
        .to_string();
    assert_eq!(
        gone,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {"continue": fresh},
            "status": "Failure",
            "message": "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            "reason": "Expired", "code": 410})
    );
    // The fresh token continues after cm-1, at the current state (cm-90 and cm-91 included).
    let (code, rest) = raw(
        &client,
        "GET",
        &format!("{CMS}?limit=100&continue={fresh}"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{rest}");
    assert_eq!(
        names(&rest),
        ["cm-2", "cm-3", "cm-4", "cm-5", "cm-90", "cm-91"]
    );
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        json!(server.rest().store.resource_version().to_string())
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. What a DELETE answers
// ---------------------------------------------------------------------------------------------

/// `finalizeDelete`: without `ReturnDeletedObject` an object removed at once is answered with a
/// `Status` whose details name the resource (as `kind`), group and uid; pods, services,
/// service accounts and namespaces return the object; an object that stays returns it.
#[tokio::test]
async fn delete_answers_a_status_unless_the_resource_returns_the_object() {
    let server = start().await;
    let client = server.client();
    let cm = post(
        &client,
        CMS,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}}),
    )
    .await;
    let (code, answer) = raw(&client, "DELETE", &format!("{CMS}/gone"), None, None).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "gone", "kind": "configmaps", "uid": cm["metadata"]["uid"]}})
    );

    let deploys = "/apis/apps/v1/namespaces/default/deployments";
    let d = post(
        &client,
        deploys,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    )
    .await;
    let (code, answer) = raw(&client, "DELETE", &format!("{deploys}/web"), None, None).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer["details"],
        json!({"name": "web", "group": "apps", "kind": "deployments", "uid": d["metadata"]["uid"]})
    );

    // A dry run answers as the deletion would.
    post(
        &client,
        CMS,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}),
    )
    .await;
    let (_, answer) = raw(
        &client,
        "DELETE",
        &format!("{CMS}/dry?dryRun=All"),
        None,
        None,
    )
    .await;
    assert_eq!(answer["kind"], "Status", "{answer}");

    // An object kept by a finalizer is answered as it now is.
    post(
        &client,
        CMS,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "finalizers": ["example.com/keep"]}}),
    )
    .await;
    let (_, answer) = raw(&client, "DELETE", &format!("{CMS}/kept"), None, None).await;
    assert_eq!(answer["kind"], "ConfigMap", "{answer}");
    assert!(
        answer["metadata"]["deletionTimestamp"].is_string(),
        "{answer}"
    );

    // Pods and service accounts return the deleted object.
    post(&client, PODS, pod("unscheduled", None)).await;
    let (_, answer) = raw(
        &client,
        "DELETE",
        &format!("{PODS}/unscheduled"),
        None,
        None,
    )
    .await;
    assert_eq!(answer["kind"], "Pod", "{answer}");
    let sas = "/api/v1/namespaces/default/serviceaccounts";
    post(
        &client,
        sas,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
    )
    .await;
    let (_, answer) = raw(&client, "DELETE", &format!("{sas}/robot"), None, None).await;
    assert_eq!(answer["kind"], "ServiceAccount", "{answer}");

    // kube-rs: `Either::Right(Status)` for a ConfigMap, `Either::Left(Pod)` for a pod.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-rs"}}),
        )
        .expect("configmap"),
    )
    .await
    .expect("create");
    let answer = cms
        .delete("kube-rs", &DeleteParams::default())
        .await
        .expect("delete");
    let status = answer.right().expect("a Status for a ConfigMap");
    assert_eq!(
        status.status,
        Some(kube::core::response::StatusSummary::Success)
    );
    let details = status.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("kube-rs", "configmaps")
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod("kube-rs", None)).expect("pod"),
    )
    .await
    .expect("create");
    let answer = pods
        .delete("kube-rs", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(answer.left().expect("the pod").name_any(), "kube-rs");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Graceful pod deletion
// ---------------------------------------------------------------------------------------------

/// `BeforeDelete` + the pod strategy's `CheckGracefulDelete`: a scheduled pod gets
/// `deletionTimestamp` = now + grace period and `deletionGracePeriodSeconds` (the request's,
/// else `terminationGracePeriodSeconds`, else 30) and stays; a later delete may only shorten
/// the period; `gracePeriodSeconds=0` and unscheduled pods are deleted at once.
#[tokio::test]
async fn scheduled_pods_are_deleted_gracefully() {
    let server = start().await;
    let client = server.client();
    post(&client, PODS, pod("p", Some("node-a"))).await;
    let (code, marked) = raw(&client, "DELETE", &format!("{PODS}/p"), None, None).await;
    assert_eq!(code, 200, "{marked}");
    assert_eq!(marked["kind"], "Pod", "{marked}");
    assert_eq!(
        marked["metadata"]["deletionGracePeriodSeconds"], 30,
        "{marked}"
    );
    let ahead = seconds_between(
        &json!(jiff::Timestamp::now().to_string()),
        &marked["metadata"]["deletionTimestamp"],
    );
    assert!(
        (28..=30).contains(&ahead),
        "deletionTimestamp {ahead} s ahead: {marked}"
    );
    let (code, still) = raw(&client, "GET", &format!("{PODS}/p"), None, None).await;
    assert_eq!(
        code, 200,
        "the pod stays until its kubelet removes it: {still}"
    );

    // The same or a longer period changes nothing; a shorter one moves the timestamp back.
    let (_, again) = raw(
        &client,
        "DELETE",
        &format!("{PODS}/p?gracePeriodSeconds=60"),
        None,
        None,
    )
    .await;
    assert_eq!(again["metadata"], marked["metadata"], "{again}");
    let (_, shorter) = raw(
        &client,
        "DELETE",
        &format!("{PODS}/p"),
        None,
        Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 10})),
    )
    .await;
    assert_eq!(
        shorter["metadata"]["deletionGracePeriodSeconds"], 10,
        "{shorter}"
    );
    assert_eq!(
        seconds_between(
            &shorter["metadata"]["deletionTimestamp"],
            &marked["metadata"]["deletionTimestamp"]
        ),
        20,
        "{shorter}"
    );
    // Zero deletes at once.
    let (code, gone) = raw(
        &client,
        "DELETE",
        &format!("{PODS}/p?gracePeriodSeconds=0"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{gone}");
    let (code, _) = raw(&client, "GET", &format!("{PODS}/p"), None, None).await;
    assert_eq!(code, 404);

    // The pod's own terminationGracePeriodSeconds is the default period.
    let mut own = pod("own", Some("node-a"));
    own["spec"]["terminationGracePeriodSeconds"] = json!(5);
    post(&client, PODS, own).await;
    let (_, marked) = raw(&client, "DELETE", &format!("{PODS}/own"), None, None).await;
    assert_eq!(
        marked["metadata"]["deletionGracePeriodSeconds"], 5,
        "{marked}"
    );

    // An unscheduled pod has no kubelet to wait for.
    post(&client, PODS, pod("pending", None)).await;
    raw(&client, "DELETE", &format!("{PODS}/pending"), None, None).await;
    let (code, _) = raw(&client, "GET", &format!("{PODS}/pending"), None, None).await;
    assert_eq!(code, 404);
    server.shutdown().await;
}

/// With simulated workloads, the kubelet finishes a graceful deletion: watchers see the pod
/// Terminating with its containers terminated, then deleted (after a short simulated delay,
/// not the grace period).
#[tokio::test]
async fn the_simulated_kubelet_finishes_graceful_deletion() {
    let server = kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .pod_termination_delay(Duration::from_millis(200)),
    )
    .await
    .start()
    .await
    .expect("start");
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod("web", None)).expect("pod"),
    )
    .await
    .expect("create");
    eventually("the pod runs", || async {
        let p = pods.get("web").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    let rv = pods
        .get("web")
        .await
        .expect("get")
        .resource_version()
        .expect("rv");
    let started = std::time::Instant::now();
    let answer = pods
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    let p = answer.left().expect("the terminating pod");
    assert!(p.metadata.deletion_timestamp.is_some(), "{p:?}");
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));
    let mut stream = pods
        .watch(&WatchParams::default().fields("metadata.name=web"), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut terminated_seen = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let event = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("the pod is removed in time")
            .expect("watch")
            .expect("stream open");
        match event {
            WatchEvent::Modified(p) => {
                let statuses = p
                    .status
                    .and_then(|s| s.container_statuses)
                    .unwrap_or_default();
                if !statuses.is_empty()
                    && statuses
                        .iter()
                        .all(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()))
                {
                    terminated_seen = true;
                }
            }
            WatchEvent::Deleted(_) => break,
            _ => {}
        }
    }
    assert!(terminated_seen, "containers were not seen terminated");
    assert!(started.elapsed() < Duration::from_secs(10));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Field selectors on unset fields
// ---------------------------------------------------------------------------------------------

/// `*ToSelectableFields` format the typed value: an unset bool is "false", an unset integer
/// "0", an unset string ""; defaulted pod fields are selected by their defaults.
#[tokio::test]
async fn field_selectors_see_unset_fields_as_their_zero_value() {
    let server = start().await;
    let client = server.client();
    post(
        &client,
        "/api/v1/nodes",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "plain"}}),
    )
    .await;
    post(
        &client,
        "/api/v1/nodes",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cordoned"}, "spec": {"unschedulable": true}}),
    )
    .await;
    let select = |uri: String| {
        let client = client.clone();
        async move {
            let (code, list) = raw(&client, "GET", &uri, None, None).await;
            assert_eq!(code, 200, "{uri}: {list}");
            names(&list)
        }
    };
    assert_eq!(
        select("/api/v1/nodes?fieldSelector=spec.unschedulable%3D%3Dfalse".into()).await,
        ["plain"]
    );
    assert_eq!(
        select("/api/v1/nodes?fieldSelector=spec.unschedulable!%3Dtrue".into()).await,
        ["plain"]
    );
    assert_eq!(
        select("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue".into()).await,
        ["cordoned"]
    );

    post(&client, PODS, pod("p", None)).await;
    assert_eq!(
        select(format!("{PODS}?fieldSelector=spec.hostNetwork%3Dfalse")).await,
        ["p"]
    );
    assert_eq!(
        select(format!("{PODS}?fieldSelector=status.podIP%3D,status.nominatedNodeName%3D,spec.serviceAccountName%3D")).await,
        ["p"]
    );
    // SetDefaults_PodSpec fills restartPolicy and schedulerName, which the selectors then see.
    assert_eq!(
        select(format!(
            "{PODS}?fieldSelector=spec.restartPolicy%3DAlways,spec.schedulerName%3Ddefault-scheduler,status.phase%3DPending"
        ))
        .await,
        ["p"]
    );

    let rss = "/apis/apps/v1/namespaces/default/replicasets";
    post(
        &client,
        rss,
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    )
    .await;
    assert_eq!(
        select(format!("{rss}?fieldSelector=status.replicas%3D0")).await,
        ["rs"]
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Node status on create
// ---------------------------------------------------------------------------------------------

/// `nodeStrategy.PrepareForCreate` does not clear status: a kubelet registers its node with
/// capacity and allocatable in one create.
#[tokio::test]
async fn node_create_keeps_its_status() {
    let server = start().await;
    let client = server.client();
    let created = post(
        &client,
        "/api/v1/nodes",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi"}, "allocatable": {"cpu": "3", "memory": "7Gi"}}}),
    )
    .await;
    assert_eq!(
        created["status"]["capacity"],
        json!({"cpu": "4", "memory": "8Gi"}),
        "{created}"
    );
    let (_, got) = raw(&client, "GET", "/api/v1/nodes/n1", None, None).await;
    assert_eq!(
        got["status"]["allocatable"],
        json!({"cpu": "3", "memory": "7Gi"}),
        "{got}"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 15. eventTime in events.k8s.io/v1, pods/status tables
// ---------------------------------------------------------------------------------------------

/// events.k8s.io/v1 `Event.eventTime` has no omitempty: an event created through core/v1
/// without one is served with `"eventTime": null`.
#[tokio::test]
async fn events_v1_serves_a_missing_event_time_as_null() {
    let server = start().await;
    let client = server.client();
    post(
        &client,
        "/api/v1/namespaces/default/events",
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started", "message": "started", "type": "Normal",
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1,
            "source": {"component": "kubelet"}}),
    )
    .await;
    let uri = "/apis/events.k8s.io/v1/namespaces/default/events";
    let (code, got) = raw(&client, "GET", &format!("{uri}/e1"), None, None).await;
    assert_eq!(code, 200, "{got}");
    assert!(
        got.as_object()
            .is_some_and(|o| o.get("eventTime") == Some(&Value::Null)),
        "eventTime must be present and null: {got}"
    );
    let (_, list) = raw(&client, "GET", uri, None, None).await;
    assert_eq!(list["items"][0]["eventTime"], Value::Null, "{list}");
    assert!(
        list["items"][0]
            .as_object()
            .is_some_and(|o| o.contains_key("eventTime")),
        "{list}"
    );
    server.shutdown().await;
}

/// The status subresource converts to a table with its resource's columns (upstream's
/// `StatusREST.ConvertToTable` is the store's).
#[tokio::test]
async fn pod_status_table_has_the_pod_columns() {
    let server = start().await;
    let client = server.client();
    post(&client, PODS, pod("p", None)).await;
    let (code, table) = raw(
        &client,
        "GET",
        &format!("{PODS}/p/status"),
        Some(TABLE),
        None,
    )
    .await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(table["kind"], "Table", "{table}");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        &columns[..5],
        ["Name", "Ready", "Status", "Restarts", "Age"],
        "{table}"
    );
    server.shutdown().await;
}

/// A dry-run create of a name that is taken is refused as the real create would be (upstream's
/// dry-run storage checks the key), and stores nothing.
#[tokio::test]
async fn dry_run_create_of_a_taken_name_is_already_exists() {
    let server = start().await;
    let c = server.client();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "taken"}});
    post(&c, CMS, cm.clone()).await;
    let before = Stored::of(&server).await;
    let (code, v) = raw(&c, "POST", &format!("{CMS}?dryRun=All"), None, Some(&cm)).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["reason"], "AlreadyExists", "{v}");
    assert_eq!(v["message"], r#"configmaps "taken" already exists"#, "{v}");
    // A free name still passes, and nothing is written either way.
    let free = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free"}});
    let (code, _) = raw(&c, "POST", &format!("{CMS}?dryRun=All"), None, Some(&free)).await;
    assert_eq!(code, 201);
    before
        .assert_unchanged(&server, "a dry run was stored")
        .await;
    server.shutdown().await;
}
