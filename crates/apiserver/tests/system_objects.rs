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
