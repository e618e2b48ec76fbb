//! flowcontrol.apiserver.k8s.io/v1: FlowSchemas and PriorityLevelConfigurations, defaulted and
//! validated as upstream does, with kube-apiserver's bootstrap configuration (`bootstrap.rs`)
//! created at start and kept by the API Priority and Fairness controller
//! (`controllers/flowcontrol.rs`), which also maintains each FlowSchema's `Dangling` condition.
//! This server limits in-flight requests without priority levels: the objects configure nothing.

pub(crate) mod bootstrap;
pub(crate) mod flowschemas;
pub(crate) mod prioritylevelconfigurations;

use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use serde_json::Value;

/// The strategy of both kinds, as upstream's: generation kept, v1 defaults on create and update,
/// the same validation on create and update (upstream's update validation ignores the old
/// object), and the status conditions checked on a status update.
pub(crate) struct FlowControlStrategy<K> {
    /// The typed basics (decoding, table, field schema).
    pub(crate) typed: Typed<K>,
    /// The kind's v1 defaulting.
    pub(crate) defaults: fn(&mut Value),
    /// The kind's validation of a whole object.
    pub(crate) causes: fn(&Value) -> Vec<FieldCause>,
    /// The kind's validation of a status update.
    pub(crate) status_causes: fn(&Value) -> Vec<FieldCause>,
}

impl<K> Strategy for FlowControlStrategy<K>
where
    Typed<K>: Strategy,
    K: Send + Sync + 'static,
{
    typed_basics!(typed, decode);

    fn tracks_generation(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        (self.defaults)(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        (self.defaults)(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        (self.causes)(obj)
    }

    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        (self.causes)(new)
    }

    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        (self.status_causes)(new)
    }
}

/// An object's name ("" when unset) and spec (null when absent).
pub(crate) fn name_and_spec(obj: &Value) -> (&str, &Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    (name, obj.get("spec").unwrap_or(&Value::Null))
}

/// The messages of `causes` (for the validation tests).
#[cfg(test)]
pub(crate) fn messages(causes: Vec<FieldCause>) -> Vec<String> {
    causes.into_iter().map(|c| c.message).collect()
}

/// A string list as Go's `%#v` prints it in field errors: `[]string{"a", "b"}`.
pub(crate) fn go_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| crate::crd::schema::field::go_quote(s))
        .collect();
    format!("[]string{{{}}}", quoted.join(", "))
}
