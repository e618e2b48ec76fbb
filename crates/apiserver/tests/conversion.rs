//! CRD conversion webhooks (`spec.conversion.strategy: Webhook`) through kube-rs: a Widget CRD
//! stored at v1 and also served at v2 (where `size` moved into `dimensions` and `color` is
//! spelled `colour`), converted by kubeforge-runtime's conversion handler over TLS. Objects
//! written at one version read at the other (get, list, watch, update), and failures read as
//! kube-apiserver's: an unreachable webhook, a wrong uid or count, a renamed object, and CRDs
//! whose webhook configuration is invalid. Field selectors read each version's fields; kubectl
//! (1.27 and 1.33) gets, applies and patches at both versions. Admission webhooks registered for
//! v1 with `matchPolicy: Equivalent` get v2 requests converted to v1 (Exact ones are not called).

mod kube_support;
#[allow(unused_macros, unused_imports)]
mod kubectl_support;
mod webhook_support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, eventually, raw, start};
use kubeforge_runtime::webhook::{
    Certificates, Convertible, HubConverter, LocalCertificates, WebhookServer,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const CRD_NAME: &str = "widgets.conv.example.com";

/// The hub: v1, the storage version.
mod v1 {
    use super::*;
    /// v1 Widget spec.
    #[derive(kube::CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "conv.example.com",
        version = "v1",
        kind = "Widget",
        namespaced,
        schema = "disabled"
    )]
    pub struct WidgetSpec {
        pub size: i64,
        pub color: String,
    }
}

/// v2: `size` inside `dimensions`, `color` renamed `colour`.
mod v2 {
    use super::*;
    /// v2 Widget spec.
    #[derive(kube::CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "conv.example.com",
        version = "v2",
        kind = "Widget",
        namespaced,
        schema = "disabled"
    )]
    pub struct WidgetSpec {
        pub dimensions: Dimensions,
        pub colour: String,
    }
    /// v2's dimensions.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Dimensions {
        pub size: i64,
    }
}

impl Convertible<v1::Widget> for v2::Widget {
    fn convert_to(&self) -> Result<v1::Widget, String> {
        let mut hub = v1::Widget::new(
            &self.name_any(),
            v1::WidgetSpec {
                size: self.spec.dimensions.size,
                color: self.spec.colour.clone(),
            },
        );
        hub.metadata = self.metadata.clone();
        Ok(hub)
    }

    fn convert_from(hub: &v1::Widget) -> Result<Self, String> {
        if hub.spec.color == "plaid" {
            return Err("plaid has no colour".into());
        }
        let mut spoke = v2::Widget::new(
            &hub.name_any(),
            v2::WidgetSpec {
                dimensions: v2::Dimensions {
                    size: hub.spec.size,
                },
                colour: hub.spec.color.clone(),
            },
        );
        spoke.metadata = hub.metadata.clone();
        Ok(spoke)
    }
}

/// The runtime's webhook server converting Widgets at `/convert`, on a free port, with a
/// certificate for 127.0.0.1 and the Service `widget-conversion.default.svc`.
struct ConversionWebhook {
    addr: std::net::SocketAddr,
    ca_bundle: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConversionWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConversionWebhook {
    async fn start() -> Self {
        use base64::Engine;
        let local =
            LocalCertificates::generate(&["127.0.0.1", "widget-conversion.default.svc"]).unwrap();
        let server =
            WebhookServer::new(Certificates::from_pem(&local.cert_pem, &local.key_pem).unwrap())
                .converter(
                    "/convert",
                    HubConverter::<v1::Widget>::new().spoke::<v2::Widget>(),
                );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(server.serve(listener, std::future::pending()));
        ConversionWebhook {
            addr,
            ca_bundle: base64::engine::general_purpose::STANDARD.encode(&local.ca_pem),
            task,
        }
    }

    /// `clientConfig` by URL.
    fn url_config(&self) -> Value {
        json!({"url": format!("https://{}/convert", self.addr), "caBundle": self.ca_bundle})
    }

    /// `clientConfig` by the Service `default/widget-conversion`, which this creates with
    /// Endpoints at the webhook's address.
    async fn service_config(&self, client: &Client) -> Value {
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "widget-conversion"},
                    "spec": {"ports": [{"name": "https", "port": 443, "targetPort": self.addr.port()}]}}))
                .unwrap(),
            )
            .await
            .unwrap();
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        endpoints
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "widget-conversion"},
                    "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": self.addr.port()}]}]}))
                .unwrap(),
            )
            .await
            .unwrap();
        json!({"service": {"namespace": "default", "name": "widget-conversion", "path": "/convert"},
            "caBundle": self.ca_bundle})
    }
}

fn crd(conversion: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "conv.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "size": {"type": "integer"}, "color": {"type": "string"}}}}}}},
                {"name": "v2", "served": true, "storage": false,
                 "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.dimensions.size"}],
                 "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "dimensions": {"type": "object", "properties": {"size": {"type": "integer"}}},
                        "colour": {"type": "string"}}}}}}},
            ],
            "conversion": conversion,
        }
    })
}

fn webhook_conversion(client_config: Value) -> Value {
    json!({"strategy": "Webhook", "webhook": {"clientConfig": client_config, "conversionReviewVersions": ["v1", "v1beta1"]}})
}

async fn install(client: &Client, crd: Value) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let v2: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    eventually("v2 Widgets to be served", || async {
        v2.list(&ListParams::default()).await.ok()
    })
    .await;
}

/// Points the CRD's conversion webhook at `client_config` and waits until reading `name` at v2
/// fails, returning the Status.
async fn repoint(client: &Client, client_config: Value, name: &str) -> kube::core::Status {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"conversion": {"webhook": {"clientConfig": client_config}}}}),
        ),
    )
    .await
    .unwrap();
    let v2: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    eventually("the new conversion webhook to be called", || async {
        match v2.get(name).await {
            Err(kube::Error::Api(s)) => Some(*s),
            _ => None,
        }
    })
    .await
}

#[tokio::test]
async fn objects_written_at_one_version_read_at_the_other() {
    let server = start().await;
    let client = server.client();
    let webhook = ConversionWebhook::start().await;
    // Called through a Service, resolved by its Endpoints, verified as `<svc>.<ns>.svc`.
    let by_service = webhook.service_config(&client).await;
    install(&client, crd(webhook_conversion(by_service))).await;
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    let v2_api: Api<v2::Widget> = Api::namespaced(client.clone(), "default");

    // Created at v1 (the storage version: no call), read at v2.
    let created = v1_api
        .create(
            &PostParams::default(),
            &v1::Widget::new(
                "small",
                v1::WidgetSpec {
                    size: 3,
                    color: "red".into(),
                },
            ),
        )
        .await
        .unwrap();
    let at_v2 = v2_api.get("small").await.unwrap();
    assert_eq!(
        at_v2.spec,
        v2::WidgetSpec {
            dimensions: v2::Dimensions { size: 3 },
            colour: "red".into()
        }
    );
    assert_eq!(at_v2.metadata.uid, created.metadata.uid);
    assert_eq!(
        at_v2.metadata.resource_version,
        created.metadata.resource_version
    );

    // Created at v2: stored at v1, answered at v2.
    let big = v2_api
        .create(
            &PostParams::default(),
            &v2::Widget::new(
                "big",
                v2::WidgetSpec {
                    dimensions: v2::Dimensions { size: 40 },
                    colour: "blue".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(big.spec.dimensions.size, 40);
    assert_eq!(v1_api.get("big").await.unwrap().spec.size, 40);

    // A dry run at v2 goes through the storage version and back, storing nothing.
    let dry = v2_api
        .create(
            &PostParams {
                dry_run: true,
                ..PostParams::default()
            },
            &v2::Widget::new(
                "dry",
                v2::WidgetSpec {
                    dimensions: v2::Dimensions { size: 9 },
                    colour: "red".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(dry.spec.dimensions.size, 9);
    assert!(v1_api.get_opt("dry").await.unwrap().is_none());

    // A list at v2 converts every item.
    let listed = v2_api.list(&ListParams::default()).await.unwrap();
    let sizes: Vec<(String, i64)> = listed
        .items
        .iter()
        .map(|w| (w.name_any(), w.spec.dimensions.size))
        .collect();
    assert_eq!(
        sizes,
        vec![("big".to_string(), 40), ("small".to_string(), 3)]
    );

    // kubectl's table at v2 prints v2's columns from the converted objects.
    let (code, table) = raw(
        &client,
        "GET",
        "/apis/conv.example.com/v2/namespaces/default/widgets",
        Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{table}");
    let cells: Vec<Value> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["cells"][0], r["cells"][1]]))
        .collect();
    assert_eq!(cells, vec![json!(["big", 40]), json!(["small", 3])]);

    // An update at v2 is stored at v1 and read back there.
    let mut changed = v2_api.get("small").await.unwrap();
    changed.spec.dimensions.size = 5;
    changed.spec.colour = "green".into();
    let replaced = v2_api
        .replace("small", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.spec.dimensions.size, 5);
    let back = v1_api.get("small").await.unwrap();
    assert_eq!(
        back.spec,
        v1::WidgetSpec {
            size: 5,
            color: "green".into()
        }
    );
    assert_eq!(back.metadata.generation, Some(2));

    // A merge patch at v2 applies to the v2 form.
    let patched = v2_api
        .patch(
            "small",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"dimensions": {"size": 6}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.dimensions.size, 6);
    assert_eq!(v1_api.get("small").await.unwrap().spec.size, 6);

    // A watch at v2 sees objects written at v1 in v2's form.
    let params = WatchParams::default().timeout(10);
    let rv = v2_api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = v2_api.watch(&params, &rv).await.unwrap().boxed();
    v1_api
        .create(
            &PostParams::default(),
            &v1::Widget::new(
                "watched",
                v1::WidgetSpec {
                    size: 7,
                    color: "red".into(),
                },
            ),
        )
        .await
        .unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Added(w)) => {
            assert_eq!(w.name_any(), "watched");
            assert_eq!(w.spec.dimensions.size, 7);
        }
        other => panic!("expected the ADDED Widget at v2, got {other:?}"),
    }

    // A delete at v2 reads the object at v2 first (its preconditions are checked there).
    v2_api.delete("big", &Default::default()).await.unwrap();
    assert!(v1_api.get_opt("big").await.unwrap().is_none());

    // A conversion the webhook refuses is the webhook's message in a 500.
    v1_api
        .create(
            &PostParams::default(),
            &v1::Widget::new(
                "plaid",
                v1::WidgetSpec {
                    size: 1,
                    color: "plaid".into(),
                },
            ),
        )
        .await
        .unwrap();
    let refused = api_err(v2_api.get("plaid").await, 500, "InternalError");
    assert_eq!(
        refused.message,
        "Internal error occurred: conversion webhook for conv.example.com/v1, Kind=Widget failed: plaid has no colour"
    );
    // ... and ends a watch with an ERROR event.
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "conv.example.com",
            "v2",
            "Widget",
        )),
    );
    let mut events = dynamic.watch(&params, "0").await.unwrap().boxed();
    let mut error = None;
    while let Some(event) = events.try_next().await.unwrap() {
        if let WatchEvent::Error(e) = event {
            error = Some(e);
            break;
        }
    }
    let error = error.expect("the watch ends with an ERROR event");
    assert_eq!(error.code, 500);
    assert!(
        error.message.ends_with("failed: plaid has no colour"),
        "{error:?}"
    );
}

#[tokio::test]
async fn failed_conversions_answer_as_kube_apiserver() {
    let server = start().await;
    let client = server.client();
    let webhook = ConversionWebhook::start().await;
    install(&client, crd(webhook_conversion(webhook.url_config()))).await;
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    v1_api
        .create(
            &PostParams::default(),
            &v1::Widget::new(
                "w",
                v1::WidgetSpec {
                    size: 1,
                    color: "red".into(),
                },
            ),
        )
        .await
        .unwrap();
    // Reading at the storage version never calls the webhook, even when it is down.
    let down = repoint(&client, json!({"url": "https://127.0.0.1:1/convert"}), "w").await;
    assert_eq!((down.code, down.reason.as_str()), (500, "InternalError"));
    assert_eq!(
        down.message,
        "Internal error occurred: conversion webhook for conv.example.com/v1, Kind=Widget failed: Post \"https://127.0.0.1:1/convert?timeout=30s\": dial tcp 127.0.0.1:1: connect: connection refused"
    );
    assert_eq!(v1_api.get("w").await.unwrap().spec.size, 1);

    let misbehaving = webhook_support::start(&[]).await;
    let wrong_uid = repoint(&client, misbehaving.url_config("convert-wrong-uid"), "w").await;
    assert_eq!(wrong_uid.code, 500);
    assert!(
        wrong_uid.message.starts_with(
            "Internal error occurred: conversion webhook for conv.example.com/v1, Kind=Widget failed: expected response.uid="
        ) && wrong_uid.message.ends_with(r#", got "not-the-uid""#),
        "{wrong_uid:?}"
    );
    let wrong_count = repoint(&client, misbehaving.url_config("convert-wrong-count"), "w").await;
    assert_eq!(
        wrong_count.message,
        "Internal error occurred: conversion webhook for conv.example.com/v1, Kind=Widget returned 0 objects, expected 1"
    );
    let renamed = repoint(&client, misbehaving.url_config("convert-rename"), "w").await;
    assert_eq!(
        renamed.message,
        "Internal error occurred: conversion webhook for conv.example.com/v1, Kind=Widget returned invalid object: must have the same name: w != renamed"
    );
    // The review went out as the first version this server speaks, with the request's uid.
    let reviews = misbehaving.reviews("convert-rename");
    let review = reviews.last().expect("the webhook was called");
    assert_eq!(review["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(
        review["request"]["desiredAPIVersion"],
        "conv.example.com/v2"
    );
    assert_eq!(review["request"]["objects"][0]["metadata"]["name"], "w");
    // Writes at v2 fail the same way, before anything is stored.
    let v2_api: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    let write = api_err(
        v2_api
            .create(
                &PostParams::default(),
                &v2::Widget::new(
                    "x",
                    v2::WidgetSpec {
                        dimensions: v2::Dimensions { size: 1 },
                        colour: "red".into(),
                    },
                ),
            )
            .await,
        500,
        "InternalError",
    );
    assert!(
        write.message.contains("returned invalid object"),
        "{write:?}"
    );
    assert!(v1_api.get_opt("x").await.unwrap().is_none());
}

#[tokio::test]
async fn invalid_webhook_configurations_are_refused() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let refused = |conversion: Value| {
        let crds = crds.clone();
        async move {
            let crd = serde_json::from_value(crd(conversion)).unwrap();
            api_err(
                crds.create(&PostParams::default(), &crd).await,
                422,
                "Invalid",
            )
            .message
        }
    };
    let prefix =
        format!("CustomResourceDefinition.apiextensions.k8s.io \"{CRD_NAME}\" is invalid: ");
    assert_eq!(
        refused(json!({"strategy": "Webhook"})).await,
        format!(
            "{prefix}[spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook, spec.conversion.conversionReviewVersions: Required value]"
        )
    );
    assert_eq!(
        refused(json!({"strategy": "Webhook", "webhook": {
            "clientConfig": {"url": "http://example.com/convert?x=1"},
            "conversionReviewVersions": ["v1"]}}))
        .await,
        format!(
            "{prefix}[spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path], spec.conversion.webhookClientConfig.url: Invalid value: \"x=1\": query parameters are not permitted in the URL]"
        )
    );
    assert_eq!(
        refused(json!({"strategy": "Webhook", "webhook": {
            "clientConfig": {"service": {"namespace": "default", "name": "", "path": "convert"}},
            "conversionReviewVersions": ["v1", "v1"]}}))
        .await,
        format!(
            "{prefix}[spec.conversion.webhookClientConfig.service.name: Required value: service name is required, spec.conversion.webhookClientConfig.service.path: Invalid value: \"convert\": must start with a '/', spec.conversion.conversionReviewVersions[1]: Invalid value: \"v1\": duplicate version]"
        )
    );
    assert_eq!(
        refused(json!({"strategy": "Webhook", "webhook": {
            "clientConfig": {"url": "https://example.com/convert"},
            "conversionReviewVersions": ["v3", "V4"]}}))
        .await,
        format!(
            "{prefix}[spec.conversion.conversionReviewVersions[1]: Invalid value: \"V4\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'), spec.conversion.conversionReviewVersions: Invalid value: []string{{\"v3\", \"V4\"}}: must include at least one of v1, v1beta1]"
        )
    );
    assert_eq!(
        refused(json!({"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"]}})).await,
        format!(
            "{prefix}spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook"
        )
    );
}

#[tokio::test]
async fn a_list_bigger_than_one_object_converts_in_one_review() {
    let server = start().await;
    let client = server.client();
    let webhook = ConversionWebhook::start().await;
    install(&client, crd(webhook_conversion(webhook.url_config()))).await;
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    let v2_api: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    // Five objects of 1 MiB each: the ConversionReview of their LIST (one review for the whole
    // list, as upstream sends it) is several times what one object may be.
    let colour = "c".repeat(1024 * 1024);
    for i in 0..5 {
        v1_api
            .create(
                &PostParams::default(),
                &v1::Widget::new(
                    &format!("large-{i}"),
                    v1::WidgetSpec {
                        size: i,
                        color: colour.clone(),
                    },
                ),
            )
            .await
            .unwrap();
    }
    let listed = v2_api.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 5);
    for (i, widget) in listed.items.iter().enumerate() {
        assert_eq!(widget.spec.dimensions.size, i as i64);
        assert_eq!(widget.spec.colour.len(), colour.len());
    }
}

/// An admission webhook configuration for Widgets at `version`, calling `path` on `webhook`.
fn widget_hooks(
    webhook: &webhook_support::Webhook,
    name: &str,
    version: &str,
    path: &str,
    match_policy: &str,
) -> Value {
    json!({"metadata": {"name": name}, "webhooks": [{
        "name": format!("{name}.example.com"),
        "clientConfig": webhook.url_config(path),
        "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["conv.example.com"],
            "apiVersions": [version], "resources": ["widgets"]}],
        "matchPolicy": match_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }]})
}

#[tokio::test]
async fn admission_webhooks_for_one_version_get_the_other_converted() {
    use k8s_openapi::api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    };
    let server = start().await;
    let client = server.client();
    let conversion = ConversionWebhook::start().await;
    install(&client, crd(webhook_conversion(conversion.url_config()))).await;
    let admission = webhook_support::start(&[]).await;
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    // Registered for v1 only: Equivalent (mutating and validating), and Exact.
    for (api, config) in [
        (
            &mutating,
            widget_hooks(&admission, "label-v1", "v1", "mutate", "Equivalent"),
        ),
        (
            &mutating,
            widget_hooks(&admission, "exact-v1", "v1", "exact-v1", "Exact"),
        ),
    ] {
        api.create(
            &PostParams::default(),
            &serde_json::from_value(config).unwrap(),
        )
        .await
        .unwrap();
    }
    validating
        .create(
            &PostParams::default(),
            &serde_json::from_value(widget_hooks(
                &admission,
                "check-v1",
                "v1",
                "check-v1",
                "Equivalent",
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    let v2_api: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    let mut attempt = 0;
    eventually("the admission webhooks to take effect", || {
        attempt += 1;
        let v1_api = v1_api.clone();
        let admission = &admission;
        async move {
            let probe = v1::Widget::new(
                &format!("probe-{attempt}"),
                v1::WidgetSpec {
                    size: 1,
                    color: "grey".into(),
                },
            );
            let created = v1_api.create(&PostParams::default(), &probe).await.unwrap();
            (created.labels().get("mutated").is_some()
                && !admission.reviews("check-v1").is_empty()
                && !admission.reviews("exact-v1").is_empty())
            .then_some(())
        }
    })
    .await;

    // Created at v2: the webhooks registered for v1 get it at v1, converted by the CRD's
    // conversion webhook, and the mutation made at v1 is stored and answered at v2.
    let created = v2_api
        .create(
            &PostParams::default(),
            &v2::Widget::new(
                "converted",
                v2::WidgetSpec {
                    dimensions: v2::Dimensions { size: 7 },
                    colour: "green".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        created.labels().get("mutated").map(String::as_str),
        Some("yes")
    );
    assert_eq!(created.spec.dimensions.size, 7);
    let stored = v1_api.get("converted").await.unwrap();
    assert_eq!(stored.spec.size, 7);
    assert_eq!(
        stored.labels().get("mutated").map(String::as_str),
        Some("yes")
    );

    let review_of = |path: &str, operation: &str| {
        admission
            .reviews(path)
            .into_iter()
            .find(|r| r["request"]["name"] == "converted" && r["request"]["operation"] == operation)
    };
    let mutate = review_of("mutate", "CREATE").expect("the mutating webhook was called");
    let request = &mutate["request"];
    assert_eq!(
        request["kind"],
        json!({"group": "conv.example.com", "version": "v1", "kind": "Widget"})
    );
    assert_eq!(
        request["resource"],
        json!({"group": "conv.example.com", "version": "v1", "resource": "widgets"})
    );
    assert_eq!(
        request["requestKind"],
        json!({"group": "conv.example.com", "version": "v2", "kind": "Widget"})
    );
    assert_eq!(
        request["requestResource"],
        json!({"group": "conv.example.com", "version": "v2", "resource": "widgets"})
    );
    assert_eq!(request["object"]["apiVersion"], "conv.example.com/v1");
    assert_eq!(
        request["object"]["spec"],
        json!({"size": 7, "color": "green"})
    );
    // The validating webhook sees the mutated object, at v1 too.
    let check = review_of("check-v1", "CREATE").expect("the validating webhook was called");
    assert_eq!(
        check["request"]["object"]["apiVersion"],
        "conv.example.com/v1"
    );
    assert_eq!(
        check["request"]["object"]["metadata"]["labels"]["mutated"],
        "yes"
    );
    assert_eq!(check["request"]["requestKind"]["version"], "v2");
    // Exact: not called for a v2 request.
    assert!(review_of("exact-v1", "CREATE").is_none());

    // An update at v2: the old object is converted as well.
    v2_api
        .patch(
            "converted",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"colour": "teal"}})),
        )
        .await
        .unwrap();
    let update = review_of("check-v1", "UPDATE").expect("the update was reviewed");
    assert_eq!(update["request"]["object"]["spec"]["color"], "teal");
    assert_eq!(update["request"]["oldObject"]["spec"]["color"], "green");
    assert_eq!(
        update["request"]["oldObject"]["apiVersion"],
        "conv.example.com/v1"
    );
    assert!(review_of("exact-v1", "UPDATE").is_none());

    // A v1 request is the webhooks' own version: no conversion, request* the same.
    let own = admission
        .reviews("exact-v1")
        .into_iter()
        .next()
        .expect("the Exact webhook was called for v1");
    assert_eq!(own["request"]["requestKind"], own["request"]["kind"]);
    assert_eq!(own["request"]["kind"]["version"], "v1");
}

/// The CRD with `selectableFields` per version: v1 selects `.spec.color`, v2 `.spec.colour` and
/// `.spec.dimensions.size` (v1's `size` in v2's place).
fn crd_with_selectable_fields(conversion: Value) -> Value {
    let mut crd = crd(conversion);
    crd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.color"}]);
    crd["spec"]["versions"][1]["selectableFields"] =
        json!([{"jsonPath": ".spec.colour"}, {"jsonPath": ".spec.dimensions.size"}]);
    crd
}

#[tokio::test]
async fn field_selectors_read_the_object_at_the_requested_version() {
    let server = start().await;
    let client = server.client();
    let webhook = ConversionWebhook::start().await;
    install(
        &client,
        crd_with_selectable_fields(webhook_conversion(webhook.url_config())),
    )
    .await;
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    let v2_api: Api<v2::Widget> = Api::namespaced(client.clone(), "default");
    for (name, size, color) in [("a", 1, "red"), ("b", 2, "blue"), ("c", 3, "red")] {
        v1_api
            .create(
                &PostParams::default(),
                &v1::Widget::new(
                    name,
                    v1::WidgetSpec {
                        size,
                        color: color.into(),
                    },
                ),
            )
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<v2::Widget>| -> Vec<String> {
        list.items.iter().map(|w| w.name_any()).collect()
    };
    // At v2 the fields are v2's: `spec.colour`, `spec.dimensions.size`.
    let red = ListParams::default().fields("spec.colour=red");
    assert_eq!(names(v2_api.list(&red).await.unwrap()), ["a", "c"]);
    let sized = ListParams::default().fields("spec.dimensions.size=2");
    assert_eq!(names(v2_api.list(&sized).await.unwrap()), ["b"]);
    let both = ListParams::default().fields("spec.colour=red,spec.dimensions.size!=1");
    assert_eq!(names(v2_api.list(&both).await.unwrap()), ["c"]);
    // v1's field is not one of v2's, and the other way round.
    let s = api_err(
        v2_api
            .list(&ListParams::default().fields("spec.color=red"))
            .await,
        400,
        "BadRequest",
    );
    assert_eq!(s.message, "field label not supported: spec.color");
    let at_v1: Vec<String> = v1_api
        .list(&ListParams::default().fields("spec.color=red"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|w| w.name_any())
        .collect();
    assert_eq!(at_v1, ["a", "c"]);
    // Pages of a selected list at v2: the token continues after the last item returned.
    let first = v2_api.list(&red.clone().limit(1)).await.unwrap();
    let token = first.metadata.continue_.clone().expect("a continue token");
    assert_eq!(names(first), ["a"]);
    let rest = v2_api
        .list(&red.clone().limit(1).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(rest), ["c"]);

    // A watch at v2 selects on v2's fields, and an object leaving the selection is DELETED.
    let params = WatchParams::default().fields("spec.colour=red");
    let mut events = v2_api.watch(&params, "0").await.unwrap().boxed();
    let mut initial = Vec::new();
    for _ in 0..2 {
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Added(w)) => initial.push(w.name_any()),
            other => panic!("expected ADDED, got {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "c"]);
    v1_api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"color": "green"}})),
        )
        .await
        .unwrap();
    v1_api
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"color": "red"}})),
        )
        .await
        .unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Deleted(w)) => {
            assert_eq!(w.name_any(), "a");
            assert_eq!(w.spec.colour, "green");
        }
        other => panic!("expected a to leave the selection, got {other:?}"),
    }
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Added(w)) => {
            assert_eq!(w.name_any(), "b");
            assert_eq!(w.spec.dimensions.size, 2);
        }
        other => panic!("expected b to enter the selection, got {other:?}"),
    }
}

/// kubectl at `version` against a Widget CRD converted by webhook: `apply` at v2 (the object is
/// stored at v1), `get` and `-o yaml` at both versions, the printer column of v2, `patch` at v1
/// seen at v2, and a second `apply` at v2 that changes the stored v1 object.
async fn kubectl_suite(version: &str) {
    let Some(binary) = kubectl_support::kubectl_binary(version) else {
        return;
    };
    let server = start().await;
    let client = server.client();
    let webhook = ConversionWebhook::start().await;
    install(&client, crd(webhook_conversion(webhook.url_config()))).await;
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let manifest = |colour: &str| {
        format!(
            "apiVersion: conv.example.com/v2\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec:\n  dimensions:\n    size: 4\n  colour: {colour}\n"
        )
    };
    let file = kubectl.manifest("w.yaml", &manifest("blue")).unwrap();
    let out = kubectl.ok(&["apply", "-f", &file]).await.unwrap();
    assert_eq!(out.trim(), "widget.conv.example.com/w created");
    // Stored at v1: the object read at v1 has v1's fields.
    let at_v1 = kubectl
        .json(&["get", "widgets.v1.conv.example.com", "w"])
        .await
        .unwrap();
    assert_eq!(at_v1["apiVersion"], "conv.example.com/v1");
    assert_eq!(at_v1["spec"], json!({"size": 4, "color": "blue"}));
    let yaml = kubectl
        .ok(&["get", "widgets.v2.conv.example.com", "w", "-o", "yaml"])
        .await
        .unwrap();
    assert!(yaml.contains("apiVersion: conv.example.com/v2\n"), "{yaml}");
    assert!(
        yaml.contains("spec:\n  colour: blue\n  dimensions:\n    size: 4\n"),
        "{yaml}"
    );
    let yaml = kubectl
        .ok(&["get", "widgets.v1.conv.example.com", "w", "-o", "yaml"])
        .await
        .unwrap();
    assert!(yaml.contains("apiVersion: conv.example.com/v1\n"), "{yaml}");
    assert!(yaml.contains("spec:\n  color: blue\n  size: 4\n"), "{yaml}");
    // v2's printer column reads v2's field.
    let table = kubectl
        .ok(&["get", "widgets.v2.conv.example.com"])
        .await
        .unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SIZE"]
    );
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["w", "4"]);
    // A patch at v1 is seen at v2.
    let out = kubectl
        .ok(&[
            "patch",
            "widgets.v1.conv.example.com",
            "w",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":9}}"#,
        ])
        .await
        .unwrap();
    assert_eq!(out.trim(), "widget.conv.example.com/w patched");
    let size = kubectl
        .jsonpath(
            &["get", "widgets.v2.conv.example.com", "w"],
            "{.spec.dimensions.size}",
        )
        .await
        .unwrap();
    assert_eq!(size, "9");
    // A JSON patch at v2 is applied to the object at v2, then stored at v1.
    kubectl
        .ok(&[
            "patch",
            "widgets.v2.conv.example.com",
            "w",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/dimensions/size","value":5}]"#,
        ])
        .await
        .unwrap();
    let v1_api: Api<v1::Widget> = Api::namespaced(client.clone(), "default");
    assert_eq!(v1_api.get("w").await.unwrap().spec.size, 5);
    // Applying the v2 manifest again: the last-applied configuration (at v2) is compared with
    // the object read at v2, and only the changed colour is patched.
    let file = kubectl.manifest("w.yaml", &manifest("green")).unwrap();
    let out = kubectl.ok(&["apply", "-f", &file]).await.unwrap();
    assert_eq!(out.trim(), "widget.conv.example.com/w configured");
    let stored = v1_api.get("w").await.unwrap();
    assert_eq!(stored.spec.color, "green");
    assert_eq!(stored.spec.size, 4, "apply restores the applied size");
    // Server-side apply at v1.
    let file = kubectl
        .manifest(
            "w1.yaml",
            "apiVersion: conv.example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec:\n  size: 6\n",
        )
        .unwrap();
    kubectl
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", &file])
        .await
        .unwrap();
    let size = kubectl
        .jsonpath(
            &["get", "widgets.v2.conv.example.com", "w"],
            "{.spec.dimensions.size}",
        )
        .await
        .unwrap();
    assert_eq!(size, "6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_reads_and_writes_both_versions() {
    kubectl_suite("1.27").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_reads_and_writes_both_versions() {
    kubectl_suite("1.33").await;
}
