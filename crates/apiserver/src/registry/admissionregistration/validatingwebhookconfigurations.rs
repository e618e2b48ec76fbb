//! ValidatingWebhookConfigurations (admissionregistration.k8s.io/v1): stored and served, validated
//! as upstream (`webhook_configurations.rs`); their webhooks are called by `admission::webhook`.

use super::webhook_configurations::WebhookConfigurationStrategy;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, len};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use serde_json::json;

/// `validatingwebhookconfigurations`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        false,
    )
    .build::<ValidatingWebhookConfiguration>(WebhookConfigurationStrategy::new(
        crate::strategy::Typed::<ValidatingWebhookConfiguration>::new()
            .printer(&WEBHOOK_CONFIGURATION),
        false,
    ))
}

/// Validating and MutatingWebhookConfiguration: NAME WEBHOOKS AGE.
pub(crate) const WEBHOOK_CONFIGURATION: Printer = Printer {
    columns: || vec![name_column(), col("Webhooks", "integer", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/webhooks")),
            json!(age(o, now)),
        ]
    },
};
