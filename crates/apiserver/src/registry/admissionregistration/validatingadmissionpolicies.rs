//! ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1): stored and served with
//! status, defaulted and validated as upstream (`policy_validation.rs`); enforced by
//! `admission::validating_admission_policy`.

use super::defaults::default_policy;
use super::policy_validation::validate_policy;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, len, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
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
    .build::<ValidatingAdmissionPolicy>(PolicyStrategy {
        typed: Typed::<ValidatingAdmissionPolicy>::new()
            .with_generation()
            .printer(&VALIDATING_ADMISSION_POLICY),
    })
}

/// The policy strategy: v1 defaults on decode, upstream's validation on create and update.
struct PolicyStrategy {
    typed: Typed<ValidatingAdmissionPolicy>,
}

impl Strategy for PolicyStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let mut decoded = self.typed.decode(value)?;
        default_policy(&mut decoded.value);
        Ok(decoded)
    }

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validate_policy(obj, true)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        // Unchanged matchConditions are not compiled again (upstream's
        // `ignoreValidatingAdmissionPolicyMatchConditions`).
        let conditions = |o: &Value| o.pointer("/spec/matchConditions").cloned();
        validate_policy(new, conditions(new) != conditions(old))
    }
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
