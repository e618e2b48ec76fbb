//! Ingresses (networking.k8s.io/v1, `ing`): HTTP routing to Services.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, len, or_none, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{Value, json};

/// `ingresses`.
pub(crate) fn resource() -> ResourceType {
    entry("ingresses", "ingress", true)
        .short(&["ing"])
        .status()
        .build::<Ingress>(crate::strategy::Typed::<Ingress>::new().printer(&INGRESS))
}

/// The rules' hosts, `*` when no rule names one.
fn hosts(o: &Value) -> String {
    let hosts: Vec<&str> = o
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .map(|r| s(r, "/host"))
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if hosts.is_empty() {
        "*".into()
    } else {
        hosts.join(",")
    }
}

/// The load balancer's IPs and host names.
fn addresses(o: &Value) -> String {
    o.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|i| match s(i, "/ip") {
                    "" => s(i, "/hostname"),
                    ip => ip,
                })
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Ingress: NAME CLASS HOSTS ADDRESS PORTS AGE.
pub(crate) const INGRESS: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Class", "string", 0),
            col("Hosts", "string", 0),
            col("Address", "string", 0),
            col("Ports", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(or_none(o, "/spec/ingressClassName")),
            json!(hosts(o)),
            json!(addresses(o)),
            json!(if len(o, "/spec/tls") > 0 {
                "80, 443"
            } else {
                "80"
            }),
            json!(age(o, now)),
        ]
    },
};
