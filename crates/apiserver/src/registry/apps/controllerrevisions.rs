//! ControllerRevisions (apps/v1): immutable snapshots of a workload's template, kept by
//! StatefulSets and DaemonSets for rollback.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, n, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::ControllerRevision;
use serde_json::{Value, json};

/// `controllerrevisions` (apps/v1).
pub(crate) fn resource() -> ResourceType {
    entry("controllerrevisions", "controllerrevision", true).build::<ControllerRevision>(
        crate::strategy::Typed::<ControllerRevision>::new().printer(&CONTROLLER_REVISION),
    )
}

/// The controlling owner as `kind.group/name` (`statefulset.apps/web`), `<none>` without one.
fn controller(o: &Value) -> String {
    let owner = o
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| refs.iter().find(|r| r["controller"] == json!(true)));
    let Some(owner) = owner else {
        return "<none>".into();
    };
    let kind = s(owner, "/kind").to_lowercase();
    let group = s(owner, "/apiVersion")
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or("");
    let qualified = if group.is_empty() {
        kind
    } else {
        format!("{kind}.{group}")
    };
    format!("{qualified}/{}", s(owner, "/name"))
}

/// ControllerRevision: NAME CONTROLLER REVISION AGE.
pub(crate) const CONTROLLER_REVISION: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Controller", "string", 0),
            col("Revision", "integer", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(controller(o)),
            json!(n(o, "/revision")),
            json!(age(o, now)),
        ]
    },
};
