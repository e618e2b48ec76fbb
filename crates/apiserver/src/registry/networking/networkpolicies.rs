//! NetworkPolicies (networking.k8s.io/v1, `netpol`): stored and validated as upstream's
//! `ValidateNetworkPolicySpec` (selectors, ports and port ranges, peers, IP blocks, policy
//! types); not enforced by the simulated network.

use super::items;
use crate::registry::apps::workload::label_selector_causes;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, selector_string};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::port_name_problems;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};
use std::net::IpAddr;

/// `networkpolicies`.
pub(crate) fn resource() -> ResourceType {
    entry("networkpolicies", "networkpolicy", true)
        .short(&["netpol"])
        .build::<NetworkPolicy>(
            Typed::<NetworkPolicy>::new()
                .with_generation()
                .printer(&NETWORK_POLICY)
                .validated_by(validate),
        )
}

fn validate(obj: &Value) -> Vec<FieldCause> {
    let empty = json!({});
    let spec = obj.get("spec").unwrap_or(&empty);
    let mut causes = label_selector_causes(
        spec.get("podSelector").unwrap_or(&empty),
        "spec.podSelector",
    );
    for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in items(spec, direction).iter().enumerate() {
            let at = format!("spec.{direction}[{i}]");
            for (j, port) in items(rule, "ports").iter().enumerate() {
                port_causes(port, &format!("{at}.ports[{j}]"), &mut causes);
            }
            for (j, peer) in items(rule, peers).iter().enumerate() {
                peer_causes(peer, &format!("{at}.{peers}[{j}]"), &mut causes);
            }
        }
    }
    let types = items(spec, "policyTypes");
    if types.len() > 2 {
        causes.push(FieldCause::invalid(
            "spec.policyTypes",
            &json!(types),
            "may not specify more than two policyTypes",
        ));
        return causes;
    }
    for (i, t) in types.iter().enumerate() {
        if !matches!(t.as_str(), Some("Ingress" | "Egress")) {
            causes.push(FieldCause::not_supported(
                format!("spec.policyTypes[{i}]"),
                t,
                &["Ingress".to_string(), "Egress".to_string()],
            ));
        }
    }
    causes
}

/// Upstream's `ValidateNetworkPolicyPort`.
fn port_causes(port: &Value, at: &str, causes: &mut Vec<FieldCause>) {
    if let Some(protocol) = port.get("protocol").filter(|p| !p.is_null())
        && !matches!(protocol.as_str(), Some("TCP" | "UDP" | "SCTP"))
    {
        causes.push(FieldCause::not_supported(
            format!("{at}.protocol"),
            protocol,
            &["TCP", "UDP", "SCTP"].map(String::from),
        ));
    }
    let end = port.get("endPort").filter(|e| !e.is_null());
    match port.get("port").filter(|p| !p.is_null()) {
        Some(Value::Number(n)) => {
            let number = n.as_i64().unwrap_or(0);
            if !(1..=65535).contains(&number) {
                causes.push(FieldCause::invalid(
                    format!("{at}.port"),
                    &json!(number),
                    crate::registry::core::pods::PORT_RANGE,
                ));
            }
            if let Some(end) = end {
                let end_number = end.as_i64().unwrap_or(0);
                if end_number < number {
                    causes.push(FieldCause::invalid(
                        format!("{at}.endPort"),
                        &json!(number),
                        "must be greater than or equal to `port`",
                    ));
                }
                if !(1..=65535).contains(&end_number) {
                    causes.push(FieldCause::invalid(
                        format!("{at}.endPort"),
                        end,
                        crate::registry::core::pods::PORT_RANGE,
                    ));
                }
            }
        }
        Some(name) => {
            if let Some(end) = end {
                causes.push(FieldCause::invalid(
                    format!("{at}.endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            let name = name.as_str().unwrap_or("");
            for p in port_name_problems(name) {
                causes.push(FieldCause::invalid(format!("{at}.port"), &json!(name), p));
            }
        }
        None => {
            if let Some(end) = end {
                causes.push(FieldCause::invalid(
                    format!("{at}.endPort"),
                    end,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

/// Upstream's `ValidateNetworkPolicyPeer`.
fn peer_causes(peer: &Value, at: &str, causes: &mut Vec<FieldCause>) {
    let mut peers = 0;
    for selector in ["podSelector", "namespaceSelector"] {
        if let Some(sel) = peer.get(selector).filter(|s| !s.is_null()) {
            peers += 1;
            causes.extend(label_selector_causes(sel, &format!("{at}.{selector}")));
        }
    }
    let ip_block = peer.get("ipBlock").filter(|b| !b.is_null());
    if let Some(block) = ip_block {
        peers += 1;
        ip_block_causes(block, &format!("{at}.ipBlock"), causes);
    }
    if peers == 0 {
        causes.push(FieldCause::required(at, "must specify a peer"));
    } else if peers > 1 && ip_block.is_some() {
        causes.push(FieldCause::forbidden(
            at,
            "may not specify both ipBlock and another peer",
        ));
    }
}

/// A CIDR as (network address bits, prefix length, address width), `None` when it is not one.
fn cidr(s: &str) -> Option<(u128, u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    let (bits, width) = match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    (len <= width).then_some((bits, len, width))
}

/// Whether `inner` is a strict subset of `outer` (same family, longer prefix, inside it).
fn strict_subset(outer: (u128, u32, u32), inner: (u128, u32, u32)) -> bool {
    let ((ob, ol, ow), (ib, il, iw)) = (outer, inner);
    let mask = |len: u32| {
        if len == 0 {
            0
        } else {
            (u128::MAX << (ow - len)) & (u128::MAX >> (128 - ow))
        }
    };
    ow == iw && il > ol && (ib & mask(ol)) == (ob & mask(ol))
}

/// Upstream's `ValidateIPBlock`.
fn ip_block_causes(block: &Value, at: &str, causes: &mut Vec<FieldCause>) {
    let value = block.get("cidr").and_then(Value::as_str).unwrap_or("");
    if value.is_empty() {
        causes.push(FieldCause::required(format!("{at}.cidr"), ""));
        return;
    }
    let Some(outer) = cidr(value) else {
        causes.push(FieldCause::invalid(
            format!("{at}.cidr"),
            &json!(value),
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
        return;
    };
    for (i, except) in items(block, "except").iter().enumerate() {
        let text = except.as_str().unwrap_or("");
        let path = format!("{at}.except[{i}]");
        match cidr(text) {
            None => {
                causes.push(FieldCause::invalid(
                    path,
                    except,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
                return;
            }
            Some(inner) if !strict_subset(outer, inner) => {
                causes.push(FieldCause::invalid(
                    path,
                    except,
                    "must be a strict subset of `cidr`",
                ));
            }
            Some(_) => {}
        }
    }
}

/// NetworkPolicy: NAME POD-SELECTOR AGE.
pub(crate) const NETWORK_POLICY: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Pod-Selector", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(selector_string(o.pointer("/spec/podSelector"))),
            json!(age(o, now)),
        ]
    },
};
