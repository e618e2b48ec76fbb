//! RoleBindings, and the table ClusterRoleBindings share.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::rbac::v1::RoleBinding;
use serde_json::Value;
use serde_json::json;

/// `rolebindings` (rbac.authorization.k8s.io/v1).
pub(crate) fn resource() -> ResourceType {
    entry("rolebindings", "rolebinding", true)
        .guarded(super::escalation::guard_binding)
        .build::<RoleBinding>(
            Typed::<RoleBinding>::new()
                .names(NameRule::PathSegment)
                .printer(&BINDING),
        )
}

fn subjects(o: &Value, kind: &str) -> String {
    let list: Vec<String> = o
        .pointer("/subjects")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| s(x, "/kind") == kind)
                .map(|x| {
                    if kind == "ServiceAccount" {
                        format!("{}/{}", s(x, "/namespace"), s(x, "/name"))
                    } else {
                        s(x, "/name").to_string()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    list.join(", ")
}

/// RoleBinding and ClusterRoleBinding: NAME ROLE AGE (USERS GROUPS SERVICEACCOUNTS wide).
pub(crate) const BINDING: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Role", "string", 0),
            age_column(),
            col("Users", "string", 1),
            col("Groups", "string", 1),
            col("ServiceAccounts", "string", 1),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(format!(
                "{}/{}",
                s(o, "/roleRef/kind"),
                s(o, "/roleRef/name")
            )),
            json!(age(o, now)),
            json!(subjects(o, "User")),
            json!(subjects(o, "Group")),
            json!(subjects(o, "ServiceAccount")),
        ]
    },
};
