//! The seed operators' admission webhooks through the real API server: the CRDs installed, the
//! webhooks served by a local HTTPS server with a generated certificate and registered from
//! their declarations (`clientConfig.url` and `caBundle`, as `kubeforge up` does), then Foos,
//! rules and Networks written through the API: defaulted, refused with apimachinery's wording
//! and a 422, and the same for dry-run requests (the webhooks declare no side effects). Foos
//! written at v1 are stored at v1alpha1 through the conversion webhook, and read back at both.

// `foo` is sample-controller's kind, not a placeholder.
#![allow(clippy::disallowed_names)]

mod common;

use common::PATIENCE;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::codis::{ConfigurationDistributionRule, Mode, RuleSpec};
use kubeforge_operators::foo::{Foo, FooSpec, v1};
use kubeforge_operators::network::{Network, NetworkSpec};
use kubeforge_runtime::webhook::{Certificates, LocalCertificates};
use serde_json::json;

/// A server with the foo, codis and network CRDs and their webhooks registered and served.
async fn start() -> anyhow::Result<(ApiServer, Client)> {
    let server = ApiServer::builder().in_memory().start().await?;
    let client = server.client();
    let operators = kubeforge_operators::select("foo,codis,network")?;
    kubeforge_operators::install::install_crds(&client, &operators, PATIENCE).await?;
    let local = LocalCertificates::generate(&["127.0.0.1"])?;
    let webhooks = kubeforge_operators::webhooks::server(
        operators.iter().map(|o| (*o, client.clone())),
        Certificates::from_pem(&local.cert_pem, &local.key_pem)?,
    )
    .expect("foo, codis and network have webhooks");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    tokio::spawn(webhooks.serve(listener, std::future::pending()));
    let client_config = json!({"url": url, "caBundle": ByteString(local.ca_pem.into_bytes())});
    for operator in &operators {
        for conversion in kubeforge_operators::webhooks::conversions(operator) {
            let patch = json!({"spec": {"conversion": kubeforge_operators::webhooks::crd_conversion(&conversion, &client_config)}});
            Api::<CustomResourceDefinition>::all(client.clone())
                .patch(
                    &conversion.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
        }
        let name = kubeforge_operators::manifests::object_name(operator);
        for configuration in kubeforge_operators::webhooks::configurations(
            operator,
            &name,
            &client_config,
            &json!({}),
        ) {
            if configuration["kind"] == "MutatingWebhookConfiguration" {
                Api::<MutatingWebhookConfiguration>::all(client.clone())
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(configuration)?,
                    )
                    .await?;
            } else {
                Api::<ValidatingWebhookConfiguration>::all(client.clone())
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(configuration)?,
                    )
                    .await?;
            }
        }
    }
    Ok((server, client))
}

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..PostParams::default()
    }
}

/// The API error of `result`, which must have failed.
fn refusal<T: std::fmt::Debug>(result: kube::Result<T>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn webhooks_default_foos_and_refuse_bad_rules_and_overlapping_networks() -> anyhow::Result<()>
{
    let (server, client) = start().await?;

    // Foo: replicas defaulted to 1 when absent, kept when given; dry-run is defaulted too and
    // stores nothing.
    let foos: Api<Foo> = Api::namespaced(client.clone(), "default");
    let bare = |name: &str| {
        Foo::new(
            name,
            FooSpec {
                deployment_name: name.into(),
                replicas: None,
            },
        )
    };
    let dry = foos.create(&dry_run(), &bare("dry")).await?;
    assert_eq!(dry.spec.replicas, Some(1));
    assert!(
        foos.get_opt("dry").await?.is_none(),
        "dry run stored nothing"
    );
    let created = foos.create(&PostParams::default(), &bare("bare")).await?;
    assert_eq!(created.spec.replicas, Some(1));
    assert_eq!(foos.get("bare").await?.spec.replicas, Some(1));
    let mut three = bare("three");
    three.spec.replicas = Some(3);
    assert_eq!(
        foos.create(&PostParams::default(), &three)
            .await?
            .spec
            .replicas,
        Some(3)
    );
    // An update that drops replicas gets the default back.
    let mut update = foos.get("three").await?;
    update.spec.replicas = None;
    let updated = foos
        .replace("three", &PostParams::default(), &update)
        .await?;
    assert_eq!(updated.spec.replicas, Some(1));

    // codis: a rule listing its own namespace is refused, naming each offending entry.
    for ns in ["src", "dst"] {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    let rules: Api<ConfigurationDistributionRule> = Api::namespaced(client.clone(), "src");
    let rule = |name: &str, targets: &[&str]| {
        ConfigurationDistributionRule::new(
            name,
            RuleSpec {
                mode: Mode::Both,
                selector: "shared".into(),
                namespaces: targets.iter().map(|t| t.to_string()).collect(),
            },
        )
    };
    let own = "must not be the rule's own namespace, which holds the sources it distributes";
    let prefix = "admission webhook \"vconfigurationdistributionrule-v1alpha1.k8s.tideland.dev\" denied the request: ";
    for params in [PostParams::default(), dry_run()] {
        let status = refusal(rules.create(&params, &rule("self", &["dst", "src"])).await);
        assert_eq!(status.code, 422, "{status:?}");
        assert_eq!(
            status.message,
            format!(
                "{prefix}ConfigurationDistributionRule.k8s.tideland.dev \"self\" is invalid: spec.namespaces[1]: Invalid value: \"src\": {own}"
            )
        );
    }
    let status = refusal(
        rules
            .create(
                &PostParams::default(),
                &rule("twice", &["src", "dst", "src"]),
            )
            .await,
    );
    assert_eq!(
        status.message,
        format!(
            "{prefix}ConfigurationDistributionRule.k8s.tideland.dev \"twice\" is invalid: [spec.namespaces[0]: Invalid value: \"src\": {own}, spec.namespaces[2]: Invalid value: \"src\": {own}]"
        )
    );
    assert!(rules.get_opt("self").await?.is_none());
    rules.create(&dry_run(), &rule("fine", &["dst"])).await?;
    let fine = rules
        .create(&PostParams::default(), &rule("fine", &["dst"]))
        .await?;
    // Updates are checked too.
    let mut widened = fine.clone();
    widened.spec.namespaces.push("src".into());
    let status = refusal(
        rules
            .replace("fine", &PostParams::default(), &widened)
            .await,
    );
    assert_eq!(status.code, 422);
    assert!(status.message.ends_with(&format!(
        "\"fine\" is invalid: spec.namespaces[1]: Invalid value: \"src\": {own}"
    )));

    // Network: a CIDR overlapping another Network's of the namespace is refused; other
    // namespaces' Networks do not count.
    let networks: Api<Network> = Api::namespaced(client.clone(), "default");
    let network = |name: &str, cidr: &str, gateway: &str| {
        Network::new(
            name,
            NetworkSpec {
                cidr: cidr.into(),
                gateway: gateway.into(),
                excludes: Vec::new(),
            },
        )
    };
    networks
        .create(
            &PostParams::default(),
            &network("wide", "10.0.0.0/16", "10.0.0.1"),
        )
        .await?;
    networks
        .create(
            &PostParams::default(),
            &network("apart", "10.1.0.0/24", "10.1.0.1"),
        )
        .await?;
    let vnetwork = "admission webhook \"vnetwork-v1.samplecrd.k8s.io\" denied the request: ";
    for params in [PostParams::default(), dry_run()] {
        let status = refusal(
            networks
                .create(&params, &network("inner", "10.0.3.0/24", "10.0.3.1"))
                .await,
        );
        assert_eq!(status.code, 422, "{status:?}");
        assert_eq!(
            status.message,
            format!(
                "{vnetwork}Network.samplecrd.k8s.io \"inner\" is invalid: spec.cidr: Invalid value: \"10.0.3.0/24\": overlaps Network \"wide\" (10.0.0.0/16)"
            )
        );
    }
    let status = refusal(
        networks
            .create(
                &PostParams::default(),
                &network("both", "10.0.0.0/8", "10.0.0.1"),
            )
            .await,
    );
    assert_eq!(
        status.message,
        format!(
            "{vnetwork}Network.samplecrd.k8s.io \"both\" is invalid: [spec.cidr: Invalid value: \"10.0.0.0/8\": overlaps Network \"apart\" (10.1.0.0/24), spec.cidr: Invalid value: \"10.0.0.0/8\": overlaps Network \"wide\" (10.0.0.0/16)]"
        )
    );
    networks
        .create(
            &PostParams::default(),
            &network("next", "10.2.0.0/24", "10.2.0.1"),
        )
        .await?;
    Api::<Network>::namespaced(client.clone(), "src")
        .create(
            &PostParams::default(),
            &network("wide", "10.0.0.0/16", "10.0.0.1"),
        )
        .await?;
    // An existing Network's updates are not checked (its CIDR is immutable).
    let mut wide = networks.get("wide").await?;
    wide.labels_mut().insert("touched".into(), "yes".into());
    networks
        .replace("wide", &PostParams::default(), &wide)
        .await?;

    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn foos_convert_between_v1alpha1_and_v1() -> anyhow::Result<()> {
    let (_server, client) = start().await?;
    let alpha: Api<Foo> = Api::namespaced(client.clone(), "default");
    let v1_api: Api<v1::Foo> = Api::namespaced(client.clone(), "default");
    // Written at v1 (defaulted there by v1's own webhook), stored at v1alpha1.
    let created = v1_api
        .create(
            &PostParams::default(),
            &v1::Foo::new(
                "grouped",
                v1::FooSpec {
                    deployment: v1::FooDeployment {
                        name: "grouped-nginx".into(),
                        replicas: None,
                    },
                },
            ),
        )
        .await?;
    assert_eq!(created.spec.deployment.replicas, Some(1));
    let stored = alpha.get("grouped").await?;
    assert_eq!(
        stored.spec,
        FooSpec {
            deployment_name: "grouped-nginx".into(),
            replicas: Some(1),
        }
    );
    assert_eq!(stored.metadata.uid, created.metadata.uid);
    // Written at v1alpha1, read at v1; an update at v1 changes the stored object.
    alpha
        .create(
            &PostParams::default(),
            &Foo::new(
                "flat",
                FooSpec {
                    deployment_name: "flat-nginx".into(),
                    replicas: Some(4),
                },
            ),
        )
        .await?;
    let mut flat = v1_api.get("flat").await?;
    assert_eq!(flat.spec.deployment.name, "flat-nginx");
    assert_eq!(flat.spec.deployment.replicas, Some(4));
    flat.spec.deployment.replicas = Some(2);
    v1_api
        .replace("flat", &PostParams::default(), &flat)
        .await?;
    assert_eq!(alpha.get("flat").await?.spec.replicas, Some(2));
    // Listed at both versions: the same objects, each in the version asked for.
    let at_v1 = v1_api.list(&ListParams::default()).await?;
    let names: Vec<(String, String)> = at_v1
        .items
        .iter()
        .map(|f| (f.name_any(), f.spec.deployment.name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("flat".to_string(), "flat-nginx".to_string()),
            ("grouped".to_string(), "grouped-nginx".to_string())
        ]
    );
    let at_alpha = alpha.list(&ListParams::default()).await?;
    let names: Vec<(String, String)> = at_alpha
        .items
        .iter()
        .map(|f| (f.name_any(), f.spec.deployment_name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("flat".to_string(), "flat-nginx".to_string()),
            ("grouped".to_string(), "grouped-nginx".to_string())
        ]
    );
    // The CRD keeps v1alpha1 as its only stored version.
    let crd = Api::<CustomResourceDefinition>::all(client)
        .get("foos.samplecontroller.k8s.io")
        .await?;
    assert_eq!(
        crd.status.and_then(|s| s.stored_versions),
        Some(vec!["v1alpha1".to_string()])
    );
    Ok(())
}
