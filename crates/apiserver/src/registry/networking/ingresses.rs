//! Ingresses (networking.k8s.io/v1, `ing`): HTTP routing to Services, validated as upstream's
//! `ValidateIngressSpec`: rules or a default backend, hosts that are DNS names (wildcards
//! allowed, IP addresses not), paths with a `pathType` and its path rules, backends naming one
//! Service with one port (or one resource), TLS hosts and secret names, the class name.

use super::items;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, len, or_none, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::{
    dns1123_subdomain_problems, path_segment_problems, port_name_problems,
    wildcard_dns1123_subdomain_problems,
};
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{Value, json};

/// `ingresses`.
pub(crate) fn resource() -> ResourceType {
    entry("ingresses", "ingress", true)
        .short(&["ing"])
        .status()
        .build::<Ingress>(
            Typed::<Ingress>::new()
                .with_generation()
                .printer(&INGRESS)
                .validated_by(validate),
        )
}

/// The resource's rules, on its spec.
fn validate(obj: &Value) -> Vec<FieldCause> {
    spec_causes(obj.get("spec").unwrap_or(&Value::Null))
}

fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let rules = items(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|b| !b.is_null());
    if rules.is_empty() && default_backend.is_none() {
        causes.push(FieldCause::invalid(
            "spec",
            &spec.get("rules").cloned().unwrap_or(Value::Null),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = default_backend {
        backend_causes(backend, "spec.defaultBackend", &mut causes);
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let host = s(rule, "/host");
        if !host.is_empty() {
            let host_path = format!("{at}.host");
            if host.parse::<std::net::IpAddr>().is_ok() {
                causes.push(FieldCause::invalid(
                    &host_path,
                    &json!(host),
                    "must be a DNS name, not an IP address",
                ));
            }
            let problems = if host.contains('*') {
                wildcard_dns1123_subdomain_problems(host)
            } else {
                dns1123_subdomain_problems(host)
            };
            for p in problems {
                causes.push(FieldCause::invalid(&host_path, &json!(host), p));
            }
        }
        if let Some(http) = rule.get("http").filter(|h| !h.is_null()) {
            let paths = items(http, "paths");
            if paths.is_empty() {
                causes.push(FieldCause::required(format!("{at}.http.paths"), ""));
            }
            for (j, path) in paths.iter().enumerate() {
                path_causes(path, &format!("{at}.http.paths[{j}]"), &mut causes);
            }
        }
    }
    for (i, tls) in items(spec, "tls").iter().enumerate() {
        for (j, host) in items(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let problems = if host.contains('*') {
                wildcard_dns1123_subdomain_problems(host)
            } else {
                dns1123_subdomain_problems(host)
            };
            for p in problems {
                causes.push(FieldCause::invalid(
                    format!("spec.tls[{i}].hosts[{j}]"),
                    &json!(host),
                    p,
                ));
            }
        }
        let secret = s(tls, "/secretName");
        if !secret.is_empty() {
            for p in dns1123_subdomain_problems(secret) {
                causes.push(FieldCause::invalid(
                    format!("spec.tls[{i}].secretName"),
                    &json!(secret),
                    p,
                ));
            }
        }
    }
    if let Some(class) = spec.get("ingressClassName").and_then(Value::as_str) {
        for p in dns1123_subdomain_problems(class) {
            causes.push(FieldCause::invalid(
                "spec.ingressClassName",
                &json!(class),
                p,
            ));
        }
    }
    causes
}

/// Upstream's `validateHTTPIngressPath`.
fn path_causes(path: &Value, at: &str, causes: &mut Vec<FieldCause>) {
    // k8s-openapi's type makes `pathType` a plain string: absent reads as "".
    let Some(path_type) = path
        .get("pathType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        causes.push(FieldCause::required(
            format!("{at}.pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let p = s(path, "/path");
    let path_field = format!("{at}.path");
    match path_type {
        "Exact" | "Prefix" => {
            if !p.starts_with('/') {
                causes.push(FieldCause::invalid(
                    &path_field,
                    &json!(p),
                    "must be an absolute path",
                ));
            }
            if !p.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if p.contains(seq) {
                        causes.push(FieldCause::invalid(
                            &path_field,
                            &json!(p),
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if p.ends_with(suffix) {
                        causes.push(FieldCause::invalid(
                            &path_field,
                            &json!(p),
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !p.is_empty() && !p.starts_with('/') {
                causes.push(FieldCause::invalid(
                    &path_field,
                    &json!(p),
                    "must be an absolute path",
                ));
            }
        }
        other => causes.push(FieldCause::not_supported(
            format!("{at}.pathType"),
            &json!(other),
            &["Exact", "ImplementationSpecific", "Prefix"].map(String::from),
        )),
    }
    backend_causes(
        path.get("backend").unwrap_or(&Value::Null),
        &format!("{at}.backend"),
        causes,
    );
}

/// Upstream's `validateIngressBackend`.
fn backend_causes(backend: &Value, at: &str, causes: &mut Vec<FieldCause>) {
    let resource = backend.get("resource").filter(|r| !r.is_null());
    let service = backend.get("service").filter(|r| !r.is_null());
    match (resource, service) {
        (Some(_), Some(_)) => causes.push(FieldCause::invalid(
            at,
            &json!(""),
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let at = format!("{at}.resource");
            if let Some(group) = r.get("apiGroup").and_then(Value::as_str) {
                for p in dns1123_subdomain_problems(group) {
                    causes.push(FieldCause::invalid(
                        format!("{at}.apiGroup"),
                        &json!(group),
                        p,
                    ));
                }
            }
            for field in ["kind", "name"] {
                let v = s(r, &format!("/{field}"));
                if v.is_empty() {
                    causes.push(FieldCause::required(
                        format!("{at}.{field}"),
                        format!("{field} is required"),
                    ));
                }
                for p in path_segment_problems(v)
                    .into_iter()
                    .filter(|_| !v.is_empty())
                {
                    causes.push(FieldCause::invalid(format!("{at}.{field}"), &json!(v), p));
                }
            }
        }
        (None, Some(svc)) => {
            let name = s(svc, "/name");
            if name.is_empty() {
                causes.push(FieldCause::required(format!("{at}.service.name"), ""));
            } else {
                for p in crate::crd::schema::objectmeta::dns1035_label_problems(name) {
                    causes.push(FieldCause::invalid(
                        format!("{at}.service.name"),
                        &json!(name),
                        p,
                    ));
                }
            }
            let port_name = s(svc, "/port/name");
            let number = svc
                .pointer("/port/number")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            match (port_name.is_empty(), number) {
                (false, n) if n != 0 => causes.push(FieldCause::invalid(
                    at,
                    &json!(""),
                    "cannot set both port name & port number",
                )),
                (false, _) => {
                    for p in port_name_problems(port_name) {
                        causes.push(FieldCause::invalid(
                            format!("{at}.service.port.name"),
                            &json!(port_name),
                            p,
                        ));
                    }
                }
                (true, 0) => {
                    causes.push(FieldCause::required(at, "port name or number is required"))
                }
                (true, n) => {
                    if !(1..=65535).contains(&n) {
                        causes.push(FieldCause::invalid(
                            format!("{at}.service.port.number"),
                            &json!(n),
                            crate::registry::core::pods::PORT_RANGE,
                        ));
                    }
                }
            }
        }
        (None, None) => causes.push(FieldCause::invalid(
            at,
            &json!(""),
            "resource or service backend is required",
        )),
    }
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
