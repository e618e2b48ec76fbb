//! MutatingWebhookConfigurations (admissionregistration.k8s.io/v1): stored and served, validated
//! as upstream (`webhook_configurations.rs`); their webhooks are called by `admission::webhook`.

use super::validatingwebhookconfigurations::WEBHOOK_CONFIGURATION;
use super::webhook_configurations::WebhookConfigurationStrategy;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;

/// `mutatingwebhookconfigurations`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        false,
    )
    .build::<MutatingWebhookConfiguration>(WebhookConfigurationStrategy::new(
        crate::strategy::Typed::<MutatingWebhookConfiguration>::new()
            .printer(&WEBHOOK_CONFIGURATION),
        true,
    ))
}
