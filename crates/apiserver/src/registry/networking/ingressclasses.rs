//! IngressClasses (networking.k8s.io/v1): which controller implements an Ingress class.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::networking::v1::IngressClass;
use serde_json::{Value, json};

/// `ingressclasses`.
pub(crate) fn resource() -> ResourceType {
    entry("ingressclasses", "ingressclass", false).build::<IngressClass>(
        crate::strategy::Typed::<IngressClass>::new().printer(&INGRESS_CLASS),
    )
}

/// `Kind.group/name` of the parameters reference, `<none>` without one.
fn parameters(o: &Value) -> String {
    let Some(p) = o.pointer("/spec/parameters").filter(|p| p.is_object()) else {
        return "<none>".into();
    };
    match s(p, "/apiGroup") {
        "" => format!("{}/{}", s(p, "/kind"), s(p, "/name")),
        group => format!("{}.{group}/{}", s(p, "/kind"), s(p, "/name")),
    }
}

/// IngressClass: NAME CONTROLLER PARAMETERS AGE.
pub(crate) const INGRESS_CLASS: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Controller", "string", 0),
            col("Parameters", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/controller")),
            json!(parameters(o)),
            json!(age(o, now)),
        ]
    },
};
