//! ValidatingAdmissionPolicyBindings (admissionregistration.k8s.io/v1): stored and served,
//! defaulted and validated as upstream (`policy_validation.rs`); enforced by
//! `admission::validating_admission_policy`.

use super::defaults::default_binding;
use super::policy_validation::validate_binding;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;
use serde_json::{Value, json};

/// `validatingadmissionpolicybindings`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        false,
    )
    .build::<ValidatingAdmissionPolicyBinding>(BindingStrategy {
        typed: Typed::<ValidatingAdmissionPolicyBinding>::new()
            .printer(&VALIDATING_ADMISSION_POLICY_BINDING),
    })
}

/// The binding strategy: v1 defaults on decode, upstream's validation on create and update.
struct BindingStrategy {
    typed: Typed<ValidatingAdmissionPolicyBinding>,
}

impl Strategy for BindingStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let mut decoded = self.typed.decode(value)?;
        default_binding(&mut decoded.value);
        Ok(decoded)
    }

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validate_binding(obj)
    }

    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        validate_binding(new)
    }
}

/// `namespace/name` (or `*/...` for a selector) of the parameters, `<unset>` without.
fn param_ref(o: &Value) -> String {
    let Some(p) = o.pointer("/spec/paramRef").filter(|p| p.is_object()) else {
        return "<unset>".into();
    };
    let name = match s(p, "/name") {
        "" => "*",
        n => n,
    };
    match s(p, "/namespace") {
        "" => name.to_string(),
        ns => format!("{ns}/{name}"),
    }
}

/// ValidatingAdmissionPolicyBinding: NAME POLICYNAME PARAMREF AGE.
pub(crate) const VALIDATING_ADMISSION_POLICY_BINDING: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("PolicyName", "string", 0),
            col("ParamRef", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/policyName")),
            json!(param_ref(o)),
            json!(age(o, now)),
        ]
    },
};
