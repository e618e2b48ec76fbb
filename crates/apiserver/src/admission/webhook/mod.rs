//! Admission webhooks (kube-apiserver's MutatingAdmissionWebhook and ValidatingAdmissionWebhook
//! plugins): the webhooks of the stored MutatingWebhookConfigurations and
//! ValidatingWebhookConfigurations, kept in a cache that follows the store's change stream (a
//! request never reads the configurations from the store), called for the requests their rules
//! and selectors pick.
//!
//! One mechanism per file, as upstream's `plugin/webhook`:
//!
//! | file | mechanism |
//! |---|---|
//! | `mod.rs` | [`Webhooks`]: the cache of configurations, compiled into [`Hook`]s |
//! | [`rules`] | operations, groups, versions, resources (`*`, `*/status`), scope, `matchPolicy` (equivalent resources) |
//! | [`versioned`] | the objects converted to the equivalent resource a webhook was matched as |
//! | [`predicates`] | namespaceSelector and objectSelector |
//! | [`match_conditions`] | `matchConditions` (CEL) |
//! | [`review`] | the AdmissionReview sent (v1 or v1beta1) and the response's verification |
//! | [`client`] | the call: `url` or `service` (through its endpoints), `caBundle`, timeouts |
//! | [`client_manager`] | one pooled client per distinct `clientConfig`, shared and reused |
//! | [`client_config`] | upstream's validation of a `clientConfig` (`url`, `service`) |
//! | [`errors`] | kube-apiserver's messages for denials and failed calls |
//! | [`mutating`] | the mutating dispatcher: in order, JSONPatch applied, reinvocation |
//! | [`validating`] | the validating dispatcher: concurrently, first refusal answers |

pub mod client;
pub mod client_config;
pub mod client_manager;
pub mod errors;
pub mod match_conditions;
pub mod mutating;
pub mod predicates;
pub mod review;
pub mod rules;
pub mod validating;
pub mod versioned;

use crate::registry::admissionregistration::defaults::{
    DEFAULT_TIMEOUT_SECONDS, default_webhook_configuration,
};
use crate::rest::Rest;
use crate::selector::LabelSelector;
use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MutatingWebhookConfiguration, RuleWithOperations,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The storage keys (resource paths) of the two configuration kinds.
const MUTATING: (&str, &str, &str) = (
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
);
const VALIDATING: (&str, &str, &str) = (
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
);

/// `matchPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchPolicy {
    /// Only requests through exactly the rule's group, version and resource.
    Exact,
    /// Also requests through another version of the same group and resource.
    Equivalent,
}

/// One webhook of a configuration, compiled for dispatch.
#[derive(Debug)]
pub struct Hook {
    /// The configuration's name.
    pub configuration: String,
    /// The webhook's name (`name`), as messages quote it.
    pub name: String,
    /// Where it is called.
    pub client_config: WebhookClientConfig,
    /// Which requests it is called for.
    pub rules: Vec<RuleWithOperations>,
    /// `matchPolicy` (default Equivalent).
    pub match_policy: MatchPolicy,
    /// `namespaceSelector` (None: everything).
    pub namespace_selector: Option<LabelSelector>,
    /// `objectSelector` (None: everything).
    pub object_selector: Option<LabelSelector>,
    /// `matchConditions`, compiled.
    pub match_conditions: Vec<match_conditions::Condition>,
    /// Whether a condition names `authorizer` (then the RBAC cache is brought up to date
    /// before the conditions are evaluated).
    pub needs_authorizer: bool,
    /// `failurePolicy: Ignore` (default Fail).
    pub ignore_failures: bool,
    /// `sideEffects` (None, NoneOnDryRun, Some, Unknown).
    pub side_effects: String,
    /// `timeoutSeconds` (default 10).
    pub timeout: Duration,
    /// `admissionReviewVersions`, in preference order.
    pub review_versions: Vec<String>,
    /// `reinvocationPolicy: IfNeeded` (mutating webhooks).
    pub reinvoke_if_needed: bool,
    /// The pooled client of `client_config` (its TLS settings built from `caBundle`).
    pub client: Arc<client_manager::WebhookClient>,
}

/// The compiled webhooks of every configuration: mutating and validating, each in upstream's
/// order (configurations by name, webhooks in their configuration's order).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// MutatingWebhookConfigurations' webhooks.
    pub mutating: Vec<Arc<Hook>>,
    /// ValidatingWebhookConfigurations' webhooks.
    pub validating: Vec<Arc<Hook>>,
}

/// The cache of webhook configurations: a [`Snapshot`] swapped whole when a configuration
/// changes (see [`run`]).
#[derive(Debug, Default)]
pub struct Webhooks {
    current: RwLock<Arc<Snapshot>>,
}

impl Webhooks {
    /// The webhooks now in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rebuilds the snapshot from the stored configurations.
    pub fn refresh(&self, rest: &Rest) {
        let snapshot = Arc::new(load(rest));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }
}

/// Reads and compiles every stored configuration.
fn load(rest: &Rest) -> Snapshot {
    let catalog = rest.catalog.snapshot();
    let mut snapshot = Snapshot::default();
    if let Some(rt) = catalog.find(MUTATING.0, MUTATING.1, MUTATING.2) {
        for stored in rest.store.current(&rt.storage_key) {
            let Some(config) = decode::<MutatingWebhookConfiguration>(&stored.json, true) else {
                continue;
            };
            let configuration = config.metadata.name.unwrap_or_default();
            for w in config.webhooks.unwrap_or_default() {
                snapshot.mutating.push(Arc::new(Hook {
                    configuration: configuration.clone(),
                    reinvoke_if_needed: w.reinvocation_policy.as_deref() == Some("IfNeeded"),
                    ..compile(
                        &rest.admission.clients,
                        w.name,
                        w.client_config,
                        w.rules,
                        w.match_policy,
                        w.namespace_selector,
                        w.object_selector,
                        w.match_conditions,
                        w.failure_policy,
                        w.side_effects,
                        w.timeout_seconds,
                        w.admission_review_versions,
                    )
                }));
            }
        }
    }
    if let Some(rt) = catalog.find(VALIDATING.0, VALIDATING.1, VALIDATING.2) {
        for stored in rest.store.current(&rt.storage_key) {
            let Some(config) = decode::<ValidatingWebhookConfiguration>(&stored.json, false) else {
                continue;
            };
            let configuration = config.metadata.name.unwrap_or_default();
            for w in config.webhooks.unwrap_or_default() {
                snapshot.validating.push(Arc::new(Hook {
                    configuration: configuration.clone(),
                    ..compile(
                        &rest.admission.clients,
                        w.name,
                        w.client_config,
                        w.rules,
                        w.match_policy,
                        w.namespace_selector,
                        w.object_selector,
                        w.match_conditions,
                        w.failure_policy,
                        w.side_effects,
                        w.timeout_seconds,
                        w.admission_review_versions,
                    )
                }));
            }
        }
    }
    snapshot
}

/// A stored configuration with the v1 defaults (as upstream's decoder defaults what it reads
/// from storage): one stored before its defaults were written gets the same webhooks.
fn decode<K: serde::de::DeserializeOwned>(json: &[u8], mutating: bool) -> Option<K> {
    let mut value = serde_json::from_slice(json).ok()?;
    default_webhook_configuration(&mut value, mutating);
    serde_json::from_value(value).ok()
}

/// One webhook's fields, defaulted (`decode`).
#[allow(clippy::too_many_arguments)]
fn compile(
    clients: &client_manager::ClientManager,
    name: String,
    client_config: WebhookClientConfig,
    rules: Option<Vec<RuleWithOperations>>,
    match_policy: Option<String>,
    namespace_selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    object_selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    match_conditions: Option<Vec<MatchCondition>>,
    failure_policy: Option<String>,
    side_effects: String,
    timeout_seconds: Option<i32>,
    review_versions: Vec<String>,
) -> Hook {
    let selector = |s: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| LabelSelector::from_object(&v))
    };
    let client = clients.client(&client_config);
    Hook {
        configuration: String::new(),
        name,
        client_config,
        rules: rules.unwrap_or_default(),
        match_policy: if match_policy.as_deref() == Some("Exact") {
            MatchPolicy::Exact
        } else {
            MatchPolicy::Equivalent
        },
        namespace_selector: selector(namespace_selector),
        object_selector: selector(object_selector),
        needs_authorizer: match_conditions
            .iter()
            .flatten()
            .any(|c| c.expression.contains("authorizer")),
        match_conditions: match_conditions::compile(match_conditions.unwrap_or_default()),
        ignore_failures: failure_policy.as_deref() == Some("Ignore"),
        side_effects,
        timeout: Duration::from_secs(u64::from(
            timeout_seconds
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
                .unsigned_abs(),
        )),
        review_versions,
        reinvoke_if_needed: false,
        client,
    }
}

/// Keeps `rest.admission.webhooks` current: loads the configurations, then reloads them after
/// every change to either kind (as upstream's informer-backed configuration managers). Only the
/// two kinds' change streams wake it.
pub async fn run(rest: Rest) {
    let catalog = rest.catalog.snapshot();
    let (Some(mutating), Some(validating)) = (
        catalog.find(MUTATING.0, MUTATING.1, MUTATING.2),
        catalog.find(VALIDATING.0, VALIDATING.1, VALIDATING.2),
    ) else {
        return;
    };
    loop {
        let from = rest.store.resource_version();
        rest.admission.webhooks.refresh(&rest);
        let (Ok(mut m), Ok(mut v)) = (
            rest.store.watch(Some(mutating.storage_key.clone()), from),
            rest.store.watch(Some(validating.storage_key.clone()), from),
        ) else {
            continue;
        };
        loop {
            let next = tokio::select! {
                r = m.next() => r,
                r = v.next() => r,
            };
            match next {
                Ok(_) => rest.admission.webhooks.refresh(&rest),
                Err(crate::storage::StoreError::TooOld { .. }) => break,
                Err(_) => return,
            }
        }
    }
}
