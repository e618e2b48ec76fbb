//! ResourceQuotas and LimitRanges enforced end to end: the resourcequota controller's
//! `status.hard`/`status.used` (object counts, pod compute, claim storage, scopes), the
//! ResourceQuota admission plugin's refusals in upstream's words (`exceeded quota: …`,
//! `failed quota: …: must specify …`), concurrent creates against the last unit, dry runs
//! checked but not charged; the LimitRanger plugin's defaults and annotation, and its min, max
//! and ratio refusals for Pods and claims; malformed ResourceQuotas and LimitRanges refused with
//! upstream's causes (422 Invalid, nothing stored), quota scopes fixed once created, status
//! writes validated; through raw requests, kube-rs and kubectl 1.27 and 1.33 (`create quota`,
//! `get quota`'s REQUEST/LIMIT columns, refused creates, a refused manifest).

mod kube_support;

mod kubectl_support;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Pod, ResourceQuota};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube_support::{api_err, causes, configmap, eventually, names, namespace, raw};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::Duration;

async fn server() -> ApiServer {
    kube_support::start().await
}

fn path(ns: &str, resource: &str) -> String {
    format!("/api/v1/namespaces/{ns}/{resource}")
}

/// Creates `body` in `resource` of `ns`, which must succeed.
async fn create(client: &Client, ns: &str, resource: &str, body: &Value) -> Value {
    let (code, answer) = raw(client, "POST", &path(ns, resource), None, Some(body)).await;
    assert_eq!(code, 201, "{answer}");
    answer
}

/// Creates `body`, which must be refused with 403 Forbidden; answers the message.
async fn refused(client: &Client, ns: &str, resource: &str, body: &Value) -> String {
    let (code, answer) = raw(client, "POST", &path(ns, resource), None, Some(body)).await;
    assert_eq!(code, 403, "{answer}");
    assert_eq!(answer["reason"], "Forbidden", "{answer}");
    answer["message"].as_str().unwrap_or("").to_string()
}

fn quota(name: &str, hard: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
        "spec": {"hard": hard}})
}

/// Waits until quota `name`'s `status.used` is `used` (and `status.hard` is set).
async fn used_becomes(client: &Client, ns: &str, name: &str, used: Value) -> Value {
    let uri = format!("{}/{name}", path(ns, "resourcequotas"));
    eventually(&format!("quota {name} used {used}"), || async {
        let (_, q) = raw(client, "GET", &uri, None, None).await;
        (q.pointer("/status/used") == Some(&used) && q.pointer("/status/hard").is_some())
            .then_some(q)
    })
    .await
}

fn pod(name: &str, requests: Value, limits: Value) -> Value {
    let mut resources = json!({});
    if !requests.is_null() {
        resources["requests"] = requests;
    }
    if !limits.is_null() {
        resources["limits"] = limits;
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": resources}]}})
}

fn claim(name: &str, class: &str, storage: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
            "resources": {"requests": {"storage": storage}}}})
}

#[tokio::test]
async fn object_counts_are_tracked_and_enforced() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "counts").await;
    create(
        &client,
        "counts",
        "resourcequotas",
        &quota("qq", json!({"configmaps": "2"})),
    )
    .await;
    let q = used_becomes(&client, "counts", "qq", json!({"configmaps": "0"})).await;
    assert_eq!(q["status"]["hard"], json!({"configmaps": "2"}));
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "counts");
    // A dry run is checked but not charged.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    cms.create(&dry, &configmap("dry", &[], "x")).await.unwrap();
    cms.create(&PostParams::default(), &configmap("a", &[], "x"))
        .await
        .unwrap();
    used_becomes(&client, "counts", "qq", json!({"configmaps": "1"})).await;
    cms.create(&PostParams::default(), &configmap("b", &[], "x"))
        .await
        .unwrap();
    let err = api_err(
        cms.create(&PostParams::default(), &configmap("c", &[], "x"))
            .await,
        403,
        "Forbidden",
    );
    assert_eq!(
        err.message,
        "configmaps \"c\" is forbidden: exceeded quota: qq, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"
    );
    // The dry run of a create over the limit is refused too.
    let err = api_err(
        cms.create(&dry, &configmap("d", &[], "x")).await,
        403,
        "Forbidden",
    );
    assert!(
        err.message.contains("exceeded quota: qq"),
        "{}",
        err.message
    );
    // Deleting gives the unit back.
    cms.delete("a", &Default::default()).await.unwrap();
    used_becomes(&client, "counts", "qq", json!({"configmaps": "1"})).await;
    cms.create(&PostParams::default(), &configmap("c", &[], "x"))
        .await
        .unwrap();

    // count/<resource>.<group> for any resource, and the legacy names.
    create(
        &client,
        "counts",
        "resourcequotas",
        &quota(
            "objects",
            json!({"count/deployments.apps": "1", "secrets": "1", "services.loadbalancers": "0", "services": "5"}),
        ),
    )
    .await;
    used_becomes(
        &client,
        "counts",
        "objects",
        json!({"count/deployments.apps": "0", "secrets": "0", "services": "0", "services.loadbalancers": "0"}),
    )
    .await;
    let lb = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
    assert_eq!(
        refused(&client, "counts", "services", &lb).await,
        "services \"lb\" is forbidden: exceeded quota: objects, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0"
    );
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]}});
    create(&client, "counts", "services", &svc).await;
    used_becomes(
        &client,
        "counts",
        "objects",
        json!({"count/deployments.apps": "0", "secrets": "0", "services": "1", "services.loadbalancers": "0"}),
    )
    .await;
}

#[tokio::test]
async fn concurrent_creates_cannot_both_take_the_last_unit() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "race").await;
    create(
        &client,
        "race",
        "resourcequotas",
        &quota("one", json!({"count/deployments.apps": "1"})),
    )
    .await;
    used_becomes(
        &client,
        "race",
        "one",
        json!({"count/deployments.apps": "0"}),
    )
    .await;
    let uri = "/apis/apps/v1/namespaces/race/deployments";
    let creates = (0..6).map(|i| {
        let client = client.clone();
        async move {
            let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("d{i}")},
                "spec": {"selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
            raw(&client, "POST", uri, None, Some(&body)).await
        }
    });
    let answers = futures::future::join_all(creates).await;
    let created = answers.iter().filter(|(code, _)| *code == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for (code, body) in answers.iter().filter(|(code, _)| *code != 201) {
        assert_eq!(*code, 403, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .ends_with("is forbidden: exceeded quota: one, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"),
            "{body}"
        );
    }
    let (_, list) = raw(&client, "GET", uri, None, None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn pod_compute_is_summed_and_must_be_specified() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "compute").await;
    create(
        &client,
        "compute",
        "resourcequotas",
        &quota(
            "compute",
            json!({"pods": "3", "requests.cpu": "1", "limits.memory": "2Gi", "count/pods": "10"}),
        ),
    )
    .await;
    used_becomes(
        &client,
        "compute",
        "compute",
        json!({"count/pods": "0", "limits.memory": "0", "pods": "0", "requests.cpu": "0"}),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "compute",
            "pods",
            &pod("bare", Value::Null, Value::Null)
        )
        .await,
        "pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory for: nginx; requests.cpu for: nginx"
    );
    create(
        &client,
        "compute",
        "pods",
        &pod("a", json!({"cpu": "600m"}), json!({"memory": "512Mi"})),
    )
    .await;
    used_becomes(
        &client,
        "compute",
        "compute",
        json!({"count/pods": "1", "limits.memory": "512Mi", "pods": "1", "requests.cpu": "600m"}),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "compute",
            "pods",
            &pod("b", json!({"cpu": "500m"}), json!({"memory": "256Mi"}))
        )
        .await,
        "pods \"b\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"
    );
    // Requests default to limits before the quota is charged.
    create(
        &client,
        "compute",
        "pods",
        &pod("c", Value::Null, json!({"cpu": "400m", "memory": "1Gi"})),
    )
    .await;
    let err = refused(
        &client,
        "compute",
        "pods",
        &pod("d", json!({"cpu": "1m"}), json!({"memory": "1Gi"})),
    )
    .await;
    assert_eq!(
        err,
        "pods \"d\" is forbidden: exceeded quota: compute, requested: limits.memory=1Gi,requests.cpu=1m, used: limits.memory=1536Mi,requests.cpu=1, limited: limits.memory=2Gi,requests.cpu=1"
    );
    used_becomes(
        &client,
        "compute",
        "compute",
        json!({"count/pods": "2", "limits.memory": "1536Mi", "pods": "2", "requests.cpu": "1"}),
    )
    .await;
    // A pod that has ended uses no compute, only its object count.
    let (code, mut a) = raw(
        &client,
        "GET",
        &format!("{}/a", path("compute", "pods")),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    a["status"]["phase"] = json!("Succeeded");
    let (code, answer) = raw(
        &client,
        "PUT",
        &format!("{}/a/status", path("compute", "pods")),
        None,
        Some(&a),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    used_becomes(
        &client,
        "compute",
        "compute",
        json!({"count/pods": "2", "limits.memory": "1Gi", "pods": "1", "requests.cpu": "400m"}),
    )
    .await;
}

/// An in-place resize (`pods/resize`) is charged: one that raises requests beyond the quota is
/// refused with upstream's `exceeded quota` (the increase requested), one within it is taken
/// and shows in `status.used`.
#[tokio::test]
async fn resizes_are_charged() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "rz").await;
    create(
        &client,
        "rz",
        "resourcequotas",
        &quota("rz", json!({"requests.cpu": "1", "limits.memory": "1Gi"})),
    )
    .await;
    used_becomes(
        &client,
        "rz",
        "rz",
        json!({"limits.memory": "0", "requests.cpu": "0"}),
    )
    .await;
    create(
        &client,
        "rz",
        "pods",
        &pod("p", json!({"cpu": "400m"}), json!({"memory": "512Mi"})),
    )
    .await;
    used_becomes(
        &client,
        "rz",
        "rz",
        json!({"limits.memory": "512Mi", "requests.cpu": "400m"}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "rz");
    let resize = |cpu: &str| {
        Patch::Strategic(json!({"spec": {"containers": [{"name": "nginx",
            "resources": {"requests": {"cpu": cpu}}}]}}))
    };
    let err = pods
        .patch_subresource("resize", "p", &PatchParams::default(), &resize("1200m"))
        .await
        .expect_err("beyond the quota");
    let status = kube_support::status(err);
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "pods \"p\" is forbidden: exceeded quota: rz, requested: requests.cpu=800m, used: requests.cpu=400m, limited: requests.cpu=1"
    );
    let resized = pods
        .patch_subresource("resize", "p", &PatchParams::default(), &resize("700m"))
        .await
        .expect("within the quota");
    let requests = resized.spec.expect("spec").containers[0]
        .resources
        .as_ref()
        .and_then(|r| r.requests.clone())
        .expect("requests");
    assert_eq!(requests["cpu"].0, "700m");
    used_becomes(
        &client,
        "rz",
        "rz",
        json!({"limits.memory": "512Mi", "requests.cpu": "700m"}),
    )
    .await;
}

#[tokio::test]
async fn scopes_select_pods() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "scopes").await;
    let mut be = quota("be", json!({"pods": "1"}));
    be["spec"]["scopes"] = json!(["BestEffort"]);
    let mut nbe = quota("nbe", json!({"pods": "1"}));
    nbe["spec"]["scopes"] = json!(["NotBestEffort"]);
    let mut high = quota("high", json!({"pods": "0"}));
    high["spec"]["scopeSelector"] = json!({"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]});
    for q in [&be, &nbe, &high] {
        create(&client, "scopes", "resourcequotas", q).await;
    }
    for name in ["be", "nbe", "high"] {
        used_becomes(&client, "scopes", name, json!({"pods": "0"})).await;
    }
    create(
        &client,
        "scopes",
        "pods",
        &pod("free", Value::Null, Value::Null),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "scopes",
            "pods",
            &pod("free2", Value::Null, Value::Null)
        )
        .await,
        "pods \"free2\" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"
    );
    create(
        &client,
        "scopes",
        "pods",
        &pod("sized", json!({"cpu": "100m"}), Value::Null),
    )
    .await;
    used_becomes(&client, "scopes", "be", json!({"pods": "1"})).await;
    used_becomes(&client, "scopes", "nbe", json!({"pods": "1"})).await;
    used_becomes(&client, "scopes", "high", json!({"pods": "0"})).await;
}

#[tokio::test]
async fn claim_storage_is_limited_per_class() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "storage").await;
    create(
        &client,
        "storage",
        "resourcequotas",
        &quota(
            "disk",
            json!({"requests.storage": "1Gi", "persistentvolumeclaims": "5",
                "gold.storageclass.storage.k8s.io/requests.storage": "500Mi"}),
        ),
    )
    .await;
    used_becomes(
        &client,
        "storage",
        "disk",
        json!({"gold.storageclass.storage.k8s.io/requests.storage": "0", "persistentvolumeclaims": "0", "requests.storage": "0"}),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "storage",
            "persistentvolumeclaims",
            &claim("big", "gold", "600Mi")
        )
        .await,
        "persistentvolumeclaims \"big\" is forbidden: exceeded quota: disk, requested: gold.storageclass.storage.k8s.io/requests.storage=600Mi, used: gold.storageclass.storage.k8s.io/requests.storage=0, limited: gold.storageclass.storage.k8s.io/requests.storage=500Mi"
    );
    create(
        &client,
        "storage",
        "persistentvolumeclaims",
        &claim("a", "", "800Mi"),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "storage",
            "persistentvolumeclaims",
            &claim("b", "gold", "300Mi")
        )
        .await,
        "persistentvolumeclaims \"b\" is forbidden: exceeded quota: disk, requested: requests.storage=300Mi, used: requests.storage=800Mi, limited: requests.storage=1Gi"
    );
    create(
        &client,
        "storage",
        "persistentvolumeclaims",
        &claim("c", "gold", "200Mi"),
    )
    .await;
    used_becomes(
        &client,
        "storage",
        "disk",
        json!({"gold.storageclass.storage.k8s.io/requests.storage": "200Mi", "persistentvolumeclaims": "2", "requests.storage": "1000Mi"}),
    )
    .await;
}

fn limit_range(limits: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
        "spec": {"limits": limits}})
}

#[tokio::test]
async fn limit_ranges_default_and_bound_pods() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "ranges").await;
    let lr = create(
        &client,
        "ranges",
        "limitranges",
        &limit_range(json!([
            {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
             "defaultRequest": {"cpu": "100m"}, "min": {"cpu": "50m"}, "max": {"cpu": "1"},
             "maxLimitRequestRatio": {"cpu": "5"}},
            {"type": "Pod", "max": {"memory": "1Gi"}}
        ])),
    )
    .await;
    // Upstream's v1 defaults: defaultRequest from default.
    assert_eq!(
        lr["spec"]["limits"][0]["defaultRequest"],
        json!({"cpu": "100m", "memory": "256Mi"})
    );
    let p = create(
        &client,
        "ranges",
        "pods",
        &pod("nginx", Value::Null, Value::Null),
    )
    .await;
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx"
    );
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
    );
    // Limits a container states give its requests, as the pod's defaults would.
    let p = create(
        &client,
        "ranges",
        "pods",
        &pod("own", Value::Null, json!({"cpu": "200m"})),
    )
    .await;
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: memory request for container nginx; memory limit for container nginx"
    );
    assert_eq!(
        p["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "200m", "memory": "256Mi"})
    );
    assert_eq!(
        refused(
            &client,
            "ranges",
            "pods",
            &pod("small", json!({"cpu": "20m"}), json!({"cpu": "40m"}))
        )
        .await,
        "pods \"small\" is forbidden: minimum cpu usage per Container is 50m, but request is 20m"
    );
    assert_eq!(
        refused(
            &client,
            "ranges",
            "pods",
            &pod(
                "big",
                json!({"cpu": "100m"}),
                json!({"cpu": "2", "memory": "2Gi"})
            )
        )
        .await,
        "pods \"big\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, cpu max limit to request ratio per Container is 5, but provided ratio is 20.000000, maximum memory usage per Pod is 1Gi, but limit is 2Gi]"
    );
}

#[tokio::test]
async fn limit_ranges_bound_claims() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "claims").await;
    create(
        &client,
        "claims",
        "limitranges",
        &limit_range(json!([
            {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "2Gi"}}
        ])),
    )
    .await;
    assert_eq!(
        refused(
            &client,
            "claims",
            "persistentvolumeclaims",
            &claim("tiny", "", "500Mi")
        )
        .await,
        "persistentvolumeclaims \"tiny\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    );
    assert_eq!(
        refused(
            &client,
            "claims",
            "persistentvolumeclaims",
            &claim("huge", "", "3Gi")
        )
        .await,
        "persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 3Gi"
    );
    create(
        &client,
        "claims",
        "persistentvolumeclaims",
        &claim("ok", "", "1536Mi"),
    )
    .await;
}

/// Posts `body`, whose quantity does not parse: refused by decoding (400), as Go's decoder
/// refuses it.
async fn quantity_refused(client: &Client, ns: &str, resource: &str, body: &Value, kind: &str) {
    let (code, answer) = raw(client, "POST", &path(ns, resource), None, Some(body)).await;
    assert_eq!(
        (code, &answer["reason"]),
        (400, &json!("BadRequest")),
        "{answer}"
    );
    assert_eq!(
        answer["message"],
        format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    );
}

#[tokio::test]
async fn malformed_resource_quotas_are_refused_with_upstreams_causes() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "badq").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "badq");
    let scopes = |s: &str| format!("[]core.ResourceQuotaScope{{{s}}}");
    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            json!({"hard": {"foo": "1"}}),
            vec![
                r#"spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified"#.into(),
                r#"spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota"#.into(),
            ],
        ),
        (
            json!({"hard": {"storage": "1Gi"}}),
            vec![r#"spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota"#.into()],
        ),
        (
            json!({"hard": {"requests.cpu": "-1"}}),
            vec![r#"spec.hard[requests.cpu]: Invalid value: "-1": must be greater than or equal to 0"#.into()],
        ),
        (
            json!({"hard": {"pods": "1.5", "example.com/gpu": "500m"}}),
            vec![
                "spec.hard[example.com/gpu]: Invalid value: 500m: must be an integer".into(),
                "spec.hard[pods]: Invalid value: 1500m: must be an integer".into(),
            ],
        ),
        (
            json!({"hard": {"requests.storage": "1Gi"}, "scopes": ["Terminating"]}),
            vec![format!(
                "spec.scopes: Invalid value: {}: unsupported scope applied to resource",
                scopes(r#""Terminating""#)
            )],
        ),
        (
            json!({"hard": {"pods": "1"}, "scopes": ["Sometimes", "BestEffort", "NotBestEffort"]}),
            vec![
                format!(
                    "spec.scopes: Invalid value: {}: unsupported scope",
                    scopes(r#""Sometimes", "BestEffort", "NotBestEffort""#)
                ),
                format!(
                    "spec.scopes: Invalid value: {}: conflicting scopes",
                    scopes(r#""Sometimes", "BestEffort", "NotBestEffort""#)
                ),
            ],
        ),
        (
            json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "BestEffort", "operator": "In", "values": ["x"]}]}}),
            vec!["spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity".into()],
        ),
        (
            json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In"}]}}),
            vec!["spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector".into()],
        ),
        (
            json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "Exists", "values": ["high"]}]}}),
            vec!["spec.scopeSelector.matchExpressions.values: Invalid value: []string{\"high\"}: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector".into()],
        ),
        (
            json!({"hard": {"services": "1"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "NotTerminating", "operator": "Exists"}]}}),
            vec![r#"spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{core.ScopedResourceSelectorRequirement{ScopeName:"NotTerminating", Operator:"Exists", Values:[]string(nil)}}}: unsupported scope applied to resource"#.into()],
        ),
    ];
    for (i, (spec, expected)) in cases.into_iter().enumerate() {
        let body: ResourceQuota =
            serde_json::from_value(json!({"metadata": {"name": format!("bad-{i}")}, "spec": spec}))
                .expect("quota");
        let s = api_err(
            quotas.create(&PostParams::default(), &body).await,
            422,
            "Invalid",
        );
        assert_eq!(causes(&s), expected, "case {i}: {spec}");
        let details = s.details.as_ref().expect("details");
        assert_eq!(
            (details.kind.as_str(), details.name.as_str()),
            ("ResourceQuota", format!("bad-{i}").as_str())
        );
        if i == 1 {
            assert_eq!(
                s.message,
                r#"ResourceQuota "bad-1" is invalid: spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota"#
            );
        }
    }
    // A cause reported twice is named once in the message, as upstream's aggregate does.
    let s = api_err(
        quotas
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "twice"},
                    "spec": {"hard": {"services": "1", "secrets": "1"}, "scopes": ["BestEffort"]}}))
                .expect("quota"),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(causes(&s).len(), 2);
    assert_eq!(
        s.message,
        format!(
            "ResourceQuota \"twice\" is invalid: spec.scopes: Invalid value: {}: unsupported scope applied to resource",
            scopes(r#""BestEffort""#)
        )
    );
    // A quantity that does not parse is refused by decoding, as Go's decoder refuses it.
    quantity_refused(
        &client,
        "badq",
        "resourcequotas",
        &quota("words", json!({"pods": "ten"})),
        "ResourceQuota",
    )
    .await;
    let stored = quotas.list(&ListParams::default()).await.unwrap();
    assert!(stored.items.is_empty(), "{:?}", names(&stored.items));
}

/// Drops `metadata.resourceVersion`: the write is unconditional.
fn unconditional(obj: &mut Value) {
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
}

#[tokio::test]
async fn quota_updates_keep_scopes_and_status_writes_are_validated() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "updq").await;
    let mut q = quota("terminating", json!({"pods": "2"}));
    q["spec"]["scopes"] = json!(["Terminating"]);
    create(&client, "updq", "resourcequotas", &q).await;
    let stored = used_becomes(&client, "updq", "terminating", json!({"pods": "0"})).await;
    let uri = format!("{}/terminating", path("updq", "resourcequotas"));
    // The hard limits may change, the scopes may not.
    // (Unconditional writes: the controller may write the status meanwhile.)
    let mut raised = stored.clone();
    unconditional(&mut raised);
    raised["spec"]["hard"]["pods"] = json!("3");
    let (code, answer) = raw(&client, "PUT", &uri, None, Some(&raised)).await;
    assert_eq!(code, 200, "{answer}");
    let mut rescoped = answer.clone();
    unconditional(&mut rescoped);
    rescoped["spec"]["scopes"] = json!(["NotTerminating"]);
    let (code, refusal) = raw(&client, "PUT", &uri, None, Some(&rescoped)).await;
    assert_eq!(code, 422, "{refusal}");
    assert_eq!(
        refusal["message"],
        r#"ResourceQuota "terminating" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotTerminating"}: field is immutable"#
    );
    // Status writes: names and quantities checked; a valid one is kept.
    let mut bad_status = answer.clone();
    unconditional(&mut bad_status);
    bad_status["status"]["used"] = json!({"pods": "-1", "widgets": "1"});
    let (code, refusal) = raw(
        &client,
        "PUT",
        &format!("{uri}/status"),
        None,
        Some(&bad_status),
    )
    .await;
    assert_eq!(code, 422, "{refusal}");
    let fields: Vec<(&str, &str)> = refusal["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "status.used[pods]",
                r#"Invalid value: "-1": must be greater than or equal to 0"#
            ),
            (
                "status.used[widgets]",
                r#"Invalid value: "widgets": must be a standard resource type or fully qualified"#
            ),
            (
                "status.used[widgets]",
                r#"Invalid value: "widgets": must be a standard resource for quota"#
            ),
        ]
    );
    let (_, now) = raw(&client, "GET", &uri, None, None).await;
    assert_eq!(now["spec"]["scopes"], json!(["Terminating"]));
    assert_eq!(now["spec"]["hard"], json!({"pods": "3"}));
    assert_ne!(now["status"]["used"]["pods"], json!("-1"));
}

#[tokio::test]
async fn malformed_limit_ranges_are_refused_with_upstreams_causes() {
    let server = server().await;
    let client = server.client();
    namespace(&client, "badlr").await;
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "badlr");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!([{"type": "Node", "max": {"cpu": "1"}}]),
            vec![
                r#"spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified"#,
            ],
        ),
        (
            json!([{"type": "Pod", "max": {"cpu": "1"}}, {"type": "Pod", "max": {"memory": "1Gi"}}]),
            vec![r#"spec.limits[1].type: Duplicate value: "Pod""#],
        ),
        (
            json!([{"type": "Container", "max": {"requests.cpu": "1"}}]),
            vec![
                r#"spec.limits[0].max[requests.cpu]: Invalid value: "requests.cpu": must be a standard resource for containers"#,
                // The defaults copy max into default and defaultRequest, as upstream's.
                r#"spec.limits[0].default[requests.cpu]: Invalid value: "requests.cpu": must be a standard resource for containers"#,
                r#"spec.limits[0].defaultRequest[requests.cpu]: Invalid value: "requests.cpu": must be a standard resource for containers"#,
            ],
        ),
        (
            json!([{"type": "Pod", "max": {"cpu": "2"}, "default": {"cpu": "1"}}]),
            vec!["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"],
        ),
        (
            json!([{"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}]),
            vec![
                "spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
            ],
        ),
        (
            json!([{"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1",
            ],
        ),
        (
            json!([{"type": "Container", "min": {"memory": "1Gi"}, "defaultRequest": {"memory": "512Mi"}}]),
            vec![
                "spec.limits[0].defaultRequest[memory]: Invalid value: 512Mi: min value 1Gi is greater than default request value 512Mi",
            ],
        ),
        (
            json!([{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "1"}}]),
            vec![
                "spec.limits[0].defaultRequest[cpu]: Invalid value: 1: default request value 1 is greater than default limit value 500m",
            ],
        ),
        (
            json!([{"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}, "defaultRequest": {"cpu": "500m"}}]),
            vec![
                "spec.limits[0].default[cpu]: Invalid value: 1: default value 2 is greater than max value 1",
            ],
        ),
        (
            json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}]),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is less than 1",
            ],
        ),
        (
            json!([{"type": "Pod", "min": {"memory": "1Gi"}, "max": {"memory": "2Gi"}, "maxLimitRequestRatio": {"memory": "3"}}]),
            vec![
                "spec.limits[0].maxLimitRequestRatio[memory]: Invalid value: 3: ratio 3 is greater than max/min = 2.000000",
            ],
        ),
        (
            json!([{"type": "Container", "default": {"example.com/gpu": "2"}, "defaultRequest": {"example.com/gpu": "1"}}]),
            vec![
                "spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: 1: default value 2 must equal to defaultRequest value 1 in example.com/gpu",
            ],
        ),
    ];
    for (i, (limits, expected)) in cases.into_iter().enumerate() {
        let body: LimitRange = serde_json::from_value(
            json!({"metadata": {"name": format!("bad-{i}")}, "spec": {"limits": limits}}),
        )
        .expect("limit range");
        let s = api_err(
            ranges.create(&PostParams::default(), &body).await,
            422,
            "Invalid",
        );
        assert_eq!(causes(&s), expected, "case {i}: {limits}");
    }
    quantity_refused(
        &client,
        "badlr",
        "limitranges",
        &limit_range(json!([{"type": "Container", "max": {"cpu": "1 core"}}])),
        "LimitRange",
    )
    .await;
    let stored = ranges.list(&ListParams::default()).await.unwrap();
    assert!(stored.items.is_empty(), "{:?}", names(&stored.items));
    // An update is validated too.
    let lr = create(
        &client,
        "badlr",
        "limitranges",
        &limit_range(json!([{"type": "Container", "max": {"cpu": "1"}}])),
    )
    .await;
    let mut broken = lr.clone();
    broken["spec"]["limits"][0]["min"] = json!({"cpu": "2"});
    let (code, refusal) = raw(
        &client,
        "PUT",
        &format!("{}/limits", path("badlr", "limitranges")),
        None,
        Some(&broken),
    )
    .await;
    assert_eq!(code, 422, "{refusal}");
    assert_eq!(
        refusal["details"]["causes"][0]["message"],
        "Invalid value: 2: min value 2 is greater than max value 1"
    );
}

kubectl_versions! {
    kubectl_1_27 => "1.27",
    kubectl_1_33 => "1.33",
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server = server().await;
    let k = Kubectl::new(binary, &server).expect("preparing kubectl's home directory");
    if let Err(e) = scenarios(&k).await {
        panic!("kubectl {version}: {e:#}");
    }
}

/// Polls `kubectl get quota <name> --no-headers` until its row is `expected` (after the name
/// and age columns).
async fn quota_row(k: &Kubectl, name: &str, expected: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let out = k.ok(&["get", "quota", name, "-n", "kq"]).await?;
        let row = out.lines().nth(1).unwrap_or("");
        let cells: Vec<&str> = row
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if cells.get(2..).map(|c| c.join(" | ")).as_deref() == Some(expected) {
            ensure!(
                out.lines()
                    .next()
                    .is_some_and(|h| h.split_whitespace().collect::<Vec<_>>()
                        == ["NAME", "AGE", "REQUEST", "LIMIT"]),
                "unexpected header:\n{out}"
            );
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "quota {name}: expected {expected:?}, got:\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenarios(k: &Kubectl) -> Result<()> {
    k.namespace("kq").await?;
    k.ok(&[
        "create",
        "quota",
        "qq",
        "-n",
        "kq",
        "--hard=configmaps=2,requests.cpu=1,limits.cpu=2",
    ])
    .await?;
    quota_row(
        k,
        "qq",
        "configmaps: 0/2, requests.cpu: 0/1 | limits.cpu: 0/2",
    )
    .await?;
    k.ok(&["create", "configmap", "one", "-n", "kq"]).await?;
    k.ok(&["create", "configmap", "two", "-n", "kq"]).await?;
    k.rejects(
        &["create", "configmap", "three", "-n", "kq"],
        &["configmaps \"three\" is forbidden: exceeded quota: qq, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"],
    )
    .await?;
    k.rejects(
        &["run", "web", "--image=nginx", "-n", "kq"],
        &["pods \"web\" is forbidden: failed quota: qq: must specify limits.cpu for: web; requests.cpu for: web"],
    )
    .await?;
    k.apply("limits.yaml", LIMITS).await?;
    k.ok(&["run", "web", "--image=nginx", "-n", "kq"]).await?;
    let annotation = k
        .jsonpath(
            &["get", "pod", "web", "-n", "kq"],
            "{.metadata.annotations.kubernetes\\.io/limit-ranger}",
        )
        .await?;
    ensure!(
        annotation
            == "LimitRanger plugin set: cpu request for container web; cpu limit for container web",
        "annotation: {annotation}"
    );
    quota_row(
        k,
        "qq",
        "configmaps: 2/2, requests.cpu: 250m/1 | limits.cpu: 500m/2",
    )
    .await?;
    let bad = k.manifest("bad-quota.yaml", BAD_QUOTA)?;
    k.rejects(
        &["create", "-f", &bad],
        &[r#"The ResourceQuota "bad" is invalid: spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0"#],
    )
    .await?;
    let bad = k.manifest("bad-limits.yaml", BAD_LIMITS)?;
    k.rejects(
        &["apply", "-f", &bad],
        &[r#"The LimitRange "bad" is invalid: spec.limits[0].min[memory]: Invalid value: 2Gi: min value 2Gi is greater than max value 1Gi"#],
    )
    .await?;
    let listed = k
        .ok(&["get", "quota,limits", "-n", "kq", "-o", "name"])
        .await?;
    ensure!(
        !listed.contains("/bad"),
        "a refused object was stored:\n{listed}"
    );
    Ok(())
}

const BAD_QUOTA: &str = r#"
apiVersion: v1
kind: ResourceQuota
metadata:
  name: bad
  namespace: kq
spec:
  hard:
    pods: "-1"
"#;

const BAD_LIMITS: &str = r#"
apiVersion: v1
kind: LimitRange
metadata:
  name: bad
  namespace: kq
spec:
  limits:
  - type: Pod
    min:
      memory: 2Gi
    max:
      memory: 1Gi
"#;

const LIMITS: &str = r#"
apiVersion: v1
kind: LimitRange
metadata:
  name: cpu
  namespace: kq
spec:
  limits:
  - type: Container
    default:
      cpu: 500m
    defaultRequest:
      cpu: 250m
"#;
