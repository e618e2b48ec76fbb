//! What a fresh cluster has without anyone creating it: the `kubernetes` Service in `default`
//! with its Endpoints and EndpointSlice pointing at the server, and a `default` ServiceAccount in
//! every namespace; each is put back when deleted.

mod kube_support;

use kube_support::{eventually, raw};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};

const DEFAULT: &str = "/api/v1/namespaces/default";

/// GETs `path`: its status code and body.
async fn get(client: &kube::Client, path: &str) -> (u16, Value) {
    let (code, body) = raw(client, "GET", path, None, None).await;
    (code, body)
}

/// GETs `path`, which must be there: the server writes its own objects before `start` returns.
async fn present(client: &kube::Client, path: &str) -> Value {
    let (code, body) = get(client, path).await;
    assert_eq!(code, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn the_kubernetes_service_points_at_the_server_and_comes_back() {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts");
    let client = server.client();
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();

    let svc = present(&client, &format!("{DEFAULT}/services/kubernetes")).await;
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1", "{svc}");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}])
    );
    assert_eq!(
        svc["metadata"]["labels"],
        json!({"component": "apiserver", "provider": "kubernetes"})
    );
    assert!(svc["spec"].get("selector").is_none());

    let ep = present(&client, &format!("{DEFAULT}/endpoints/kubernetes")).await;
    assert_eq!(
        ep["subsets"],
        json!([{"addresses": [{"ip": "127.0.0.1"}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}])
    );
    let slice = present(
        &client,
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
    )
    .await;
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "kubernetes"
    );
    assert_eq!(slice["endpoints"][0]["addresses"], json!(["127.0.0.1"]));

    // Endpoints changed by hand are put back.
    let (_, mut changed) = get(&client, &format!("{DEFAULT}/endpoints/kubernetes")).await;
    changed["subsets"] = json!([{"addresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 1}]}]);
    let (code, body) = raw(
        &client,
        "PUT",
        &format!("{DEFAULT}/endpoints/kubernetes"),
        None,
        Some(&changed),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    eventually("the Endpoints repaired", || async {
        let (_, ep) = get(&client, &format!("{DEFAULT}/endpoints/kubernetes")).await;
        (ep["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1").then_some(())
    })
    .await;

    // Deleted, the Service comes back, with its Endpoints.
    let (code, body) = raw(
        &client,
        "DELETE",
        &format!("{DEFAULT}/services/kubernetes"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    eventually("the Service back", || async {
        let (code, svc) = get(&client, &format!("{DEFAULT}/services/kubernetes")).await;
        let (_, ep) = get(&client, &format!("{DEFAULT}/endpoints/kubernetes")).await;
        (code == 200
            && svc["spec"]["clusterIP"] == "10.96.0.1"
            && ep["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1")
            .then_some(())
    })
    .await;
    server.shutdown().await;
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn every_namespace_has_a_default_service_account() {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts");
    let client = server.client();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        present(
            &client,
            &format!("/api/v1/namespaces/{ns}/serviceaccounts/default"),
        )
        .await;
    }
    let (code, _) = raw(
        &client,
        "POST",
        "/api/v1/namespaces",
        None,
        Some(&json!({"metadata": {"name": "team-a"}})),
    )
    .await;
    assert_eq!(code, 201);
    let sa = "/api/v1/namespaces/team-a/serviceaccounts";
    eventually("default ServiceAccount in team-a", || async {
        let (code, list) = get(&client, sa).await;
        (code == 200 && names(&list) == ["default"]).then_some(())
    })
    .await;
    let (code, first) = get(&client, &format!("{sa}/default")).await;
    assert_eq!(code, 200);
    let (code, _) = raw(&client, "DELETE", &format!("{sa}/default"), None, None).await;
    assert_eq!(code, 200);
    eventually("it is created again", || async {
        let (code, again) = get(&client, &format!("{sa}/default")).await;
        (code == 200 && again["metadata"]["uid"] != first["metadata"]["uid"]).then_some(())
    })
    .await;
    // Other ServiceAccounts are left alone.
    let (code, _) = raw(
        &client,
        "POST",
        sa,
        None,
        Some(&json!({"metadata": {"name": "builder"}})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _) = raw(&client, "DELETE", &format!("{sa}/builder"), None, None).await;
    assert_eq!(code, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, list) = get(&client, sa).await;
    assert_eq!(names(&list), ["default"]);
    server.shutdown().await;
}

const APISERVICES: &str = "/apis/apiregistration.k8s.io/v1/apiservices";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// The names of every APIService.
async fn api_service_names(client: &kube::Client) -> Vec<String> {
    let list = present(client, APISERVICES).await;
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// As `kubectl get apiservices` on a cluster: one `Local` APIService per served group version
/// (none for apiregistration.k8s.io itself), kept by the server: a CRD's appears and goes with
/// it, and users may read them but not write them.
#[tokio::test]
async fn every_served_group_version_has_a_local_api_service() {
    let server = ApiServer::builder()
        .in_memory()
        .start()
        .await
        .expect("server starts");
    let client = server.client();
    let names = api_service_names(&client).await;
    for name in [
        "v1.",
        "v1.apps",
        "v1.autoscaling",
        "v2.autoscaling",
        "v1.batch",
        "v1.apiextensions.k8s.io",
        "v1.flowcontrol.apiserver.k8s.io",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.ends_with("apiregistration.k8s.io")),
        "{names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "listed by name");

    let core = present(&client, &format!("{APISERVICES}/v1.")).await;
    assert_eq!(
        core["spec"],
        json!({"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}),
        "{core}"
    );
    assert_eq!(
        core["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"],
        "onstart"
    );
    let condition = &core["status"]["conditions"][0];
    assert_eq!(
        (
            &condition["type"],
            &condition["status"],
            &condition["reason"]
        ),
        (&json!("Available"), &json!("True"), &json!("Local")),
        "{core}"
    );
    let hpa = present(&client, &format!("{APISERVICES}/v2.autoscaling")).await;
    assert_eq!(
        hpa["spec"],
        json!({"group": "autoscaling", "version": "v2", "groupPriorityMinimum": 17500, "versionPriority": 30})
    );

    // kubectl's columns.
    let (code, table) = raw(
        &client,
        "GET",
        &format!("{APISERVICES}/v1.apps"),
        Some(TABLE),
        None,
    )
    .await;
    assert_eq!(code, 200, "{table}");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(columns, ["Name", "Service", "Available", "Age"]);
    assert_eq!(
        table["rows"][0]["cells"]
            .as_array()
            .map(|c| c[..3].to_vec()),
        Some(vec![json!("v1.apps"), json!("Local"), json!("True")])
    );

    // Read-only: discovery says so, and writes are refused without a change.
    let (_, discovery) = raw(
        &client,
        "GET",
        "/apis/apiregistration.k8s.io/v1",
        None,
        None,
    )
    .await;
    assert_eq!(
        discovery["resources"][0]["verbs"],
        json!(["get", "list", "watch"]),
        "{discovery}"
    );
    for (method, path, body) in [
        ("DELETE", format!("{APISERVICES}/v1.apps"), None),
        ("PUT", format!("{APISERVICES}/v1.apps"), Some(&hpa)),
        ("POST", APISERVICES.to_string(), Some(&hpa)),
        ("PUT", format!("{APISERVICES}/v1.apps/status"), Some(&hpa)),
    ] {
        let (code, status) = raw(&client, method, &path, None, body).await;
        assert_eq!(
            (code, status["reason"].as_str()),
            (405, Some("MethodNotAllowed")),
            "{method} {path}: {status}"
        );
    }
    assert_eq!(api_service_names(&client).await, names);

    // A CRD's group version gets one at the CRDs' priority, kept continuously.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object"}}}],
        },
    });
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let (code, body) = raw(&client, "POST", crds, None, Some(&crd)).await;
    assert_eq!(code, 201, "{body}");
    let widget = eventually("the CRD's APIService", || async {
        let (code, body) = get(&client, &format!("{APISERVICES}/v1alpha1.example.com")).await;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(
        widget["spec"],
        json!({"group": "example.com", "version": "v1alpha1", "groupPriorityMinimum": 1000, "versionPriority": 100})
    );
    assert_eq!(
        widget["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"],
        "true"
    );
    let (code, body) = raw(
        &client,
        "DELETE",
        &format!("{crds}/widgets.example.com"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    eventually("the CRD's APIService to go", || async {
        let (code, _) = get(&client, &format!("{APISERVICES}/v1alpha1.example.com")).await;
        (code == 404).then_some(())
    })
    .await;
}
