//! What admission and conversion extensions cost a request: creates with no extension, with one
//! validating webhook (kubeforge-runtime's `WebhookServer` over HTTPS on 127.0.0.1) and with one
//! ValidatingAdmissionPolicy (one CEL validation), in the same run; and a LIST of 10,000 custom
//! objects read at their storage version against the same LIST read at a version a conversion
//! webhook (`HubConverter`) serves.

use super::*;
use kube::ResourceExt;
use kubeforge_runtime::webhook::{
    BoxFuture, Certificates, Convertible, Denied, HubConverter, LocalCertificates, Validator,
    Warnings, WebhookServer,
};
use serde::{Deserialize, Serialize};

/// The label value both extensions refuse, so that a probe create tells when they are in force.
const REFUSED: &str = "refused";

/// Allows every ConfigMap except those labelled `app: refused`.
struct AllowConfigMaps;

fn check(cm: &ConfigMap) -> Result<Warnings, Denied> {
    let labels = cm.metadata.labels.as_ref();
    if labels.and_then(|l| l.get("app")).map(String::as_str) == Some(REFUSED) {
        return Err(Denied::new("refused by the bench webhook"));
    }
    Ok(Vec::new())
}

impl Validator<ConfigMap> for AllowConfigMaps {
    fn validate_create<'a>(&'a self, cm: &'a ConfigMap) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move { check(cm) })
    }

    fn validate_update<'a>(
        &'a self,
        _old: &'a ConfigMap,
        cm: &'a ConfigMap,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move { check(cm) })
    }
}

/// A runtime `WebhookServer` on a free port of 127.0.0.1, serving `server` (stopped on drop).
struct LocalWebhook {
    addr: std::net::SocketAddr,
    ca_bundle: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalWebhook {
    async fn start(build: impl FnOnce(WebhookServer) -> WebhookServer) -> Res<Self> {
        use base64::Engine;
        let local = LocalCertificates::generate(&["127.0.0.1"])?;
        let server = build(WebhookServer::new(Certificates::from_pem(
            &local.cert_pem,
            &local.key_pem,
        )?));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(server.serve(listener, std::future::pending()));
        Ok(LocalWebhook {
            addr,
            ca_bundle: base64::engine::general_purpose::STANDARD.encode(&local.ca_pem),
            task,
        })
    }

    fn client_config(&self, path: &str) -> serde_json::Value {
        json!({"url": format!("https://{}{path}", self.addr), "caBundle": self.ca_bundle})
    }
}

/// Creates `body` (a cluster-scoped object of `group/version`, `plural`) in-process.
async fn create_cluster_object(
    server: &ApiServer,
    group: &str,
    version: &str,
    plural: &str,
    body: serde_json::Value,
) -> Res<()> {
    let rest = server.rest();
    let rt = rest
        .catalog
        .snapshot()
        .find(group, version, plural)
        .ok_or_else(|| format!("{plural} are not served"))?;
    rest.create(&rt, None, body, &WriteOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Waits (up to 10 s) until creating a ConfigMap labelled `app: refused` is refused.
async fn wait_until_in_force(server: &ApiServer) -> Res<()> {
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut probe = config_map(&format!("probe-{attempt}"));
        probe.metadata.labels = Some([("app".to_string(), REFUSED.to_string())].into());
        match api.create(&PostParams::default(), &probe).await {
            Err(kube::Error::Api(s)) if s.message.contains("refused by the bench") => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
            Ok(_) if Instant::now() > deadline => {
                return Err("the admission extension did not take effect".into());
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Which admission extension a server of the `admission` scenario has.
#[derive(Clone, Copy, PartialEq)]
enum Extension {
    None,
    /// Called over HTTP/2 (the webhook server offers it; the API server's client takes it).
    Webhook,
    /// The same webhook serving HTTP/1.1 only.
    WebhookHttp1,
    Policy,
}

impl Extension {
    fn label(self) -> &'static str {
        match self {
            Extension::None => "no admission extension",
            Extension::Webhook => "one validating webhook (HTTP/2)",
            Extension::WebhookHttp1 => "one validating webhook (HTTP/1.1)",
            Extension::Policy => "one ValidatingAdmissionPolicy",
        }
    }
}

/// A server with `extension` in force (and the webhook serving it, if any).
async fn admission_server(extension: Extension) -> Res<(ApiServer, Option<LocalWebhook>)> {
    let server = start_server(None).await?;
    let rules = json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]);
    let webhook = match extension {
        Extension::None => None,
        Extension::Webhook | Extension::WebhookHttp1 => {
            let http2 = extension == Extension::Webhook;
            let webhook = LocalWebhook::start(|s| {
                s.http2(http2)
                    .validator::<ConfigMap, _>("/validate-configmap", AllowConfigMaps)
            })
            .await?;
            create_cluster_object(
                &server,
                "admissionregistration.k8s.io",
                "v1",
                "validatingwebhookconfigurations",
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": "bench"},
                    "webhooks": [{"name": "configmaps.bench.example.com",
                        "clientConfig": webhook.client_config("/validate-configmap"),
                        "rules": rules, "sideEffects": "None", "admissionReviewVersions": ["v1"],
                        "failurePolicy": "Fail"}]}),
            )
            .await?;
            Some(webhook)
        }
        Extension::Policy => {
            create_cluster_object(
                &server,
                "admissionregistration.k8s.io",
                "v1",
                "validatingadmissionpolicies",
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                    "metadata": {"name": "bench"},
                    "spec": {"failurePolicy": "Fail",
                        "matchConstraints": {"resourceRules": rules},
                        "validations": [{"expression":
                            "!has(object.metadata.labels) || !('app' in object.metadata.labels) || object.metadata.labels['app'] != 'refused'",
                            "message": "refused by the bench policy"}]}}),
            )
            .await?;
            create_cluster_object(
                &server,
                "admissionregistration.k8s.io",
                "v1",
                "validatingadmissionpolicybindings",
                json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {"name": "bench"},
                    "spec": {"policyName": "bench", "validationActions": ["Deny"]}}),
            )
            .await?;
            None
        }
    };
    if extension != Extension::None {
        wait_until_in_force(&server).await?;
    }
    Ok((server, webhook))
}

/// 2c. Closed-loop ConfigMap creates at 64 clients with no admission extension, one validating
///     webhook (called over HTTP/2, then the same over HTTP/1.1) and one
///     ValidatingAdmissionPolicy, one after the other in each run (each rate
///     also as a share of the same run's rate without extension); and one client's create
///     latency with each, the webhook's added p50 and p99 being the difference to the same
///     run's latency without it.
pub(super) async fn scenario_admission() -> Res<Report> {
    let mut report = Report::new("admission");
    let runs = scale(3, 1);
    let window = create_window().unwrap_or(Duration::from_millis(scale(3000, 1000) as u64));
    let warmup = Duration::from_millis(500);
    let extensions = [
        Extension::None,
        Extension::Webhook,
        Extension::WebhookHttp1,
        Extension::Policy,
    ];
    let n = extensions.len();
    let (mut tput, mut share, mut p50, mut p99, mut added50, mut added99) = (
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
    );
    for _ in 0..runs {
        for (e, extension) in extensions.iter().enumerate() {
            // A fresh server for each measurement (`create_run` names its objects per client).
            for clients in [64, 1] {
                let (server, webhook) = admission_server(*extension).await?;
                let run = create_run(server.url(), clients, warmup, window).await?;
                if clients == 64 {
                    tput[e].push(run.throughput);
                } else {
                    p50[e].push(run.p50);
                    p99[e].push(run.p99);
                }
                server.shutdown().await;
                drop(webhook);
            }
        }
        // This run's figure of extension `e`.
        let last = |v: &[Vec<f64>], e: usize| v[e].last().copied().unwrap_or(f64::NAN);
        for e in 1..n {
            share[e].push(100.0 * last(&tput, e) / last(&tput, 0));
            added50[e].push(last(&p50, e) - last(&p50, 0));
            added99[e].push(last(&p99, e) - last(&p99, 0));
        }
    }
    for (e, extension) in extensions.iter().enumerate() {
        let how = extension.label();
        report.add(
            format!("creates/s, 64 clients, {how}"),
            Unit::PerSec,
            &tput[e],
            Target::None,
        );
        if e > 0 {
            let target = if *extension != Extension::Policy {
                40.0
            } else {
                80.0
            };
            report.add(
                format!("same, % of no extension in the same run, {how}"),
                Unit::Percent,
                &share[e],
                Target::AtLeast(target),
            );
        }
        report.add(
            format!("create p50, 1 client, {how}"),
            Unit::Ms,
            &p50[e],
            Target::None,
        );
        report.add(
            format!("create p99, 1 client, {how}"),
            Unit::Ms,
            &p99[e],
            Target::None,
        );
        if e > 0 {
            report.add(
                format!("added p50 latency, 1 client, {how}"),
                Unit::Ms,
                &added50[e],
                Target::None,
            );
            report.add(
                format!("added p99 latency, 1 client, {how}"),
                Unit::Ms,
                &added99[e],
                Target::None,
            );
        }
    }
    Ok(report)
}

/// The conversion bench's hub: v1, the storage version.
mod v1 {
    use super::*;
    /// v1 Gadget spec.
    #[derive(kube::CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "bench.example.com",
        version = "v1",
        kind = "Gadget",
        namespaced,
        schema = "disabled"
    )]
    pub struct GadgetSpec {
        /// A size.
        pub size: i64,
        /// A colour name.
        pub color: String,
    }
}

/// v2: `size` inside `dimensions`, `color` spelled `colour`.
mod v2 {
    use super::*;
    /// v2 Gadget spec.
    #[derive(kube::CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "bench.example.com",
        version = "v2",
        kind = "Gadget",
        namespaced,
        schema = "disabled"
    )]
    pub struct GadgetSpec {
        /// The dimensions.
        pub dimensions: Dimensions,
        /// A colour name.
        pub colour: String,
    }
    /// v2's dimensions.
    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Dimensions {
        /// A size.
        pub size: i64,
    }
}

impl Convertible<v1::Gadget> for v2::Gadget {
    fn convert_to(&self) -> Result<v1::Gadget, String> {
        let mut hub = v1::Gadget::new(
            &self.name_any(),
            v1::GadgetSpec {
                size: self.spec.dimensions.size,
                color: self.spec.colour.clone(),
            },
        );
        hub.metadata = self.metadata.clone();
        Ok(hub)
    }

    fn convert_from(hub: &v1::Gadget) -> Result<Self, String> {
        let mut spoke = v2::Gadget::new(
            &hub.name_any(),
            v2::GadgetSpec {
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

/// 4a. A LIST of 10,000 custom objects (raw GET, fresh connection, JSON) read at the storage
///     version (v1) and at v2, which a conversion webhook (`HubConverter`, HTTPS on 127.0.0.1)
///     converts, alternating in each run (`KUBEFORGE_BENCH_CONVERSION_OBJECTS` sets the count).
pub(super) async fn scenario_conversion() -> Res<Report> {
    let mut report = Report::new("conversion");
    let runs = scale(5, 2);
    // `KUBEFORGE_BENCH_CONVERSION_OBJECTS` overrides the list's size.
    let objects = std::env::var("KUBEFORGE_BENCH_CONVERSION_OBJECTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| scale(10_000, 1_000));
    let webhook = LocalWebhook::start(|s| {
        s.converter(
            "/convert",
            HubConverter::<v1::Gadget>::new().spoke::<v2::Gadget>(),
        )
    })
    .await?;
    let server = start_server(None).await?;
    let schema = |properties: serde_json::Value| json!({"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}});
    create_cluster_object(
        &server,
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.bench.example.com"},
            "spec": {"group": "bench.example.com", "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": schema(json!({"size": {"type": "integer"}, "color": {"type": "string"}}))},
                    {"name": "v2", "served": true, "storage": false,
                     "schema": schema(json!({"dimensions": {"type": "object", "properties": {"size": {"type": "integer"}}},
                        "colour": {"type": "string"}}))}],
                "conversion": {"strategy": "Webhook", "webhook": {
                    "clientConfig": webhook.client_config("/convert"),
                    "conversionReviewVersions": ["v1"]}}}}),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let rt = loop {
        if let Some(rt) =
            server
                .rest()
                .catalog
                .snapshot()
                .find("bench.example.com", "v1", "gadgets")
        {
            break rt;
        }
        if Instant::now() > deadline {
            return Err("the CRD was not served".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rest = server.rest().clone();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (rest, rt, next) = (rest.clone(), rt.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let opts = WriteOptions {
                field_manager: "bench".into(),
                ..WriteOptions::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= objects {
                    return Ok::<(), String>(());
                }
                let body = json!({"apiVersion": "bench.example.com/v1", "kind": "Gadget",
                    "metadata": {"name": format!("gadget-{i:05}"), "namespace": "default"},
                    "spec": {"size": i, "color": "teal"}});
                rest.create(&rt, Some("default"), body, &opts)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let path = |v: &str| format!("/apis/bench.example.com/{v}/namespaces/default/gadgets");
    // Warm both paths (and check that v2 answers).
    raw_get(server.addr(), &path("v1")).await?;
    raw_get(server.addr(), &path("v2")).await?;
    let (mut storage, mut converted, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let mut sizes = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        sizes.0 = raw_get(server.addr(), &path("v1")).await?;
        let s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        sizes.1 = raw_get(server.addr(), &path("v2")).await?;
        let c = t.elapsed().as_secs_f64();
        storage.push(s);
        converted.push(c);
        ratio.push(c / s);
    }
    report.add(
        format!(
            "LIST of {} custom objects at the storage version v1 ({} B)",
            thousands(objects as u64),
            thousands(sizes.0 as u64)
        ),
        Unit::Ms,
        &storage,
        Target::None,
    );
    report.add(
        format!(
            "same at v2, converted by the webhook ({} B)",
            thousands(sizes.1 as u64)
        ),
        Unit::Ms,
        &converted,
        Target::None,
    );
    let overhead: Vec<f64> = converted.iter().zip(&storage).map(|(c, s)| c - s).collect();
    report.add(
        "conversion overhead (v2 − v1, same run)",
        Unit::Ms,
        &overhead,
        Target::None,
    );
    let pct: Vec<f64> = ratio.iter().map(|r| 100.0 * r).collect();
    report.add(
        "v2 LIST time as % of the v1 LIST (same run)",
        Unit::Percent,
        &pct,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}
