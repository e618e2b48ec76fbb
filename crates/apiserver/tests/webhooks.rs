//! Admission webhooks through the API server, with kube-rs and kubectl: a TLS webhook on
//! 127.0.0.1 (`webhook_support`) called by MutatingWebhookConfigurations and
//! ValidatingWebhookConfigurations, with kube-apiserver's messages.

mod kube_support;
#[allow(unused_macros, unused_imports)]
mod kubectl_support;
mod webhook_support;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Service};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_support::{api_err, eventually, start};
use serde_json::{Value, json};

fn configmap(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

/// A webhook entry for ConfigMaps (`operations`), calling `client_config`, picked by the label
/// `hook: <selector>`.
fn hook(name: &str, client_config: Value, operations: &[&str], selector: &str) -> Value {
    json!({
        "name": name,
        "clientConfig": client_config,
        "rules": [{"operations": operations, "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        "objectSelector": {"matchLabels": {"hook": selector}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    })
}

async fn validating(client: Client, name: &str, webhooks: Vec<Value>) {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client);
    let config =
        serde_json::from_value(json!({"metadata": {"name": name}, "webhooks": webhooks})).unwrap();
    api.create(&PostParams::default(), &config).await.unwrap();
}

async fn mutating(client: Client, name: &str, webhooks: Vec<Value>) {
    let api: Api<MutatingWebhookConfiguration> = Api::all(client);
    let config =
        serde_json::from_value(json!({"metadata": {"name": name}, "webhooks": webhooks})).unwrap();
    api.create(&PostParams::default(), &config).await.unwrap();
}

/// Waits until creating a ConfigMap labelled `hook: <selector>` fails (the configuration is in
/// force), and returns the error.
async fn refused(cms: &Api<ConfigMap>, selector: &str, dry_run: bool) -> kube::Error {
    let params = PostParams {
        dry_run,
        ..PostParams::default()
    };
    eventually("the webhook configuration to take effect", || async {
        let name = format!("probe-{}", rand_suffix());
        match cms
            .create(&params, &configmap(&name, json!({"hook": selector})))
            .await
        {
            Ok(_) => {
                let _ = cms.delete(&name, &DeleteParams::default()).await;
                None
            }
            Err(e) => Some(e),
        }
    })
    .await
}

fn rand_suffix() -> String {
    uuid_like()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

fn status_of(err: kube::Error) -> kube::core::Status {
    kube_support::status(err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validating_webhook_denies_with_message_and_sees_the_request() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    validating(
        server.client(),
        "configmap-policy",
        vec![
            hook(
                "deny.example.com",
                webhook.url_config("deny"),
                &["CREATE", "UPDATE"],
                "deny",
            ),
            hook(
                "warn.example.com",
                webhook.url_config("warn"),
                &["*"],
                "warn",
            ),
        ],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let s = status_of(refused(&cms, "deny", false).await);
    assert_eq!(s.code, 403);
    assert_eq!(s.reason, "");
    assert_eq!(
        s.message,
        "admission webhook \"deny.example.com\" denied the request: configmaps labelled deny are refused"
    );

    // Allowed, and what the webhook saw is the request.
    cms.create(
        &PostParams::default(),
        &configmap("seen", json!({"hook": "warn"})),
    )
    .await
    .unwrap();
    let reviews = webhook.reviews("warn");
    let review = reviews
        .iter()
        .find(|r| r["request"]["name"] == "seen")
        .expect("the webhook was called for the create");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    let request = &review["request"];
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(
        request["kind"],
        json!({"group": "", "version": "v1", "kind": "ConfigMap"})
    );
    assert_eq!(
        request["resource"],
        json!({"group": "", "version": "v1", "resource": "configmaps"})
    );
    assert_eq!(request["requestKind"], request["kind"]);
    assert_eq!(request["namespace"], "default");
    assert_eq!(request["dryRun"], false);
    assert_eq!(request["options"]["kind"], "CreateOptions");
    assert_eq!(request["userInfo"]["username"], "system:unsecured");
    assert_eq!(request["object"]["data"]["k"], "v");
    assert!(request["oldObject"].is_null());

    // An update that gains the label is refused, and shows the old object.
    let patch = json!({"metadata": {"labels": {"hook": "deny"}}});
    let s = status_of(
        cms.patch("seen", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 403);
    assert!(
        s.message
            .starts_with("admission webhook \"deny.example.com\" denied the request")
    );
    let update = webhook
        .reviews("deny")
        .into_iter()
        .find(|r| r["request"]["operation"] == "UPDATE")
        .expect("the update was reviewed");
    assert_eq!(
        update["request"]["oldObject"]["metadata"]["labels"]["hook"],
        "warn"
    );
    assert_eq!(update["request"]["options"]["kind"], "UpdateOptions");
    assert_eq!(
        cms.get("seen").await.unwrap().metadata.labels.unwrap()["hook"],
        "warn"
    );

    // Deletes are reviewed with the old object only.
    cms.delete("seen", &DeleteParams::default()).await.unwrap();
    let delete = webhook
        .reviews("warn")
        .into_iter()
        .find(|r| r["request"]["operation"] == "DELETE")
        .expect("the delete was reviewed");
    assert!(delete["request"]["object"].is_null());
    assert_eq!(delete["request"]["oldObject"]["metadata"]["name"], "seen");
    assert_eq!(delete["request"]["options"]["kind"], "DeleteOptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonated_user_is_reported_and_v1beta1_is_spoken() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let mut old = hook(
        "old.example.com",
        webhook.url_config("deny"),
        &["CREATE"],
        "old",
    );
    old["admissionReviewVersions"] = json!(["v1beta1"]);
    validating(server.client(), "old-reviews", vec![old]).await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let s = status_of(refused(&cms, "old", false).await);
    assert_eq!(s.code, 403);
    let review = webhook.reviews("deny").pop().unwrap();
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1beta1");

    // A user the server impersonates (kubectl --as) is who the webhook sees.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.auth_info.impersonate = Some("jane".into());
    config.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    let jane = Client::try_from(config).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(jane, "default");
    let _ = cms
        .create(
            &PostParams::default(),
            &configmap("by-jane", json!({"hook": "old"})),
        )
        .await
        .unwrap_err();
    let review = webhook.reviews("deny").pop().unwrap();
    assert_eq!(review["request"]["userInfo"]["username"], "jane");
    assert_eq!(
        review["request"]["userInfo"]["groups"],
        json!(["system:masters", "system:authenticated"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_webhooks_patch_in_order_and_reinvoke() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let mut first = hook(
        "first.example.com",
        webhook.url_config("first"),
        &["CREATE"],
        "mutate",
    );
    first["reinvocationPolicy"] = json!("IfNeeded");
    mutating(
        server.client(),
        "defaults",
        vec![
            first,
            hook(
                "second.example.com",
                webhook.url_config("second"),
                &["CREATE"],
                "mutate",
            ),
            hook(
                "mutate.example.com",
                webhook.url_config("mutate"),
                &["CREATE"],
                "mutate",
            ),
        ],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let cm = eventually("the mutating webhooks", || async {
        let name = format!("m-{}", rand_suffix());
        let cm = cms
            .create(
                &PostParams::default(),
                &configmap(&name, json!({"hook": "mutate"})),
            )
            .await
            .unwrap();
        cm.metadata.labels.as_ref()?.get("mutated")?;
        Some(cm)
    })
    .await;
    let stored = cms.get(cm.metadata.name.as_deref().unwrap()).await.unwrap();
    let labels = stored.metadata.labels.unwrap();
    assert_eq!(labels["mutated"], "yes");
    assert_eq!(labels["second"], "yes");
    // `first` ran before `second` added its label, and again after.
    assert_eq!(
        stored.metadata.annotations.unwrap()["first-saw-second"],
        "true"
    );
    let name = stored.metadata.name.unwrap();
    let first_calls = webhook
        .reviews("first")
        .into_iter()
        .filter(|r| r["request"]["object"]["metadata"]["name"] == name.as_str())
        .count();
    assert_eq!(first_calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_policies_timeouts_and_bad_answers() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = json!({"url": format!("https://{closed}/validate"), "caBundle": webhook.url_config("x")["caBundle"]});
    let mut ignore = hook("ignore.example.com", down.clone(), &["CREATE"], "ignore");
    ignore["failurePolicy"] = json!("Ignore");
    let mut slow = hook(
        "slow.example.com",
        webhook.url_config("slow"),
        &["CREATE"],
        "slow",
    );
    slow["timeoutSeconds"] = json!(1);
    validating(
        server.client(),
        "failures",
        vec![
            hook("down.example.com", down, &["CREATE"], "down"),
            ignore,
            slow,
            hook(
                "uid.example.com",
                webhook.url_config("wrong-uid"),
                &["CREATE"],
                "uid",
            ),
        ],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let s = status_of(refused(&cms, "down", false).await);
    assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
    assert_eq!(
        s.message,
        format!(
            "Internal error occurred: failed calling webhook \"down.example.com\": failed to call webhook: Post \"https://{closed}/validate?timeout=10s\": dial tcp {closed}: connect: connection refused"
        )
    );
    // Ignore lets the request through.
    cms.create(
        &PostParams::default(),
        &configmap("ignored", json!({"hook": "ignore"})),
    )
    .await
    .unwrap();
    // A webhook slower than its timeout.
    let started = std::time::Instant::now();
    let s = api_err(
        cms.create(
            &PostParams::default(),
            &configmap("slow", json!({"hook": "slow"})),
        )
        .await,
        500,
        "InternalError",
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    assert_eq!(
        s.message,
        format!(
            "Internal error occurred: failed calling webhook \"slow.example.com\": failed to call webhook: Post \"https://{}/slow?timeout=1s\": context deadline exceeded",
            webhook.addr
        )
    );
    // An answer to another review.
    let s = api_err(
        cms.create(
            &PostParams::default(),
            &configmap("uid", json!({"hook": "uid"})),
        )
        .await,
        500,
        "InternalError",
    );
    assert!(
        s.message.starts_with(
            "Internal error occurred: failed calling webhook \"uid.example.com\": expected response.uid="
        ),
        "{}",
        s.message
    );
    assert!(
        s.message.ends_with(", got \"not-the-uid\""),
        "{}",
        s.message
    );
    assert!(cms.get_opt("uid").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_dry_run_and_services() {
    let server = start().await;
    let client = server.client();
    let webhook = webhook_support::start(&["hooks.webhooks.svc"]).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, labels) in [
        ("guarded", json!({"webhook": "on"})),
        ("open", json!({})),
        ("webhooks", json!({})),
    ] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    // A Service without a selector whose Endpoints point at the webhook on 127.0.0.1.
    let services: Api<Service> = Api::namespaced(client.clone(), "webhooks");
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "hooks"},
                "spec": {"ports": [{"name": "https", "port": 443, "targetPort": webhook.addr.port()}]}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "webhooks");
    endpoints
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "hooks"},
                "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": webhook.addr.port()}]}]}))
            .unwrap(),
        )
        .await
        .unwrap();
    let ca = webhook.url_config("x")["caBundle"].clone();
    let by_service = json!({"service": {"namespace": "webhooks", "name": "hooks", "path": "/deny-bare"}, "caBundle": ca});
    let mut in_guarded = hook("ns.example.com", by_service, &["CREATE"], "ns");
    in_guarded["namespaceSelector"] = json!({"matchLabels": {"webhook": "on"}});
    let mut some = hook(
        "some.example.com",
        webhook.url_config("allow"),
        &["CREATE"],
        "dry",
    );
    // `Some` cannot be declared through admissionregistration.k8s.io/v1 (upstream allows it only
    // on configurations stored with it already).
    some["sideEffects"] = json!("Some");
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let refused_config = serde_json::from_value(
        json!({"metadata": {"name": "selected"}, "webhooks": [in_guarded.clone(), some.clone()]}),
    )
    .unwrap();
    let s = api_err(
        configs
            .create(&PostParams::default(), &refused_config)
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io \"selected\" is invalid: webhooks[1].sideEffects: Unsupported value: \"Some\": supported values: \"None\", \"NoneOnDryRun\""
    );
    some["sideEffects"] = json!("NoneOnDryRun");
    validating(
        client.clone(),
        "selected",
        vec![
            in_guarded,
            some,
            hook(
                "none.example.com",
                webhook.url_config("deny"),
                &["CREATE"],
                "dry-none",
            ),
        ],
    )
    .await;
    let guarded: Api<ConfigMap> = Api::namespaced(client.clone(), "guarded");
    let s = status_of(refused(&guarded, "ns", false).await);
    assert_eq!(s.code, 403);
    assert_eq!(
        s.message,
        "admission webhook \"ns.example.com\" denied the request without explanation"
    );
    let open: Api<ConfigMap> = Api::namespaced(client.clone(), "open");
    open.create(
        &PostParams::default(),
        &configmap("free", json!({"hook": "ns"})),
    )
    .await
    .unwrap();
    // The object selector: the same namespace, another label.
    guarded
        .create(
            &PostParams::default(),
            &configmap("other", json!({"hook": "none"})),
        )
        .await
        .unwrap();

    // Dry run: webhooks declaring no side effects (`None`, `NoneOnDryRun`) see `dryRun: true`.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    open.create(&dry, &configmap("d1", json!({"hook": "dry"})))
        .await
        .unwrap();
    assert!(open.get_opt("d1").await.unwrap().is_none());
    let review = webhook.reviews("allow").pop().unwrap();
    assert_eq!(review["request"]["dryRun"], true);
    let s = api_err(
        open.create(&dry, &configmap("d2", json!({"hook": "dry-none"})))
            .await,
        403,
        "",
    );
    assert!(s.message.contains("none.example.com"));
    let review = webhook.reviews("deny").pop().unwrap();
    assert_eq!(review["request"]["dryRun"], true);
    assert_eq!(review["request"]["options"]["dryRun"], json!(["All"]));
    // Without dry run, the same webhook is called and the object stored.
    open.create(
        &PostParams::default(),
        &configmap("d3", json!({"hook": "dry"})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_warnings_and_denials() {
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    validating(
        server.client(),
        "kubectl",
        vec![
            hook(
                "warn.example.com",
                webhook.url_config("warn"),
                &["CREATE"],
                "warn",
            ),
            hook(
                "deny.example.com",
                webhook.url_config("deny"),
                &["CREATE"],
                "deny",
            ),
        ],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    refused(&cms, "deny", false).await;
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let manifest = |name: &str, label: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    hook: {label}\ndata:\n  k: v\n"
        )
    };
    let file = kubectl
        .manifest("warned.yaml", &manifest("warned", "warn"))
        .unwrap();
    let out = kubectl.run(&["create", "-f", &file]).await.unwrap();
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Warning: think twice about this configmap"),
        "{}",
        out.stderr
    );
    let file = kubectl
        .manifest("denied.yaml", &manifest("denied", "deny"))
        .unwrap();
    let stderr = kubectl.fails(&["create", "-f", &file]).await.unwrap();
    assert!(
        stderr.contains(
            "admission webhook \"deny.example.com\" denied the request: configmaps labelled deny are refused"
        ),
        "{stderr}"
    );
}

/// A webhook for `group/version` `resource` creates (matchPolicy as given), calling `path`.
fn resource_hook(
    webhook: &webhook_support::Webhook,
    name: &str,
    (group, version, resource): (&str, &str, &str),
    path: &str,
    match_policy: &str,
) -> Value {
    json!({
        "name": name,
        "clientConfig": webhook.url_config(path),
        "rules": [{"operations": ["CREATE"], "apiGroups": [group], "apiVersions": [version], "resources": [resource]}],
        "matchPolicy": match_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivalent_versions_of_built_in_resources_are_converted_for_webhooks() {
    use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
    use k8s_openapi::api::core::v1::Event;
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let hpas = ("autoscaling", "", "horizontalpodautoscalers");
    validating(
        server.client(),
        "equivalents",
        vec![
            resource_hook(
                &webhook,
                "hpa-v1.example.com",
                ("autoscaling", "v1", hpas.2),
                "hpa-v1",
                "Equivalent",
            ),
            resource_hook(
                &webhook,
                "hpa-v1-exact.example.com",
                ("autoscaling", "v1", hpas.2),
                "hpa-v1-exact",
                "Exact",
            ),
            resource_hook(
                &webhook,
                "events.example.com",
                ("events.k8s.io", "v1", "events"),
                "events-v1",
                "Equivalent",
            ),
        ],
    )
    .await;
    mutating(
        server.client(),
        "equivalents",
        vec![resource_hook(
            &webhook,
            "hpa-v2.example.com",
            ("autoscaling", "v2", hpas.2),
            "mutate",
            "Equivalent",
        )],
    )
    .await;
    let v1_api: Api<hpa_v1::HorizontalPodAutoscaler> = Api::namespaced(server.client(), "default");
    let v2_api: Api<hpa_v2::HorizontalPodAutoscaler> = Api::namespaced(server.client(), "default");
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    // At v1 (the validating webhooks' version), mutated at v2 by the mutating one.
    let mut attempt = 0;
    let created = eventually("the webhooks to take effect", || {
        attempt += 1;
        let v1_api = v1_api.clone();
        let hpa: hpa_v1::HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": format!("at-v1-{attempt}")},
            "spec": {"scaleTargetRef": target, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
        }))
        .unwrap();
        let webhook = &webhook;
        async move {
            let created = v1_api.create(&PostParams::default(), &hpa).await.unwrap();
            (created.metadata.labels.as_ref().is_some_and(|l| l.contains_key("mutated"))
                && !webhook.reviews("hpa-v1-exact").is_empty())
            .then_some(created)
        }
    })
    .await;
    let name = created.metadata.name.clone().unwrap();
    assert_eq!(
        created.spec.unwrap().target_cpu_utilization_percentage,
        Some(50)
    );
    let mutate = webhook
        .reviews("mutate")
        .into_iter()
        .find(|r| r["request"]["name"] == name.as_str())
        .expect("the v2 mutating webhook was called for a v1 create");
    let request = &mutate["request"];
    assert_eq!(
        request["kind"],
        json!({"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"})
    );
    assert_eq!(
        request["resource"],
        json!({"group": "autoscaling", "version": "v2", "resource": "horizontalpodautoscalers"})
    );
    assert_eq!(
        request["requestKind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"})
    );
    assert_eq!(
        request["requestResource"],
        json!({"group": "autoscaling", "version": "v1", "resource": "horizontalpodautoscalers"})
    );
    assert_eq!(request["object"]["apiVersion"], "autoscaling/v2");
    assert_eq!(
        request["object"]["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
    assert!(
        request["object"]["spec"]
            .get("targetCPUUtilizationPercentage")
            .is_none()
    );

    // At v2: the v1 webhook (Equivalent) gets it at v1; the Exact one is not called.
    let hpa: hpa_v2::HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "at-v2"},
        "spec": {"scaleTargetRef": target, "maxReplicas": 4, "metrics": [{"type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
    }))
    .unwrap();
    let created = v2_api.create(&PostParams::default(), &hpa).await.unwrap();
    // The mutating webhook's own version: no conversion.
    assert_eq!(
        created
            .metadata
            .labels
            .unwrap()
            .get("mutated")
            .map(String::as_str),
        Some("yes")
    );
    let check = webhook
        .reviews("hpa-v1")
        .into_iter()
        .find(|r| r["request"]["name"] == "at-v2")
        .expect("the v1 webhook was called for a v2 create");
    let request = &check["request"];
    assert_eq!(request["kind"]["version"], "v1");
    assert_eq!(request["resource"]["version"], "v1");
    assert_eq!(request["requestKind"]["version"], "v2");
    assert_eq!(request["requestResource"]["version"], "v2");
    assert_eq!(request["object"]["apiVersion"], "autoscaling/v1");
    assert_eq!(
        request["object"]["spec"]["targetCPUUtilizationPercentage"],
        70
    );
    assert_eq!(request["object"]["metadata"]["labels"]["mutated"], "yes");
    assert!(
        !webhook
            .reviews("hpa-v1-exact")
            .iter()
            .any(|r| r["request"]["name"] == "at-v2")
    );

    // A core/v1 Event, seen by the events.k8s.io/v1 webhook in that form.
    let events: Api<Event> = Api::namespaced(server.client(), "default");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "noticed"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"},
        "reason": "Started", "message": "started", "type": "Normal",
        "source": {"component": "kubelet"},
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let seen = webhook
        .reviews("events-v1")
        .into_iter()
        .find(|r| r["request"]["name"] == "noticed")
        .expect("the events.k8s.io webhook was called for a core/v1 Event");
    let request = &seen["request"];
    assert_eq!(
        request["kind"],
        json!({"group": "events.k8s.io", "version": "v1", "kind": "Event"})
    );
    assert_eq!(
        request["requestKind"],
        json!({"group": "", "version": "v1", "kind": "Event"})
    );
    assert_eq!(
        request["requestResource"],
        json!({"group": "", "version": "v1", "resource": "events"})
    );
    assert_eq!(request["object"]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(request["object"]["regarding"]["name"], "web-1");
    assert_eq!(request["object"]["note"], "started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_keeps_its_warnings_and_audit_annotations() {
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let server = kubeforge_apiserver::ApiServer::builder()
        .in_memory()
        .audit_log(kubeforge_apiserver::audit::AuditConfig::new(&path))
        .start()
        .await
        .unwrap();
    let webhook = webhook_support::start(&[]).await;
    validating(
        server.client(),
        "noted",
        vec![
            hook(
                "warn.example.com",
                webhook.url_config("warn"),
                &["CREATE"],
                "noted",
            ),
            hook(
                "deny-noted.example.com",
                webhook.url_config("deny-noted"),
                &["CREATE"],
                "noted",
            ),
        ],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    refused(&cms, "noted", false).await;
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let file = kubectl
        .manifest(
            "noted.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: noted\n  labels:\n    hook: noted\n",
        )
        .unwrap();
    let stderr = kubectl.fails(&["create", "-f", &file]).await.unwrap();
    // Both webhooks' warnings reach the client with the refusal.
    for expected in [
        "Warning: think twice about this configmap",
        "Warning: this configmap was refused",
        "admission webhook \"deny-noted.example.com\" denied the request: refused, and noted",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // Both webhooks' audit annotations are in the refused request's audit event.
    let event = eventually("the refused create's audit event", || async {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| {
                e["verb"] == "create"
                    && e["objectRef"]["resource"] == "configmaps"
                    && e["responseStatus"]["code"] == 403
                    && e["userAgent"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("kubectl"))
            })
    })
    .await;
    assert_eq!(
        event["annotations"]["deny-noted.example.com/why"], "labelled noted",
        "{event}"
    );
    assert_eq!(
        event["annotations"]["warn.example.com/checked"], "yes",
        "{event}"
    );
    assert_eq!(
        event["responseStatus"]["message"],
        "admission webhook \"deny-noted.example.com\" denied the request: refused, and noted",
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_conditions_ask_the_authorizer_about_the_requests_user() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let admin = server.client();
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "cm-writer"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "delete"]}]}))
            .unwrap(),
        )
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "cm-writers"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-writer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "writers"}]}))
            .unwrap(),
        )
        .await
        .unwrap();
    // Refuses creates by users who may not read secrets in the object's namespace.
    let mut guard = hook(
        "secrets.example.com",
        webhook.url_config("deny"),
        &["CREATE"],
        "authz",
    );
    guard["matchConditions"] = json!([{"name": "no-secret-readers",
        "expression": "!authorizer.group('').resource('secrets').namespace(object.metadata.namespace).check('get').allowed()"}]);
    validating(admin.clone(), "authz", vec![guard]).await;
    let as_user = |user: &str, groups: &[&str]| {
        let mut config = kube::Config::new(server.url().parse().unwrap());
        config.auth_info.impersonate = Some(user.into());
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
        Api::<ConfigMap>::namespaced(Client::try_from(config).unwrap(), "default")
    };
    // A writer who may not read secrets: the webhook is called and refuses.
    let writer = as_user("carol", &["writers"]);
    let s = status_of(refused(&writer, "authz", false).await);
    assert!(
        s.message
            .starts_with("admission webhook \"secrets.example.com\" denied the request"),
        "{}",
        s.message
    );
    // system:masters may read anything: the condition is false, the webhook not called.
    let master = as_user("root", &["system:masters"]);
    master
        .create(
            &PostParams::default(),
            &configmap("by-root", json!({"hook": "authz"})),
        )
        .await
        .unwrap();
    assert!(
        !webhook
            .reviews("deny")
            .iter()
            .any(|r| r["request"]["name"] == "by-root")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_conditions_pick_skip_and_fail() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    let mut named = hook(
        "named.example.com",
        webhook.url_config("deny"),
        &["CREATE"],
        "cond",
    );
    named["matchConditions"] = json!([
        {"name": "guarded-only", "expression": "object.metadata.name.startsWith('guarded-')"},
        {"name": "creates", "expression": "request.operation == 'CREATE' && oldObject == null"},
    ]);
    let mut broken = hook(
        "broken.example.com",
        webhook.url_config("allow"),
        &["CREATE"],
        "broken",
    );
    broken["matchConditions"] =
        json!([{"name": "missing", "expression": "object.data.missing == 'x'"}]);
    let mut lenient = broken.clone();
    lenient["name"] = json!("lenient.example.com");
    lenient["objectSelector"] = json!({"matchLabels": {"hook": "lenient"}});
    lenient["failurePolicy"] = json!("Ignore");
    validating(server.client(), "conditions", vec![named, broken, lenient]).await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let s = status_of(refused(&cms, "broken", false).await);
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert!(
        s.message.ends_with(
            "is forbidden: expression 'object.data.missing == 'x'' resulted in error: no such key: missing"
        ),
        "{}",
        s.message
    );
    let s = api_err(
        cms.create(
            &PostParams::default(),
            &configmap("guarded-a", json!({"hook": "cond"})),
        )
        .await,
        403,
        "",
    );
    assert!(
        s.message
            .starts_with("admission webhook \"named.example.com\" denied the request")
    );
    cms.create(
        &PostParams::default(),
        &configmap("free-a", json!({"hook": "cond"})),
    )
    .await
    .unwrap();
    cms.create(
        &PostParams::default(),
        &configmap("lenient", json!({"hook": "lenient"})),
    )
    .await
    .unwrap();
    assert!(webhook.reviews("allow").is_empty());
}

/// A configuration breaking most of upstream's webhook rules at once.
fn invalid_webhook() -> Value {
    json!({
        "name": "two.parts",
        "clientConfig": {"url": "http://127.0.0.1/x", "service": {"name": "s", "namespace": "n"}},
        "rules": [{"operations": ["CREATE", "*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*", "configmaps"], "scope": "Everywhere"}],
        "failurePolicy": "Sometimes",
        "timeoutSeconds": 60,
        "admissionReviewVersions": ["v2"],
        "matchConditions": [{"name": "broken", "expression": "object.metadata.("}],
    })
}

/// The causes [`invalid_webhook`] earns, in upstream's order.
const INVALID_WEBHOOK_CAUSES: [&str; 9] = [
    r#"webhooks[0].name: Invalid value: "two.parts": should be a domain with at least three segments separated by dots"#,
    r#"webhooks[0].rules[0].operations: Invalid value: []admissionregistration.OperationType{"CREATE", "*"}: if '*' is present, must not specify other operations"#,
    r#"webhooks[0].rules[0].resources: Invalid value: []string{"*", "configmaps"}: if '*' is present, must not specify other resources without subresources"#,
    r#"webhooks[0].rules[0].scope: Unsupported value: "Everywhere": supported values: "*", "Cluster", "Namespaced""#,
    r#"webhooks[0].failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore""#,
    "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
    "webhooks[0].timeoutSeconds: Invalid value: 60: the timeout value must be between 1 and 30 seconds",
    "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
    r#"webhooks[0].matchConditions[0].expression: Invalid value: "object.metadata.(": compilation failed: ERROR: <input>:1:17: Syntax error"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_are_validated_on_create_and_update() {
    let server = start().await;
    let client = server.client();
    let validating_api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mutating_api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let bad = json!({"metadata": {"name": "bad"}, "webhooks": [invalid_webhook()]});
    let s = api_err(
        validating_api
            .create(
                &PostParams::default(),
                &serde_json::from_value(bad.clone()).unwrap(),
            )
            .await,
        422,
        "Invalid",
    );
    let causes: Vec<String> = s
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    assert_eq!(
        causes.len(),
        INVALID_WEBHOOK_CAUSES.len() + 1,
        "{causes:#?}"
    );
    for (cause, expected) in causes.iter().zip(INVALID_WEBHOOK_CAUSES) {
        assert!(cause.starts_with(expected), "{cause}\nexpected {expected}");
    }
    assert!(
        causes[9].contains(
            r#"webhooks[0].admissionReviewVersions: Invalid value: []string{"v2"}: must include at least one of v1, v1beta1"#
        ),
        "{causes:#?}"
    );
    assert!(validating_api.get_opt("bad").await.unwrap().is_none());

    // Mutating configurations: the same rules plus `reinvocationPolicy`; names are unique.
    let mut hook = hook(
        "mutate.example.com",
        json!({"url": "https://127.0.0.1/m"}),
        &["CREATE"],
        "m",
    );
    hook["reinvocationPolicy"] = json!("Always");
    let config = json!({"metadata": {"name": "m"}, "webhooks": [hook.clone(), hook]});
    let s = api_err(
        mutating_api
            .create(
                &PostParams::default(),
                &serde_json::from_value(config).unwrap(),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        "MutatingWebhookConfiguration.admissionregistration.k8s.io \"m\" is invalid: [webhooks[0].reinvocationPolicy: Unsupported value: \"Always\": supported values: \"IfNeeded\", \"Never\", webhooks[1].reinvocationPolicy: Unsupported value: \"Always\": supported values: \"IfNeeded\", \"Never\", webhooks[1].name: Duplicate value: \"mutate.example.com\"]"
    );

    // An update is validated too, and refused without changing what is stored.
    let good = hook_named("fine.example.com");
    validating(client.clone(), "fine", vec![good]).await;
    let patch = serde_json::from_value(
        json!([{"op": "add", "path": "/webhooks/0/timeoutSeconds", "value": 0}]),
    )
    .unwrap();
    let s = api_err(
        validating_api
            .patch("fine", &PatchParams::default(), &Patch::Json::<()>(patch))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io \"fine\" is invalid: webhooks[0].timeoutSeconds: Invalid value: 0: the timeout value must be between 1 and 30 seconds"
    );
    // What is stored is unchanged: the default it was given.
    let stored = validating_api.get("fine").await.unwrap();
    assert_eq!(stored.webhooks.unwrap()[0].timeout_seconds, Some(10));
}

/// A valid webhook named `name` (a URL that nothing answers).
fn hook_named(name: &str) -> Value {
    hook(
        name,
        json!({"url": "https://127.0.0.1:1/v"}),
        &["CREATE"],
        "never",
    )
}

/// kubectl prints the causes of a refused configuration, old and new kubectl alike.
async fn kubectl_validation_suite(version: &str) {
    let Some(binary) = kubectl_support::kubectl_binary(version) else {
        return;
    };
    let server = start().await;
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let bad = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "bad"}, "webhooks": [invalid_webhook()]});
    let file = kubectl.manifest("bad.json", &bad.to_string()).unwrap();
    let stderr = kubectl.fails(&["apply", "-f", &file]).await.unwrap();
    assert!(
        stderr.contains(r#"The ValidatingWebhookConfiguration "bad" is invalid: "#),
        "{stderr}"
    );
    for cause in INVALID_WEBHOOK_CAUSES {
        assert!(stderr.contains(cause), "missing {cause} in {stderr}");
    }
    let stderr = kubectl
        .fails(&["get", "validatingwebhookconfiguration", "bad"])
        .await
        .unwrap();
    assert!(stderr.contains("NotFound"), "{stderr}");
    // A valid one is created; a patch breaking it is refused with the cause.
    let good = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "good"}, "webhooks": [hook_named("good.example.com")]});
    let file = kubectl.manifest("good.json", &good.to_string()).unwrap();
    kubectl.ok(&["apply", "-f", &file]).await.unwrap();
    kubectl
        .rejects(
            &[
                "patch",
                "mutatingwebhookconfiguration",
                "good",
                "--type=json",
                "-p",
                r#"[{"op": "replace", "path": "/webhooks/0/sideEffects", "value": "Unknown"}]"#,
            ],
            &[
                r#"The MutatingWebhookConfiguration "good" is invalid: webhooks[0].sideEffects: Unsupported value: "Unknown": supported values: "None", "NoneOnDryRun""#,
            ],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_shows_why_a_configuration_is_invalid() {
    kubectl_validation_suite("1.27").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_shows_why_a_configuration_is_invalid() {
    kubectl_validation_suite("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_ca_bundle_is_stored_and_fails_the_call() {
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    // Upstream does not check `caBundle` on write: bytes that hold no certificate are stored.
    let mut client_config = webhook.url_config("allow");
    client_config["caBundle"] = json!(base64_of("not a PEM certificate"));
    validating(
        server.client(),
        "bad-ca",
        vec![hook(
            "bad-ca.example.com",
            client_config,
            &["CREATE"],
            "bad-ca",
        )],
    )
    .await;
    // The call cannot trust the webhook's certificate: the request fails closed, naming the
    // webhook, and the webhook never sees a review.
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let s = status_of(refused(&cms, "bad-ca", false).await);
    assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
    assert!(
        s.message.starts_with(
            "Internal error occurred: failed calling webhook \"bad-ca.example.com\": failed to call webhook: Post \"https://"
        ),
        "{}",
        s.message
    );
    assert!(webhook.reviews("allow").is_empty());
}

/// `s` base64-encoded, as a `caBundle` is written in JSON.
fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reuse_a_connection_until_the_ca_bundle_changes() {
    calls_reuse_a_connection(false).await;
}

/// A webhook that offers HTTP/2 is called over HTTP/2 (ALPN), one connection carrying the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_speak_http2_when_the_webhook_offers_it() {
    calls_reuse_a_connection(true).await;
}

/// The pooled client against a webhook speaking HTTP/1.1 only, or also HTTP/2 (`h2`).
async fn calls_reuse_a_connection(h2: bool) {
    let server = start().await;
    let webhook = webhook_support::start_speaking(&[], h2).await;
    let client_config = webhook.url_config("deny");
    validating(
        server.client(),
        "pooled",
        vec![hook(
            "deny.example.com",
            client_config.clone(),
            &["CREATE"],
            "pooled",
        )],
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    refused(&cms, "pooled", false).await;
    let calls = webhook.reviews("deny").len();
    for i in 0..5 {
        let refused = cms
            .create(
                &PostParams::default(),
                &configmap(&format!("again-{i}"), json!({"hook": "pooled"})),
            )
            .await;
        assert!(refused.is_err());
    }
    assert_eq!(webhook.reviews("deny").len(), calls + 5);
    // One connection served every call, in the version negotiated.
    assert_eq!(
        webhook
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let expected = if h2 {
        axum::http::Version::HTTP_2
    } else {
        axum::http::Version::HTTP_11
    };
    let versions = webhook.versions.lock().unwrap().clone();
    assert!(
        versions.len() >= 6 && versions.iter().all(|v| *v == expected),
        "{versions:?}"
    );

    // Another CA in caBundle: the warm connection is not used, the new client's handshake fails.
    let (other_ca, _, _) = webhook_support::certificates(&["127.0.0.1"]);
    let mut rotated = client_config.clone();
    use base64::Engine;
    rotated["caBundle"] = json!(base64::engine::general_purpose::STANDARD.encode(other_ca));
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(server.client());
    configs
        .patch(
            "pooled",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"webhooks": [hook("deny.example.com", rotated, &["CREATE"], "pooled")]}),
            ),
        )
        .await
        .unwrap();
    let message = eventually("the new caBundle to take effect", || async {
        let err = cms
            .create(
                &PostParams::default(),
                &configmap(
                    &format!("rotated-{}", rand_suffix()),
                    json!({"hook": "pooled"}),
                ),
            )
            .await
            .unwrap_err();
        let message = status_of(err).message;
        message.contains("x509").then_some(message)
    })
    .await;
    assert_eq!(
        message,
        format!(
            "Internal error occurred: failed calling webhook \"deny.example.com\": failed to call webhook: Post \"https://{}/deny?timeout=10s\": tls: failed to verify certificate: x509: certificate signed by unknown authority",
            webhook.addr
        )
    );
}

/// What a 1.33 kube-apiserver answers for the minimal webhook of `minimal_configuration`
/// (`kubectl get -o yaml`, from `webhooks:` on): every v1 default written.
const DEFAULTED_WEBHOOKS_YAML: &str = r#"webhooks:
- admissionReviewVersions:
  - v1
  clientConfig:
    service:
      name: hooks
      namespace: webhooks
      port: 443
  failurePolicy: Fail
  matchPolicy: Equivalent
  name: minimal.example.com
  namespaceSelector: {}
  objectSelector: {}
  reinvocationPolicy: Never
  rules:
  - apiGroups:
    - ""
    apiVersions:
    - v1
    operations:
    - CREATE
    resources:
    - configmaps
    scope: '*'
  sideEffects: None
  timeoutSeconds: 10
"#;

fn minimal_configuration(kind: &str) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
    "metadata": {"name": "minimal"},
    "webhooks": [{
        "name": "minimal.example.com",
        "clientConfig": {"service": {"namespace": "webhooks", "name": "hooks"}},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_are_defaulted_as_v1_defaults_them() {
    let server = start().await;
    let client = server.client();
    // kube-rs: the defaults come back on create, and generation 1.
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let created = mutating
        .create(
            &PostParams::default(),
            &serde_json::from_value(minimal_configuration("MutatingWebhookConfiguration")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let hook = &created.webhooks.as_ref().unwrap()[0];
    assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(hook.match_policy.as_deref(), Some("Equivalent"));
    assert_eq!(hook.reinvocation_policy.as_deref(), Some("Never"));
    assert_eq!(hook.timeout_seconds, Some(10));
    assert_eq!(
        hook.namespace_selector,
        Some(Default::default()),
        "namespaceSelector: {{}}"
    );
    assert_eq!(hook.object_selector, Some(Default::default()));
    assert_eq!(hook.client_config.service.as_ref().unwrap().port, Some(443));
    assert_eq!(hook.rules.as_ref().unwrap()[0].scope.as_deref(), Some("*"));

    // Changing the webhooks bumps the generation; an update needs a resourceVersion.
    let mut changed = created.clone();
    changed.webhooks.as_mut().unwrap()[0].timeout_seconds = Some(5);
    let updated = mutating
        .replace("minimal", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(updated.metadata.generation, Some(2));
    let mut unconditional = updated.clone();
    unconditional.metadata.resource_version = None;
    let s = api_err(
        mutating
            .replace("minimal", &PostParams::default(), &unconditional)
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        "MutatingWebhookConfiguration.admissionregistration.k8s.io \"minimal\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );

    // kubectl 1.33: the validating one reads back as a real cluster writes it (no
    // reinvocationPolicy).
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let file = kubectl
        .manifest(
            "minimal.json",
            &minimal_configuration("ValidatingWebhookConfiguration").to_string(),
        )
        .unwrap();
    kubectl.ok(&["create", "-f", &file]).await.unwrap();
    let yaml = kubectl
        .ok(&[
            "get",
            "validatingwebhookconfiguration",
            "minimal",
            "-o",
            "yaml",
        ])
        .await
        .unwrap();
    let webhooks = &yaml[yaml.find("webhooks:").expect("webhooks in the YAML")..];
    assert_eq!(
        webhooks,
        DEFAULTED_WEBHOOKS_YAML.replace("  reinvocationPolicy: Never\n", "")
    );
    assert!(yaml.contains("\n  generation: 1\n"), "{yaml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_acts_on_the_defaults() {
    let server = start().await;
    let client = server.client();
    // No failurePolicy: Fail. A webhook nobody answers refuses the request.
    let hook = hook(
        "closed.example.com",
        json!({"url": "https://127.0.0.1:1/nobody"}),
        &["CREATE"],
        "closed",
    );
    assert!(hook.get("failurePolicy").is_none());
    validating(client.clone(), "closed", vec![hook]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let s = status_of(refused(&cms, "closed", false).await);
    assert_eq!(s.code, 500);
    assert!(
        s.message.starts_with(
            "Internal error occurred: failed calling webhook \"closed.example.com\": "
        ),
        "{}",
        s.message
    );
    // The stored configuration says so, as the engine reads it.
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(client);
    let stored = configs.get("closed").await.unwrap();
    assert_eq!(
        stored.webhooks.unwrap()[0].failure_policy.as_deref(),
        Some("Fail")
    );
}

/// A v2 mutating webhook (matchPolicy Equivalent) adds what only v2 can hold to an HPA sent at
/// v1: it is kept, through the v1 object's round-trip annotations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_webhook_mutating_a_v1_hpa_keeps_its_v2_fields() {
    use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
    let server = start().await;
    let webhook = webhook_support::start(&[]).await;
    mutating(
        server.client(),
        "autoscale",
        vec![resource_hook(
            &webhook,
            "memory.example.com",
            ("autoscaling", "v2", "horizontalpodautoscalers"),
            "autoscale-memory",
            "Equivalent",
        )],
    )
    .await;
    let v1_api: Api<hpa_v1::HorizontalPodAutoscaler> = Api::namespaced(server.client(), "default");
    let v2_api: Api<hpa_v2::HorizontalPodAutoscaler> = Api::namespaced(server.client(), "default");
    let mut attempt = 0;
    let created = eventually("the webhook to take effect", || {
        attempt += 1;
        let v1_api = v1_api.clone();
        let hpa: hpa_v1::HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": format!("web-{attempt}")},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
        }))
        .unwrap();
        async move {
            let created = v1_api.create(&PostParams::default(), &hpa).await.unwrap();
            created
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("autoscaling.alpha.kubernetes.io/metrics"))
                .then_some(created)
        }
    })
    .await;
    let annotations = created.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations["autoscaling.alpha.kubernetes.io/metrics"],
        r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"1Gi"}}]"#
    );
    assert_eq!(
        annotations["autoscaling.alpha.kubernetes.io/behavior"],
        r#"{"ScaleUp":{"StabilizationWindowSeconds":60,"SelectPolicy":null,"Policies":null,"Tolerance":null},"ScaleDown":null}"#
    );
    assert_eq!(
        created.spec.unwrap().target_cpu_utilization_percentage,
        Some(50)
    );
    let name = created.metadata.name.unwrap();
    let stored = serde_json::to_value(v2_api.get(&name).await.unwrap()).unwrap();
    let mut metrics: Vec<Value> = stored["spec"]["metrics"].as_array().unwrap().clone();
    metrics.sort_by_key(|m| m["resource"]["name"].to_string());
    assert_eq!(
        metrics,
        vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}),
            json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}),
        ]
    );
    // The webhook's behavior, completed by v2's defaults as upstream defaults a patched object.
    assert_eq!(
        stored["spec"]["behavior"],
        json!({"scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}})
    );
    assert!(stored["metadata"].get("annotations").is_none(), "{stored}");
}
