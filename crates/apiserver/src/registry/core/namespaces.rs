//! Namespaces: DNS-label names, phase `Active` on create, and the system namespaces that cannot go.

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::typed_basics;
use crate::strategy::{Strategy, Typed};
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{Value, json};

/// `namespaces` (core/v1, `ns`).
pub(crate) fn resource() -> ResourceType {
    entry("namespaces", "namespace", false)
        .short(&["ns"])
        .status()
        .build::<Namespace>(NamespaceStrategy::new())
}

/// The `spec.finalizers` entry that keeps a namespace until its contents are deleted.
pub const FINALIZER: &str = "kubernetes";

/// Namespaces that exist from the start and refuse deletion.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The Namespace strategy.
pub struct NamespaceStrategy {
    typed: Typed<Namespace>,
}

impl NamespaceStrategy {
    /// The strategy.
    pub fn new() -> Self {
        NamespaceStrategy {
            typed: Typed::new()
                .printer(&NAMESPACE)
                .names(NameRule::Label)
                .fields(&["status.phase"]),
        }
    }
}

impl Strategy for NamespaceStrategy {
    typed_basics!(typed, decode);

    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Active"});
        // The namespace controller removes this once the namespace is empty (see controllers).
        obj["spec"] = json!({"finalizers": [FINALIZER]});
        // Every namespace carries the label with its own name, as upstream sets it.
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !obj["metadata"]["labels"].is_object() {
            obj["metadata"]["labels"] = json!({});
        }
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = Value::String(name);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        new["status"] = old["status"].clone();
        // spec.finalizers only change through the finalize subresource.
        new["spec"] = old.get("spec").cloned().unwrap_or(json!({}));
        let name = old["metadata"]["name"].clone();
        if !new["metadata"]["labels"].is_object() {
            new["metadata"]["labels"] = json!({});
        }
        new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    }

    /// As upstream's Namespace storage (`ReturnDeletedObject: true`).
    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn blocks_deletion(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }

    fn replace_subresources(&self) -> &[&'static str] {
        &["finalize"]
    }

    /// `namespaces/{name}/finalize`: only `spec.finalizers` change (how the namespace controller,
    /// or a user unsticking a namespace, says its content is gone).
    fn update_through(&self, _subresource: &str, old: &Value, new: Value) -> Value {
        let finalizers = new
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        let mut merged = old.clone();
        if !merged.get("spec").is_some_and(Value::is_object) {
            merged["spec"] = json!({});
        }
        merged["spec"]["finalizers"] = finalizers;
        merged
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Terminating"});
    }
}

impl Default for NamespaceStrategy {
    fn default() -> Self {
        Self::new()
    }
}

/// Namespace: NAME STATUS AGE.
pub(crate) const NAMESPACE: Printer = Printer {
    columns: || vec![name_column(), col("Status", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/status/phase")),
            json!(age(o, now)),
        ]
    },
};

/// The list markers of the Namespace types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[(
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        &["type"],
    )],
    ..Markers::NONE
};
