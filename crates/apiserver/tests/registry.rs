//! The registry's shape seen from a client: every row of the table is served (discovery lists
//! it and it answers its verbs), a resource's own subresources (`namespaces/{name}/finalize`)
//! are routed to it, and namespace lifecycle holds as an admission plugin.

mod kube_support;

use kube::Client;
use kube_support::start;
use serde_json::{Value, json};

async fn raw(client: &Client, method: &str, uri: &str, body: Option<&Value>) -> (u16, Value) {
    kube_support::raw(client, method, uri, None, body).await
}

#[tokio::test]
async fn every_registered_resource_is_discovered_and_answers() {
    let server = start().await;
    let client = server.client();
    let (_, groups) = raw(&client, "GET", "/apis", None).await;
    let mut versions = vec!["/api/v1".to_string()];
    for g in groups["groups"].as_array().expect("groups") {
        versions.push(format!(
            "/apis/{}",
            g["preferredVersion"]["groupVersion"].as_str().unwrap()
        ));
    }
    let mut served = 0;
    for gv in versions {
        let (code, list) = raw(&client, "GET", &gv, None).await;
        assert_eq!(code, 200, "{gv}");
        for r in list["resources"].as_array().expect("resources") {
            let name = r["name"].as_str().unwrap();
            let verbs: Vec<&str> = r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if name.contains('/') || !verbs.contains(&"list") {
                continue;
            }
            let (code, body) = raw(&client, "GET", &format!("{gv}/{name}"), None).await;
            assert_eq!(code, 200, "list {gv}/{name}: {body}");
            assert!(body["items"].is_array(), "{gv}/{name}: {body}");
            served += 1;
        }
    }
    assert!(served >= 17, "only {served} listable resources");
}

#[tokio::test]
async fn namespace_finalize_is_the_namespaces_own_subresource() {
    let server = start().await;
    let client = server.client();
    let (code, _) = raw(
        &client,
        "POST",
        "/api/v1/namespaces",
        Some(&json!({"metadata": {"name": "fin"}})),
    )
    .await;
    assert_eq!(code, 201);

    // Discovery lists it, update only, sorted by path as upstream's installer does.
    let (_, core) = raw(&client, "GET", "/api/v1", None).await;
    let ns_entries: Vec<(String, Value)> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("namespaces"))
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["verbs"].clone()))
        .collect();
    assert_eq!(
        ns_entries,
        vec![
            (
                "namespaces".to_string(),
                json!([
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch"
                ])
            ),
            ("namespaces/finalize".to_string(), json!(["update"])),
            (
                "namespaces/status".to_string(),
                json!(["get", "patch", "update"])
            ),
        ]
    );

    // A PUT through finalize changes spec.finalizers and nothing else.
    let (_, mut ns) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    ns["spec"]["finalizers"] = json!(["example.com/hold"]);
    ns["metadata"]["labels"] = json!({"ignored": "yes"});
    let (code, written) = raw(&client, "PUT", "/api/v1/namespaces/fin/finalize", Some(&ns)).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!(written["spec"]["finalizers"], json!(["example.com/hold"]));
    assert!(
        written["metadata"]["labels"].get("ignored").is_none(),
        "{written}"
    );
    let (_, read) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    assert_eq!(read["spec"]["finalizers"], json!(["example.com/hold"]));

    // Only PUT is served there; the status subresource still is the status.
    let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin/finalize", None).await;
    assert_eq!(code, 405);
    let (code, status) = raw(&client, "GET", "/api/v1/namespaces/fin/status", None).await;
    assert_eq!(
        (code, status["status"]["phase"].clone()),
        (200, json!("Active"))
    );
    // A name that is neither a core resource nor a subresource of namespaces is not found.
    let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin/nonsense", None).await;
    assert_eq!(code, 404);

    // A deleted namespace held by its finalizer refuses new content (NamespaceLifecycle) until
    // finalize releases it.
    let (code, _) = raw(&client, "DELETE", "/api/v1/namespaces/fin", None).await;
    assert_eq!(code, 200);
    let cm = json!({"metadata": {"name": "late"}});
    let (code, refused) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/fin/configmaps",
        Some(&cm),
    )
    .await;
    assert_eq!(code, 403, "{refused}");
    assert_eq!(
        refused["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace fin because it is being terminated"
    );
    let (_, mut ns) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    ns["spec"]["finalizers"] = json!([]);
    let (code, _) = raw(&client, "PUT", "/api/v1/namespaces/fin/finalize", Some(&ns)).await;
    assert_eq!(code, 200);
    kube_support::eventually("the namespace goes", || async {
        let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
        (code == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn namespace_lifecycle_admission() {
    let server = start().await;
    let client = server.client();
    let cm = json!({"metadata": {"name": "x"}});
    let (code, missing) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/absent/configmaps",
        Some(&cm),
    )
    .await;
    assert_eq!(
        (code, missing["message"].clone()),
        (404, json!("namespaces \"absent\" not found"))
    );
    for immortal in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let (code, refused) = raw(
            &client,
            "DELETE",
            &format!("/api/v1/namespaces/{immortal}"),
            None,
        )
        .await;
        assert_eq!(code, 403, "{immortal}");
        assert_eq!(
            refused["message"],
            format!("namespaces \"{immortal}\" is forbidden: this namespace may not be deleted")
        );
    }
}
