//! ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1): stored and served with status; enforced by `admission::validating_admission_policy`.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, len, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use serde_json::{Value, json};

/// `validatingadmissionpolicies`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        false,
    )
    .status()
    .build::<ValidatingAdmissionPolicy>(
        crate::strategy::Typed::<ValidatingAdmissionPolicy>::new()
            .with_generation()
            .printer(&VALIDATING_ADMISSION_POLICY),
    )
}

/// `apiVersion/kind` of the parameters, `<unset>` without.
fn param_kind(o: &Value) -> String {
    match o.pointer("/spec/paramKind").filter(|p| p.is_object()) {
        Some(p) => format!("{}/{}", s(p, "/apiVersion"), s(p, "/kind")),
        None => "<unset>".into(),
    }
}

/// ValidatingAdmissionPolicy: NAME VALIDATIONS PARAMKIND AGE.
pub(crate) const VALIDATING_ADMISSION_POLICY: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Validations", "integer", 0),
            col("ParamKind", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/spec/validations")),
            json!(param_kind(o)),
            json!(age(o, now)),
        ]
    },
};
