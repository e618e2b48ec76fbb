//! API Priority and Fairness configuration end to end: kube-apiserver 1.33's bootstrap
//! PriorityLevelConfigurations and FlowSchemas present after start and kept by the config
//! producer's rules (a deleted one comes back, a mandatory one keeps its spec and annotation, a
//! suggested one follows its `apf.kubernetes.io/autoupdate-spec` annotation), each FlowSchema's
//! `Dangling` condition, upstream's defaults and validation messages, through raw requests and
//! kube-rs, and with kubectl 1.27 and 1.33 (`get flowschemas`, `get prioritylevelconfigurations`).

mod kube_support;

mod kubectl_support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::flowcontrol::v1::{FlowSchema, PriorityLevelConfiguration};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube_support::{api_err, eventually, raw};
use kubectl_support::{Cell, Kubectl, expect_table, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::Duration;

const FS: &str = "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas";
const PL: &str = "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations";
const ANNOTATION: &str = "apf.kubernetes.io/autoupdate-spec";

const LEVELS: [&str; 8] = [
    "catch-all",
    "exempt",
    "global-default",
    "leader-election",
    "node-high",
    "system",
    "workload-high",
    "workload-low",
];
const SCHEMAS: [&str; 13] = [
    "catch-all",
    "endpoint-controller",
    "exempt",
    "global-default",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-system-service-accounts",
    "probes",
    "service-accounts",
    "system-leader-election",
    "system-node-high",
    "system-nodes",
    "workload-leader-election",
];

async fn get(client: &Client, path: &str) -> (u16, Value) {
    raw(client, "GET", path, None, None).await
}

async fn put(client: &Client, path: &str, body: &Value) -> (u16, Value) {
    raw(client, "PUT", path, None, Some(body)).await
}

async fn items(client: &Client, path: &str) -> Vec<Value> {
    let (code, list) = get(client, path).await;
    assert_eq!(code, 200, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn name(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn dangling(fs: &Value) -> Option<&Value> {
    fs.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Dangling")
}

/// Each cause's field and message, the message prefixed with its field as upstream's error
/// strings print it (the cause itself carries the message without the field, as upstream).
fn causes(status: &Value) -> Vec<(String, String)> {
    status
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let field = c["field"].as_str().unwrap_or("");
            let message = c["message"].as_str().unwrap_or("");
            (field.to_string(), format!("{field}: {message}"))
        })
        .collect()
}

#[tokio::test]
async fn bootstrap_configuration_is_there_after_start() {
    let server = kube_support::start().await;
    let client = server.client();
    let levels = items(&client, PL).await;
    let names: Vec<&str> = levels.iter().map(name).collect();
    assert_eq!(names, LEVELS);
    let schemas = items(&client, FS).await;
    let names: Vec<&str> = schemas.iter().map(name).collect();
    assert_eq!(names, SCHEMAS);
    for obj in levels.iter().chain(&schemas) {
        assert_eq!(obj["metadata"]["annotations"][ANNOTATION], "true", "{obj}");
        assert_eq!(obj["metadata"]["generation"], 1, "{obj}");
        let spec_manager = obj["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["fieldsV1"].get("f:spec").is_some())
            .and_then(|m| m["manager"].as_str());
        assert_eq!(
            spec_manager,
            Some("api-priority-and-fairness-config-producer-v1"),
            "{obj}"
        );
    }
    let catch_all = &levels[0];
    assert_eq!(
        catch_all["spec"],
        json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0,
            "limitResponse": {"type": "Reject"}}})
    );
    assert_eq!(
        levels[1]["spec"],
        json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}})
    );
    let workload_low = levels
        .iter()
        .find(|l| name(l) == "workload-low")
        .expect("workload-low");
    assert_eq!(
        workload_low["spec"]["limited"],
        json!({"nominalConcurrencyShares": 100, "lendablePercent": 90,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}})
    );
    let probes = schemas
        .iter()
        .find(|s| name(s) == "probes")
        .expect("probes");
    assert_eq!(
        probes["spec"],
        json!({"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 2,
            "rules": [{"subjects": [
                {"kind": "Group", "group": {"name": "system:unauthenticated"}},
                {"kind": "Group", "group": {"name": "system:authenticated"}}],
              "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}]})
    );
    // The status is written before the server answers, as the config consumer's first pass.
    for fs in &schemas {
        let level = fs["spec"]["priorityLevelConfiguration"]["name"]
            .as_str()
            .unwrap_or("");
        let condition = dangling(fs).unwrap_or_else(|| panic!("no Dangling condition: {fs}"));
        assert_eq!(condition["status"], "False");
        assert_eq!(condition["reason"], "Found");
        assert_eq!(
            condition["message"],
            format!(
                "This FlowSchema references the PriorityLevelConfiguration object named \"{level}\" and it exists"
            )
        );
        let managers: Vec<&str> = fs["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert!(
            managers.contains(&"api-priority-and-fairness-config-consumer-v1"),
            "{managers:?}"
        );
    }
    // Through kube-rs's typed client.
    let api: Api<FlowSchema> = Api::all(client.clone());
    let exempt = api.get("exempt").await.expect("exempt flow schema");
    assert_eq!(exempt.spec.expect("spec").matching_precedence, Some(1));
}

#[tokio::test]
async fn deleted_bootstrap_objects_come_back() {
    let server = kube_support::start().await;
    let client = server.client();
    let schemas: Api<FlowSchema> = Api::all(client.clone());
    let levels: Api<PriorityLevelConfiguration> = Api::all(client.clone());
    for n in ["catch-all", "global-default"] {
        let before = schemas.get(n).await.expect("present").metadata.uid;
        schemas
            .delete(n, &DeleteParams::default())
            .await
            .expect("delete");
        let after = eventually(&format!("flow schema {n} recreated"), || async {
            schemas.get_opt(n).await.ok().flatten()
        })
        .await;
        assert_ne!(after.metadata.uid, before, "{n} is a new object");
        assert_eq!(
            after.metadata.annotations.unwrap_or_default()[ANNOTATION],
            "true"
        );
    }
    let before = levels.get("catch-all").await.expect("present").metadata.uid;
    levels
        .delete("catch-all", &DeleteParams::default())
        .await
        .expect("delete");
    let after = eventually("catch-all level recreated", || async {
        levels.get_opt("catch-all").await.ok().flatten()
    })
    .await;
    assert_ne!(after.metadata.uid, before);
}

#[tokio::test]
async fn mandatory_objects_keep_their_spec_and_annotation() {
    let server = kube_support::start().await;
    let client = server.client();
    // Their spec cannot be changed: upstream's validation refuses it.
    let (_, mut catch_all) = get(&client, &format!("{FS}/catch-all")).await;
    catch_all["spec"]["matchingPrecedence"] = json!(9000);
    let (code, status) = put(&client, &format!("{FS}/catch-all"), &catch_all).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    let found = causes(&status);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "spec");
    assert!(
        found[0]
            .1
            .starts_with("spec: Invalid value: flowcontrol.FlowSchemaSpec{")
            && found[0]
                .1
                .ends_with(": spec of 'catch-all' must equal the fixed value"),
        "{found:?}"
    );
    let (_, stored) = get(&client, &format!("{FS}/catch-all")).await;
    assert_eq!(stored["spec"]["matchingPrecedence"], 10000);

    let (_, mut level) = get(&client, &format!("{PL}/catch-all")).await;
    level["spec"]["limited"]["nominalConcurrencyShares"] = json!(50);
    let (code, status) = put(&client, &format!("{PL}/catch-all"), &level).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        causes(&status)[0]
            .1
            .ends_with("spec of 'catch-all' must equal the fixed value")
    );

    // The exempt level's `exempt` field is the operator's, and the keeper leaves it alone.
    let (_, mut exempt) = get(&client, &format!("{PL}/exempt")).await;
    exempt["spec"]["exempt"] = json!({"nominalConcurrencyShares": 10, "lendablePercent": 20});
    exempt["spec"]["limited"] = json!({"limitResponse": {"type": "Reject"}});
    let (code, status) = put(&client, &format!("{PL}/exempt"), &exempt).await;
    assert_eq!(code, 422, "{status}");
    let messages: Vec<String> = causes(&status).into_iter().map(|c| c.1).collect();
    assert_eq!(
        messages[0],
        "spec.limited: Forbidden: must be nil if the type is not Limited"
    );
    assert!(
        messages[1].ends_with(
            "spec of 'exempt' except the 'spec.exempt' field must equal the fixed value"
        )
    );
    exempt["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("limited");
    let (code, status) = put(&client, &format!("{PL}/exempt"), &exempt).await;
    assert_eq!(code, 200, "{status}");

    // A mandatory object's annotation is put back to "true".
    let (_, mut catch_all) = get(&client, &format!("{PL}/catch-all")).await;
    catch_all["metadata"]["annotations"][ANNOTATION] = json!("false");
    let (code, status) = put(&client, &format!("{PL}/catch-all"), &catch_all).await;
    assert_eq!(code, 200, "{status}");
    eventually("catch-all's annotation restored", || async {
        let (_, l) = get(&client, &format!("{PL}/catch-all")).await;
        (l["metadata"]["annotations"][ANNOTATION] == "true").then_some(())
    })
    .await;
    let (_, exempt) = get(&client, &format!("{PL}/exempt")).await;
    assert_eq!(
        exempt["spec"]["exempt"],
        json!({"nominalConcurrencyShares": 10, "lendablePercent": 20})
    );
}

#[tokio::test]
async fn suggested_objects_follow_their_annotation() {
    let server = kube_support::start().await;
    let client = server.client();
    // Annotated "true": a change is reverted.
    let (_, mut low) = get(&client, &format!("{PL}/workload-low")).await;
    low["spec"]["limited"]["nominalConcurrencyShares"] = json!(7);
    let (code, status) = put(&client, &format!("{PL}/workload-low"), &low).await;
    assert_eq!(code, 200, "{status}");
    eventually("workload-low reverted", || async {
        let (_, l) = get(&client, &format!("{PL}/workload-low")).await;
        (l["spec"]["limited"]["nominalConcurrencyShares"] == 100).then_some(())
    })
    .await;
    // Annotated "false": the user's change stays.
    let (_, mut global) = get(&client, &format!("{PL}/global-default")).await;
    global["metadata"]["annotations"][ANNOTATION] = json!("false");
    global["spec"]["limited"]["nominalConcurrencyShares"] = json!(25);
    let (code, status) = put(&client, &format!("{PL}/global-default"), &global).await;
    assert_eq!(code, 200, "{status}");
    // Without the annotation, a changed spec (generation 2) is the user's: it stays, and the
    // annotation says so.
    let (_, mut nodes) = get(&client, &format!("{FS}/system-nodes")).await;
    nodes["metadata"]["annotations"] = json!({});
    nodes["spec"]["matchingPrecedence"] = json!(600);
    let (code, status) = put(&client, &format!("{FS}/system-nodes"), &nodes).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["metadata"]["generation"], 2);
    eventually("system-nodes annotated false", || async {
        let (_, s) = get(&client, &format!("{FS}/system-nodes")).await;
        (s["metadata"]["annotations"][ANNOTATION] == "false").then_some(())
    })
    .await;
    // Another pass of the keeper (a change of any level) leaves both alone.
    let (_, mut low) = get(&client, &format!("{PL}/workload-low")).await;
    low["metadata"]["labels"] = json!({"touched": "yes"});
    let (code, _) = put(&client, &format!("{PL}/workload-low"), &low).await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, global) = get(&client, &format!("{PL}/global-default")).await;
    assert_eq!(global["spec"]["limited"]["nominalConcurrencyShares"], 25);
    assert_eq!(global["metadata"]["annotations"][ANNOTATION], "false");
    let (_, nodes) = get(&client, &format!("{FS}/system-nodes")).await;
    assert_eq!(nodes["spec"]["matchingPrecedence"], 600);
    // An object that says it is auto-updated but is not part of the bootstrap set is removed;
    // one without the annotation is the user's.
    for (n, annotations) in [
        ("leftover", json!({ANNOTATION: "true"})),
        ("mine", json!({})),
    ] {
        let body = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
            "metadata": {"name": n, "annotations": annotations},
            "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}});
        let (code, status) = raw(&client, "POST", PL, None, Some(&body)).await;
        assert_eq!(code, 201, "{status}");
    }
    eventually("leftover removed", || async {
        let (code, _) = get(&client, &format!("{PL}/leftover")).await;
        (code == 404).then_some(())
    })
    .await;
    let (code, _) = get(&client, &format!("{PL}/mine")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn flow_schemas_show_a_missing_priority_level() {
    let server = kube_support::start().await;
    let client = server.client();
    let body = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
        "metadata": {"name": "orphan"},
        "spec": {"priorityLevelConfiguration": {"name": "nowhere"}, "matchingPrecedence": 5000,
            "rules": [{"subjects": [{"kind": "User", "user": {"name": "alice"}}],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/version"]}]}]}});
    let (code, created) = raw(&client, "POST", FS, None, Some(&body)).await;
    assert_eq!(code, 201, "{created}");
    assert!(
        created
            .get("status")
            .is_none_or(|s| s.get("conditions").is_none()),
        "{created}"
    );
    let condition = eventually("orphan dangling", || async {
        let (_, fs) = get(&client, &format!("{FS}/orphan")).await;
        dangling(&fs).filter(|c| c["status"] == "True").cloned()
    })
    .await;
    assert_eq!(condition["reason"], "NotFound");
    assert_eq!(
        condition["message"],
        "This FlowSchema references the PriorityLevelConfiguration object named \"nowhere\" but there is no such object"
    );
    let level = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "nowhere"},
        "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}});
    let (code, _) = raw(&client, "POST", PL, None, Some(&level)).await;
    assert_eq!(code, 201);
    eventually("orphan found", || async {
        let (_, fs) = get(&client, &format!("{FS}/orphan")).await;
        dangling(&fs).filter(|c| c["reason"] == "Found").map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn defaults_are_filled_in() {
    let server = kube_support::start().await;
    let client = server.client();
    let body = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "queued"},
        "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}});
    let (code, created) = raw(&client, "POST", PL, None, Some(&body)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["spec"]["limited"],
        json!({"nominalConcurrencyShares": 30, "lendablePercent": 0,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}})
    );
    // In v1 an explicit 0 is kept: only a missing value is defaulted.
    let body = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "zero"},
        "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0, "limitResponse": {"type": "Reject"}}}});
    let (code, created) = raw(&client, "POST", PL, None, Some(&body)).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["limited"]["nominalConcurrencyShares"], 0);
    let api: Api<FlowSchema> = Api::all(client.clone());
    let fs: FlowSchema =
        serde_json::from_value(json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema", "metadata": {"name": "defaulted"},
        "spec": {"priorityLevelConfiguration": {"name": "zero"}}}))
        .expect("flow schema");
    let created = api
        .create(&PostParams::default(), &fs)
        .await
        .expect("create");
    assert_eq!(created.spec.expect("spec").matching_precedence, Some(1000));
    assert_eq!(created.metadata.generation, Some(1));
}

#[tokio::test]
async fn invalid_objects_are_refused_with_upstreams_messages() {
    let server = kube_support::start().await;
    let client = server.client();
    let cases = [
        (
            FS,
            json!({"kind": "FlowSchema", "metadata": {"name": "bad-fs"}, "spec": {
                "matchingPrecedence": 1, "priorityLevelConfiguration": {"name": "Bad_Name"},
                "distinguisherMethod": {"type": "ByGroup"},
                "rules": [{"subjects": [{"kind": "ServiceAccount", "serviceAccount": {"name": "*"}}],
                    "resourceRules": [{"verbs": ["*", "get"], "apiGroups": [""], "resources": ["pods"]}]}]}}),
            vec![
                (
                    "spec.matchingPrecedence",
                    "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
                ),
                (
                    "spec.distinguisherMethod.type",
                    r#"spec.distinguisherMethod.type: Unsupported value: flowcontrol.FlowDistinguisherMethod{Type:"ByGroup"}: supported values: "ByNamespace", "ByUser""#,
                ),
                (
                    "spec.priorityLevelConfiguration.name",
                    r#"spec.priorityLevelConfiguration.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
                ),
                (
                    "spec.rules[0].subjects[0].serviceAccount.namespace",
                    "spec.rules[0].subjects[0].serviceAccount.namespace: Required value: must specify namespace for service account",
                ),
                (
                    "spec.rules[0].resourceRules[0].verbs",
                    r#"spec.rules[0].resourceRules[0].verbs: Invalid value: []string{"*", "get"}: if '*' is present, must not specify other verbs"#,
                ),
                (
                    "spec.rules[0].resourceRules[0].namespaces",
                    "spec.rules[0].resourceRules[0].namespaces: Required value: resource rules that are not cluster scoped must supply at least one namespace",
                ),
            ],
        ),
        (
            PL,
            json!({"kind": "PriorityLevelConfiguration", "metadata": {"name": "bad-pl"}, "spec": {
                "type": "Limited", "limited": {"nominalConcurrencyShares": -1, "lendablePercent": 200,
                    "limitResponse": {"type": "Queue", "queuing": {"queues": 4, "handSize": 5}}}}}),
            vec![
                (
                    "spec.limited.nominalConcurrencyShares",
                    "spec.limited.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer",
                ),
                (
                    "spec.limited.limitResponse.queuing.handSize",
                    "spec.limited.limitResponse.queuing.handSize: Invalid value: 5: should not be greater than queues (4)",
                ),
                (
                    "spec.limited.lendablePercent",
                    "spec.limited.lendablePercent: Invalid value: 200: must be between 0 and 100, inclusive",
                ),
            ],
        ),
        (
            PL,
            json!({"kind": "PriorityLevelConfiguration", "metadata": {"name": "bad-exempt"}, "spec": {"type": "Exempt"}}),
            vec![(
                "spec.type",
                r#"spec.type: Invalid value: "Exempt": type must be 'Exempt' if and only if name is 'exempt'"#,
            )],
        ),
        (
            PL,
            json!({"kind": "PriorityLevelConfiguration", "metadata": {"name": "bad-queue"}, "spec": {
                "type": "Limited", "limited": {"limitResponse": {"type": "Queue"}}}}),
            vec![(
                "spec.limited.limitResponse.queuing",
                "spec.limited.limitResponse.queuing: Required value: must not be empty if limited.limitResponse.type is Limited",
            )],
        ),
    ];
    for (path, mut body, expected) in cases {
        body["apiVersion"] = json!("flowcontrol.apiserver.k8s.io/v1");
        let (code, status) = raw(&client, "POST", path, None, Some(&body)).await;
        assert_eq!(code, 422, "{status}");
        assert_eq!(status["reason"], "Invalid");
        let kind = body["kind"].as_str().unwrap_or("");
        let n = name(&body);
        assert!(
            status["message"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!(
                    "{kind}.flowcontrol.apiserver.k8s.io \"{n}\" is invalid: "
                )),
            "{status}"
        );
        let found = causes(&status);
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(f, m)| (f.to_string(), m.to_string()))
            .collect();
        assert_eq!(found, expected);
        let (code, _) = get(&client, &format!("{path}/{n}")).await;
        assert_eq!(code, 404, "{n} was not stored");
    }
    // Through kube-rs: the same Status.
    let api: Api<PriorityLevelConfiguration> = Api::all(client.clone());
    let pl: PriorityLevelConfiguration =
        serde_json::from_value(json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration", "metadata": {"name": "kube-rs"},
        "spec": {"type": "Sometimes"}}))
        .expect("level");
    let status = api_err(
        api.create(&PostParams::default(), &pl).await,
        422,
        "Invalid",
    );
    let details = status.details.expect("details");
    assert_eq!(
        details.causes[0].message,
        r#"Unsupported value: "Sometimes": supported values: "Exempt", "Limited""#
    );
    assert_eq!(details.causes[0].field, "spec.type");
}

kubectl_versions! {
    kubectl_1_27 => "1.27",
    kubectl_1_33 => "1.33",
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server: ApiServer = kube_support::start().await;
    let k = Kubectl::new(binary, &server).expect("preparing kubectl's home directory");
    if let Err(e) = scenarios(&k).await {
        panic!("kubectl {version}: {e:#}");
    }
}

const FS_HEADER: [&str; 6] = [
    "NAME",
    "PRIORITYLEVEL",
    "MATCHINGPRECEDENCE",
    "DISTINGUISHERMETHOD",
    "AGE",
    "MISSINGPL",
];
const PL_HEADER: [&str; 7] = [
    "NAME",
    "TYPE",
    "NOMINALCONCURRENCYSHARES",
    "QUEUES",
    "HANDSIZE",
    "QUEUELENGTHLIMIT",
    "AGE",
];

/// Runs `kubectl <args>` until it succeeds with output that passes `check` (5 s); the last
/// failure otherwise.
async fn until(k: &Kubectl, args: &[&str], check: impl Fn(&str) -> Result<()>) -> Result<()> {
    let mut last = Ok(());
    for _ in 0..100 {
        last = match k.ok(args).await {
            Ok(out) => check(&out),
            Err(e) => Err(e),
        };
        if last.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

async fn scenarios(k: &Kubectl) -> Result<()> {
    use Cell::{Age, Is};
    let out = k.ok(&["get", "flowschemas"]).await?;
    let rows = [
        ["exempt", "exempt", "1", "<none>", "False"],
        ["probes", "exempt", "2", "<none>", "False"],
        [
            "system-leader-election",
            "leader-election",
            "100",
            "ByUser",
            "False",
        ],
        [
            "endpoint-controller",
            "workload-high",
            "150",
            "ByUser",
            "False",
        ],
        [
            "kube-controller-manager",
            "workload-high",
            "800",
            "ByNamespace",
            "False",
        ],
        [
            "global-default",
            "global-default",
            "9900",
            "ByUser",
            "False",
        ],
        ["catch-all", "catch-all", "10000", "ByUser", "False"],
    ];
    for [n, level, precedence, method, missing] in rows {
        expect_table(
            &out,
            &FS_HEADER,
            &[
                Is(n),
                Is(level),
                Is(precedence),
                Is(method),
                Age,
                Is(missing),
            ],
        )?;
    }
    ensure!(out.lines().count() == 14, "13 flow schemas:\n{out}");
    let out = k.ok(&["get", "prioritylevelconfigurations"]).await?;
    let rows = [
        ["catch-all", "Limited", "5", "<none>", "<none>", "<none>"],
        ["exempt", "Exempt", "<none>", "<none>", "<none>", "<none>"],
        ["global-default", "Limited", "20", "128", "6", "50"],
        ["leader-election", "Limited", "10", "16", "4", "50"],
        ["workload-low", "Limited", "100", "128", "6", "50"],
    ];
    for [n, kind, shares, queues, hand, length] in rows {
        expect_table(
            &out,
            &PL_HEADER,
            &[
                Is(n),
                Is(kind),
                Is(shares),
                Is(queues),
                Is(hand),
                Is(length),
                Age,
            ],
        )?;
    }
    ensure!(out.lines().count() == 9, "8 priority levels:\n{out}");

    // A schema naming a level that does not exist.
    k.apply(
        "orphan.yaml",
        "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata:\n  name: orphan\nspec:\n  priorityLevelConfiguration:\n    name: nowhere\n  rules:\n  - subjects:\n    - kind: Group\n      group:\n        name: team\n    resourceRules:\n    - verbs: [\"list\"]\n      apiGroups: [\"\"]\n      resources: [\"pods\"]\n      namespaces: [\"*\"]\n",
    )
    .await?;
    let orphan = [
        Is("orphan"),
        Is("nowhere"),
        Is("1000"),
        Is("<none>"),
        Age,
        Is("True"),
    ];
    until(k, &["get", "flowschema", "orphan"], |out| {
        expect_table(out, &FS_HEADER, &orphan)
    })
    .await
    .context("MISSINGPL True")?;

    // A deleted mandatory schema comes back.
    k.ok(&["delete", "flowschema", "catch-all"]).await?;
    until(k, &["get", "flowschema", "catch-all"], |_| Ok(()))
        .await
        .context("catch-all recreated")?;

    // An invalid manifest is refused with upstream's message, and nothing is stored.
    let file = k.manifest(
        "bad.yaml",
        "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nmetadata:\n  name: bad\nspec:\n  type: Limited\n  limited:\n    lendablePercent: 101\n    limitResponse:\n      type: Reject\n",
    )?;
    k.rejects(
        &["create", "-f", &file],
        &[
            r#"The PriorityLevelConfiguration "bad" is invalid: spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive"#,
        ],
    )
    .await
    .context("invalid level")?;
    ensure!(
        !k.run(&["get", "prioritylevelconfiguration", "bad"])
            .await?
            .success
    );
    Ok(())
}
