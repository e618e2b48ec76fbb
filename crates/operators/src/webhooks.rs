//! The operators' admission webhooks, each declared once (kubebuilder's `+kubebuilder:webhook`
//! marker): which requests the API server sends it and where, and how its handler is added to a
//! webhook server. [`manifests`](crate::manifests) turns the declarations into the
//! MutatingWebhookConfiguration and ValidatingWebhookConfiguration, `kubeforge run` and
//! `kubeforge up` serve the handlers at the declared paths, so the two cannot drift apart.

use crate::Operator;
use kube::{Client, Resource};
use kubeforge_runtime::webhook::{Certificates, Denied, WebhookServer};
use serde_json::{Value, json};
use std::fmt::Debug;
use std::sync::Arc;

/// Port the webhook server listens on in the operator's Pod (controller-runtime's default).
pub const WEBHOOK_PORT: u16 = 9443;

/// What a webhook may do with the requests it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Change the object (a defaulter): a MutatingWebhookConfiguration's webhook.
    Mutating,
    /// Admit or refuse it (a validator): a ValidatingWebhookConfiguration's webhook.
    Validating,
    /// Not admission: convert the resource between its versions, called through its CRD's
    /// `spec.conversion` (see [`crd_conversion`]).
    Conversion,
}

/// Adds a webhook's handler, at the given path, to a server; the client is the operator's own
/// (for validators that look at other objects).
pub type Install = fn(WebhookServer, &str, Client) -> WebhookServer;

/// One webhook: the creates and updates of one resource the API server sends it, and where.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// Mutating, validating or conversion.
    pub admission: Admission,
    /// Its name in its configuration (`mfoo-v1alpha1.samplecontroller.k8s.io`), which the API
    /// server's denials quote; for a conversion webhook, its CRD's name.
    pub name: String,
    /// Where the webhook server serves it (`/mutate-samplecontroller-k8s-io-v1alpha1-foo`).
    pub path: String,
    /// The API group of the resource.
    pub group: String,
    /// The version of the resource.
    pub version: String,
    /// The resource (plural) name.
    pub resource: String,
    /// Adds its handler to a server.
    pub install: Install,
}

impl Webhook {
    /// The webhook of kind `K` for creates and updates, named and at the path kubebuilder gives
    /// it: `/mutate-<group with dashes>-<version>-<kind>` and `m<kind>-<version>.<group>` (or
    /// `/validate-...` and `v...`).
    pub fn of<K: Resource<DynamicType = ()>>(admission: Admission, install: Install) -> Self {
        let (group, version) = (K::group(&()), K::version(&()));
        let kind = K::kind(&()).to_ascii_lowercase();
        let (verb, initial) = match admission {
            Admission::Mutating => ("mutate", 'm'),
            Admission::Validating => ("validate", 'v'),
            Admission::Conversion => ("convert", 'c'),
        };
        Webhook {
            admission,
            name: format!("{initial}{kind}-{version}.{group}"),
            path: format!("/{verb}-{}-{version}-{kind}", group.replace('.', "-")),
            group: group.into_owned(),
            version: version.into_owned(),
            resource: K::plural(&()).into_owned(),
            install,
        }
    }

    /// The conversion webhook of the CRD of `H` (its hub, the storage version), served at
    /// `/convert-<group with dashes>-<kind>`: one path per CRD, as one process may serve the
    /// conversions of several operators (kubebuilder's single `/convert` serves one manager).
    pub fn conversion<H: Resource<DynamicType = ()>>(install: Install) -> Self {
        let mut webhook = Self::of::<H>(Admission::Conversion, install);
        webhook.path = format!(
            "/convert-{}-{}",
            webhook.group.replace('.', "-"),
            H::kind(&()).to_ascii_lowercase()
        );
        webhook.name = format!("{}.{}", webhook.resource, webhook.group);
        webhook
    }

    /// The webhook as an entry of its configuration, called as `client_config` says (a
    /// `service` without its path, or a base `url`): failing closed, without side effects,
    /// speaking `admission.k8s.io/v1`, for creates and updates at its own version only
    /// (`matchPolicy: Exact`: a resource served at several versions has a webhook per version,
    /// each handling the object in the form its handler decodes).
    pub fn configuration_entry(&self, client_config: &Value) -> Value {
        json!({
            "name": self.name,
            "clientConfig": with_path(client_config, &self.path),
            "rules": [{
                "apiGroups": [self.group],
                "apiVersions": [self.version],
                "operations": ["CREATE", "UPDATE"],
                "resources": [self.resource],
            }],
            "failurePolicy": "Fail",
            "matchPolicy": "Exact",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        })
    }
}

/// The `spec.conversion` of the CRD `conversion` (an [`Admission::Conversion`] webhook)
/// converts, calling it as `client_config` says (a `service` without its path, or a base `url`),
/// speaking `apiextensions.k8s.io/v1` ConversionReviews.
pub fn crd_conversion(conversion: &Webhook, client_config: &Value) -> Value {
    json!({
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": with_path(client_config, &conversion.path),
            "conversionReviewVersions": ["v1"],
        },
    })
}

/// The conversion webhooks of `operator`, each with the name of the CRD it converts
/// (`foos.samplecontroller.k8s.io`).
pub fn conversions(operator: &Operator) -> Vec<Webhook> {
    (operator.webhooks)()
        .into_iter()
        .filter(|w| w.admission == Admission::Conversion)
        .collect()
}

/// `client_config` calling `path`: appended to a `url`, or a `service`'s path.
fn with_path(client_config: &Value, path: &str) -> Value {
    let mut client_config = client_config.clone();
    if let Some(service) = client_config.get_mut("service") {
        service["path"] = json!(path);
    }
    if let Some(url) = client_config.get_mut("url") {
        *url = json!(format!("{}{path}", url.as_str().unwrap_or_default()));
    }
    client_config
}

/// The MutatingWebhookConfiguration and ValidatingWebhookConfiguration of `operator` (each only
/// when it has webhooks of that kind), both named `name`, calling its webhooks as
/// `client_config` says; `metadata` is merged into each (labels, annotations).
pub fn configurations(
    operator: &Operator,
    name: &str,
    client_config: &Value,
    metadata: &Value,
) -> Vec<Value> {
    let webhooks = (operator.webhooks)();
    let mut out = Vec::new();
    for (kind, admission) in [
        ("MutatingWebhookConfiguration", Admission::Mutating),
        ("ValidatingWebhookConfiguration", Admission::Validating),
    ] {
        let entries: Vec<Value> = webhooks
            .iter()
            .filter(|w| w.admission == admission)
            .map(|w| w.configuration_entry(client_config))
            .collect();
        if entries.is_empty() {
            continue;
        }
        let mut meta = json!({"name": name});
        for (key, value) in metadata.as_object().into_iter().flatten() {
            meta[key] = value.clone();
        }
        out.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": meta,
            "webhooks": entries,
        }));
    }
    out
}

/// A webhook server presenting `certificates` and serving the webhooks of each operator with
/// that operator's client; `None` when none of them has webhooks.
pub fn server<'a>(
    operators: impl IntoIterator<Item = (&'a Operator, Client)>,
    certificates: Arc<Certificates>,
) -> Option<WebhookServer> {
    let mut server = WebhookServer::new(certificates);
    let mut any = false;
    for (operator, client) in operators {
        for webhook in (operator.webhooks)() {
            server = (webhook.install)(server, &webhook.path, client.clone());
            any = true;
        }
    }
    any.then_some(server)
}

/// One field's refusal as the API server words an invalid field
/// (`spec.cidr: Invalid value: "10.0.0.0/24": <detail>`).
pub fn field_error(field: &str, value: &impl Debug, detail: &str) -> String {
    format!("{field}: Invalid value: {value:?}: {detail}")
}

/// A refusal of `object` for `errors` (from [`field_error`]) as apimachinery's `NewInvalid`
/// words it, with its code (422):
/// `Kind.group "name" is invalid: <error>` (several errors in brackets, comma-separated).
pub fn invalid<K: Resource<DynamicType = ()>>(object: &K, errors: &[String]) -> Denied {
    let name = object.meta().name.as_deref().unwrap_or_default();
    let errors = match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let group = K::group(&());
    let qualified = if group.is_empty() {
        K::kind(&()).into_owned()
    } else {
        format!("{}.{group}", K::kind(&()))
    };
    Denied {
        message: format!("{qualified} {name:?} is invalid: {errors}"),
        code: 422,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_named_and_routed_as_kubebuilder_does() {
        let declared: Vec<(String, String, Admission)> = crate::OPERATORS
            .iter()
            .flat_map(|o| (o.webhooks)())
            .map(|w| (w.name, w.path, w.admission))
            .collect();
        let want = [
            (
                "mfoo-v1alpha1.samplecontroller.k8s.io",
                "/mutate-samplecontroller-k8s-io-v1alpha1-foo",
                Admission::Mutating,
            ),
            (
                "mfoo-v1.samplecontroller.k8s.io",
                "/mutate-samplecontroller-k8s-io-v1-foo",
                Admission::Mutating,
            ),
            (
                "foos.samplecontroller.k8s.io",
                "/convert-samplecontroller-k8s-io-foo",
                Admission::Conversion,
            ),
            (
                "vconfigurationdistributionrule-v1alpha1.k8s.tideland.dev",
                "/validate-k8s-tideland-dev-v1alpha1-configurationdistributionrule",
                Admission::Validating,
            ),
            (
                "vnetwork-v1.samplecrd.k8s.io",
                "/validate-samplecrd-k8s-io-v1-network",
                Admission::Validating,
            ),
        ];
        assert_eq!(
            declared,
            want.map(|(n, p, a)| (n.to_string(), p.to_string(), a))
        );
    }

    #[test]
    fn a_url_client_config_gets_the_path_appended() {
        let foo = crate::find("foo").unwrap();
        let configurations = configurations(
            foo,
            "kubeforge-foo",
            &json!({"url": "https://127.0.0.1:9443", "caBundle": "Q0E="}),
            &json!({}),
        );
        assert_eq!(configurations.len(), 1);
        assert_eq!(configurations[0]["kind"], "MutatingWebhookConfiguration");
        let entry = &configurations[0]["webhooks"][0];
        assert_eq!(
            entry["clientConfig"],
            json!({
                "url": "https://127.0.0.1:9443/mutate-samplecontroller-k8s-io-v1alpha1-foo",
                "caBundle": "Q0E=",
            })
        );
        assert_eq!(entry["sideEffects"], "None");
        assert_eq!(entry["failurePolicy"], "Fail");
        assert_eq!(entry["rules"][0]["operations"], json!(["CREATE", "UPDATE"]));
    }
}
