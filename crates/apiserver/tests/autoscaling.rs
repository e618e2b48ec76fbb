//! HorizontalPodAutoscalers end to end: upstream's defaulting (at v2, and at v1 through the
//! stored v2 form) and validation messages, and the horizontal pod autoscaler controller of a
//! cluster without a metrics server (the target kept within `minReplicas`..`maxReplicas`
//! through its scale subresource, `FailedGetScale` for a missing target, `ScalingDisabled` for a
//! target at zero, `AmbiguousSelector` for two autoscalers of one target, and the metrics
//! failure conditions and events), through kube-rs and raw requests, and with kubectl 1.27 and
//! 1.33 (`kubectl autoscale`, `get hpa`, `describe hpa`, a refused manifest).

mod kube_support;

mod kubectl_support;

use anyhow::{Context, Result, ensure};
use kube::Client;
use kube_support::{eventually, raw};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::Duration;

const V1: &str = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
const V2: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

async fn server() -> ApiServer {
    kube_support::start().await
}

async fn deployment(client: &Client, name: &str, replicas: i64) {
    let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (code, body) = raw(client, "POST", DEPLOYMENTS, None, Some(&body)).await;
    assert_eq!(code, 201, "{body}");
}

async fn replicas(client: &Client, name: &str) -> i64 {
    let (_, d) = raw(client, "GET", &format!("{DEPLOYMENTS}/{name}"), None, None).await;
    d.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(-1)
}

/// Creates a v2 autoscaler, which must succeed.
async fn create(client: &Client, body: &Value) {
    let (code, answer) = raw(client, "POST", V2, None, Some(body)).await;
    assert_eq!(code, 201, "{answer}");
}

fn hpa(name: &str, target: &str, min: Option<i64>, max: i64) -> Value {
    let mut spec = json!({"maxReplicas": max,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}});
    if let Some(min) = min {
        spec["minReplicas"] = json!(min);
    }
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name}, "spec": spec})
}

/// The condition `kind` of autoscaler `name`, once it has one with `reason`.
async fn condition(client: &Client, name: &str, kind: &str, reason: &str) -> Value {
    eventually(&format!("{name}'s {kind} condition {reason}"), || async {
        let (_, h) = raw(client, "GET", &format!("{V2}/{name}"), None, None).await;
        h.pointer("/status/conditions")
            .and_then(Value::as_array)?
            .iter()
            .find(|c| c["type"] == kind && c["reason"] == reason)
            .cloned()
    })
    .await
}

fn messages(status: &Value) -> Vec<String> {
    status
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{}: {}",
                c["field"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn autoscalers_are_defaulted_at_v2_and_through_v1() {
    let server = server().await;
    let client = server.client();
    let (code, created) = raw(&client, "POST", V2, None, Some(&hpa("a", "web", None, 3))).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["minReplicas"], 1);
    assert_eq!(
        created["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    // behavior, once given, is completed with upstream's rules.
    let mut with_behavior = hpa("b", "web", Some(2), 3);
    with_behavior["spec"]["behavior"] = json!({"scaleDown": {"stabilizationWindowSeconds": 60}});
    let (code, created) = raw(&client, "POST", V2, None, Some(&with_behavior)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["spec"]["behavior"],
        json!({"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}})
    );
    // A v1 autoscaler without a CPU target is stored as v2 and defaulted there, so both
    // versions read the 80% target back, as on a cluster.
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "c"},
        "spec": {"maxReplicas": 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
    let (code, created) = raw(&client, "POST", V1, None, Some(&v1)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["minReplicas"], 1);
    let (_, read) = raw(&client, "GET", &format!("{V1}/c"), None, None).await;
    assert_eq!(read["spec"]["targetCPUUtilizationPercentage"], 80, "{read}");
    let (_, read) = raw(&client, "GET", &format!("{V2}/c"), None, None).await;
    assert_eq!(
        read["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
}

#[tokio::test]
async fn invalid_autoscalers_get_upstreams_field_errors_and_nothing_is_stored() {
    let server = server().await;
    let client = server.client();
    let mut bad = hpa("bad", "", Some(5), 0);
    bad["spec"]["metrics"] = json!([
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}},
        {"type": "Pods", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 0}}},
    ]);
    bad["spec"]["behavior"] = json!({"scaleUp": {"selectPolicy": "Most",
        "policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}});
    let (code, status) = raw(&client, "POST", V2, None, Some(&bad)).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        messages(&status),
        [
            r#"spec.maxReplicas: Invalid value: 0: must be greater than 0"#,
            r#"spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"#,
            r#"spec.scaleTargetRef.name: Required value"#,
            r#"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"#,
            r#"spec.metrics[1].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"#,
            r#"spec.metrics[1].pods: Required value: must populate information for the given metric source"#,
            r#"spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", "Min""#,
            r#"spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero"#,
            r#"spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"#,
        ]
    );
    // A v1 autoscaler is checked on its v2 form, so its errors name v2's fields.
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "bad"},
        "spec": {"maxReplicas": 2, "targetCPUUtilizationPercentage": 0,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
    let (code, status) = raw(&client, "POST", V1, None, Some(&v1)).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"
    );
    let (code, _) = raw(&client, "GET", &format!("{V2}/bad"), None, None).await;
    assert_eq!(code, 404);
    // A status may not carry negative replica counts.
    create(&client, &hpa("ok", "nosuch", None, 2)).await;
    let (_, mut current) = raw(&client, "GET", &format!("{V2}/ok"), None, None).await;
    current["status"] = json!({"currentReplicas": -1, "desiredReplicas": 0});
    let (code, status) = raw(
        &client,
        "PUT",
        &format!("{V2}/ok/status"),
        None,
        Some(&current),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Invalid value: -1: must be greater than or equal to 0"
    );
}

#[tokio::test]
async fn the_controller_keeps_the_target_within_bounds_without_metrics() {
    // With simulated workloads: the ambiguity check looks at the target's pods.
    let server =
        kube_support::on_test_storage(ApiServer::builder().in_memory().simulate_workloads(true))
            .await
            .start()
            .await
            .expect("server starts");
    let client = server.client();
    deployment(&client, "web", 1).await;
    create(&client, &hpa("web", "web", Some(2), 4)).await;
    eventually("the target scaled up to minReplicas", || async {
        (replicas(&client, "web").await == 2).then_some(())
    })
    .await;
    let active = condition(&client, "web", "ScalingActive", "FailedGetResourceMetric").await;
    assert_eq!(active["status"], "False");
    assert_eq!(
        active["message"],
        "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
    );
    let (_, h) = raw(&client, "GET", &format!("{V2}/web"), None, None).await;
    assert_eq!(h["status"]["currentReplicas"], 2, "{h}");
    assert_eq!(h["status"]["desiredReplicas"], 2);
    assert_eq!(h["status"]["currentMetrics"], json!([{"type": ""}]));
    assert!(h["status"]["lastScaleTime"].is_string());
    // Scaled above maxReplicas by hand, the target is brought back.
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 9}});
    let (code, body) = raw(
        &client,
        "PUT",
        &format!("{DEPLOYMENTS}/web/scale"),
        None,
        Some(&scale),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    eventually("the target scaled down to maxReplicas", || async {
        (replicas(&client, "web").await == 4).then_some(())
    })
    .await;
    // The rescales are recorded as events, in upstream's words.
    let events = eventually("the rescale events", || async {
        let (_, list) = raw(
            &client,
            "GET",
            "/api/v1/namespaces/default/events",
            None,
            None,
        )
        .await;
        let messages: Vec<String> = list["items"]
            .as_array()?
            .iter()
            .filter(|e| e["reason"] == "SuccessfulRescale")
            .filter_map(|e| e["message"].as_str().map(String::from))
            .collect();
        (messages.len() >= 2).then_some(messages)
    })
    .await;
    assert!(
        events.contains(
            &"New size: 2; reason: Current number of replicas below Spec.MinReplicas".to_string()
        ),
        "{events:?}"
    );
    assert!(
        events.contains(
            &"New size: 4; reason: Current number of replicas above Spec.MaxReplicas".to_string()
        ),
        "{events:?}"
    );
    // A second autoscaler of the same pods makes the selector ambiguous.
    create(&client, &hpa("again", "web", Some(1), 5)).await;
    let ambiguous = condition(&client, "again", "ScalingActive", "AmbiguousSelector").await;
    assert_eq!(
        ambiguous["message"],
        "pods by selector app=web are controlled by multiple HPAs: [default/again default/web]"
    );
}

#[tokio::test]
async fn a_missing_target_and_a_target_at_zero_are_reported() {
    let server = server().await;
    let client = server.client();
    create(&client, &hpa("gone", "nosuch", None, 2)).await;
    let failed = condition(&client, "gone", "AbleToScale", "FailedGetScale").await;
    assert_eq!(failed["status"], "False");
    assert_eq!(
        failed["message"],
        "the HPA controller was unable to get the target's current scale: deployments.apps \"nosuch\" not found"
    );
    let mut unknown = hpa("unknown", "x", None, 2);
    unknown["spec"]["scaleTargetRef"]["kind"] = json!("Widget");
    let (code, _) = raw(&client, "POST", V2, None, Some(&unknown)).await;
    assert_eq!(code, 201);
    let failed = condition(&client, "unknown", "AbleToScale", "FailedGetScale").await;
    assert_eq!(
        failed["message"],
        "the HPA controller was unable to get the target's current scale: no matches for kind \"Widget\" in group \"apps\""
    );
    deployment(&client, "idle", 0).await;
    create(&client, &hpa("idle", "idle", Some(1), 3)).await;
    let disabled = condition(&client, "idle", "ScalingActive", "ScalingDisabled").await;
    assert_eq!(
        disabled["message"],
        "scaling is disabled since the replica count of the target is zero"
    );
    // Disabled means left alone, below minReplicas included.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(replicas(&client, "idle").await, 0);
}

kubectl_versions! {
    kubectl_1_27 => "1.27",
    kubectl_1_33 => "1.33",
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server =
        kube_support::on_test_storage(ApiServer::builder().in_memory().simulate_workloads(true))
            .await
            .start()
            .await
            .expect("server starts");
    let k = Kubectl::new(binary, &server).expect("preparing kubectl's home directory");
    if let Err(e) = scenarios(&k).await {
        panic!("kubectl {version}: {e:#}");
    }
}

/// Polls `kubectl get deploy web` until it has `expected` replicas.
async fn wait_for_replicas(k: &Kubectl, expected: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = k
            .jsonpath(&["get", "deploy", "web"], "{.spec.replicas}")
            .await?;
        if got == expected {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "web has {got} replicas, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenarios(k: &Kubectl) -> Result<()> {
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=1",
    ])
    .await?;
    k.ok(&["autoscale", "deployment", "web", "--min=2", "--max=4"])
        .await?;
    wait_for_replicas(k, "2").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let table = k.ok(&["get", "hpa", "web", "--no-headers"]).await?;
        let cells: Vec<&str> = table.split_whitespace().collect();
        if cells.get(1..7) == Some(&["Deployment/web", "cpu:", "<unknown>/80%", "2", "4", "2"][..])
        {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "unexpected hpa row: {table}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let described = k.ok(&["describe", "hpa", "web"]).await?;
    for expected in [
        "SuccessfulRescale",
        "New size: 2; reason: Current number of replicas below Spec.MinReplicas",
        "FailedGetResourceMetric",
    ] {
        ensure!(
            described.contains(expected),
            "describe lacks {expected:?}:\n{described}"
        );
    }
    k.ok(&["scale", "deployment", "web", "--replicas=9"])
        .await?;
    wait_for_replicas(k, "4").await?;
    k.rejects(
        &[
            "apply",
            "-f",
            &k.manifest("bad-hpa.yaml", BAD_HPA).context("manifest")?,
        ],
        &[
            "spec.maxReplicas: Invalid value: 0: must be greater than 0",
            "spec.scaleTargetRef.kind: Required value",
        ],
    )
    .await?;
    Ok(())
}

const BAD_HPA: &str = r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: bad
spec:
  maxReplicas: 0
  scaleTargetRef:
    apiVersion: apps/v1
    name: web
"#;
