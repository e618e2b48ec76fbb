//! ServiceAccounts: deletion answers with the object; `serviceaccounts/token` issues tokens
//! (`token.rs`).

mod token;

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::rest::subresource_create::CreateSubresource;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, len};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::core::v1::ServiceAccount;
use serde_json::Value;
use serde_json::json;

/// `serviceaccounts` (core/v1, `sa`).
pub(crate) fn resource() -> ResourceType {
    entry("serviceaccounts", "serviceaccount", true)
        .short(&["sa"])
        .build::<ServiceAccount>(ServiceAccountStrategy {
            typed: Typed::<ServiceAccount>::new()
                .printer(&SERVICE_ACCOUNT)
                .returns_deleted_object(),
        })
}

/// The ServiceAccount strategy: the type's, and the `token` subresource.
struct ServiceAccountStrategy {
    typed: Typed<ServiceAccount>,
}

impl Strategy for ServiceAccountStrategy {
    typed_basics!(typed, decode);

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        self.typed.validate(obj)
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn create_subresources(&self) -> &[CreateSubresource] {
        &[token::TOKEN]
    }
}

/// ServiceAccount: NAME SECRETS AGE.
pub(crate) const SERVICE_ACCOUNT: Printer = Printer {
    columns: || vec![name_column(), col("Secrets", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/secrets").to_string()),
            json!(age(o, now)),
        ]
    },
};

/// The list markers of the ServiceAccount type.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[("io.k8s.api.core.v1.ServiceAccount", "secrets", &["name"])],
    ..Markers::NONE
};
