//! Services: the defaults kube-apiserver gives a new Service (type ClusterIP, session affinity,
//! IP family, port protocol and target port), as `kubectl get svc` shows against a real cluster.
//! Cluster IPs and node ports are allocated around the write by [`allocation`] (IPAddress
//! objects from the ServiceCIDRs, as the MultiCIDRServiceAllocator); a cluster IP never changes
//! once allocated (an update that leaves it out keeps it; one that changes it is refused).
//! Nothing routes to these IPs (there is no kube-proxy); a LoadBalancer's external IP stays
//! `<pending>`, as on a cluster without a cloud provider.

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::typed_basics;
use crate::strategy::{Strategy, Typed};
use crate::table::printer::{Printer, col, n, none_if_empty, s, selector_string};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use allocation::NODE_PORTS;
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};
use std::collections::HashSet;

pub(crate) mod allocation;

/// `services` (core/v1, `svc`).
pub(crate) fn resource() -> ResourceType {
    entry("services", "service", true)
        .short(&["svc"])
        .all()
        .status()
        .allocated_by(&allocation::ALLOCATION)
        .build::<Service>(ServiceStrategy::new())
}

/// The Service strategy.
pub struct ServiceStrategy {
    typed: Typed<Service>,
}

impl ServiceStrategy {
    /// The strategy.
    pub fn new() -> Self {
        ServiceStrategy {
            typed: Typed::new()
                .names(NameRule::Label)
                .printer(&SERVICE)
                .fields(&["spec.clusterIP", "spec.type"]),
        }
    }
}

impl Default for ServiceStrategy {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether Services of this type have node ports.
fn has_node_ports(type_: Option<&str>) -> bool {
    matches!(type_, Some("NodePort" | "LoadBalancer"))
}

/// Upstream's node port rules: within the range, not used twice in one Service, and only on
/// types that have node ports.
fn node_port_causes(obj: &Value) -> Vec<FieldCause> {
    let type_ = obj.pointer("/spec/type").and_then(Value::as_str);
    let mut causes = Vec::new();
    let mut seen = HashSet::new();
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let Some(n) = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        else {
            continue;
        };
        let field = format!("spec.ports[{i}].nodePort");
        if !has_node_ports(type_) {
            causes.push(FieldCause::forbidden(
                &field,
                format!(
                    "may not be used when `type` is '{}'",
                    type_.unwrap_or("ClusterIP")
                ),
            ));
        } else if !NODE_PORTS.contains(&n) {
            causes.push(FieldCause::invalid(
                &field,
                &json!(n),
                format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORTS.start(),
                    NODE_PORTS.end()
                ),
            ));
        } else if !seen.insert((n, port.get("protocol").cloned())) {
            causes.push(FieldCause::duplicate(&field, &json!(n)));
        }
    }
    causes
}

/// The Service types upstream supports, sorted as it lists them.
const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// Upstream's port rules (`validateServicePort`): ports are required unless the Service is
/// headless or an ExternalName; with several ports each needs a unique DNS-1123 label name;
/// port and numeric target port are valid port numbers; the protocol is a known one. Then the
/// type is one of [`TYPES`].
fn port_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let type_ = obj.pointer("/spec/type").and_then(Value::as_str);
    let ports: &[Value] = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if ports.is_empty() && cluster_ip(obj) != "None" && type_ != Some("ExternalName") {
        causes.push(FieldCause::required("spec.ports", ""));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = port.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            causes.push(FieldCause::required(format!("{at}.name"), ""));
        } else if !name.is_empty() {
            for p in crate::validation::dns1123_label_problems(name) {
                causes.push(FieldCause::invalid(format!("{at}.name"), &json!(name), p));
            }
            if !names.insert(name) {
                causes.push(FieldCause::duplicate(format!("{at}.name"), &json!(name)));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !super::pods::valid_port(number) {
            causes.push(FieldCause::invalid(
                format!("{at}.port"),
                &json!(number),
                super::pods::PORT_RANGE,
            ));
        }
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !super::pods::port_protocols().iter().any(|p| p == protocol)
        {
            causes.push(FieldCause::not_supported(
                format!("{at}.protocol"),
                &json!(protocol),
                &super::pods::port_protocols(),
            ));
        }
        if let Some(target) = port.get("targetPort").and_then(Value::as_i64)
            && !super::pods::valid_port(target)
        {
            causes.push(FieldCause::invalid(
                format!("{at}.targetPort"),
                &json!(target),
                super::pods::PORT_RANGE,
            ));
        }
    }
    if let Some(t) = type_
        && !TYPES.contains(&t)
    {
        causes.push(FieldCause::not_supported(
            "spec.type",
            &json!(t),
            &TYPES.map(str::to_string),
        ));
    }
    causes
}

/// The defaults kube-apiserver gives every Service it decodes (`SetDefaults_Service`), on
/// create and update alike; answers the type.
fn defaults(spec: &mut serde_json::Map<String, Value>) -> String {
    let type_ = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or("")
        .to_string();
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
            // An absent, zero or empty target port is the port itself.
            let unset = port
                .get("targetPort")
                .is_none_or(|t| t.is_null() || t == &json!(0) || t == &json!(""));
            if unset && let Some(number) = port.get("port").cloned() {
                port.insert("targetPort".into(), number);
            }
        }
    }
    if type_ == "ExternalName" {
        return type_;
    }
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    if has_node_ports(Some(&type_)) {
        spec.entry("externalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
    }
    if type_ == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert_with(|| json!(true));
    }
    type_
}

fn cluster_ip(obj: &Value) -> &str {
    obj.pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Strategy for ServiceStrategy {
    typed_basics!(typed, decode);

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    /// As upstream's Service storage (`ReturnDeletedObject: true`).
    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        let type_ = defaults(spec);
        if type_ == "ExternalName" {
            return;
        }
        // Upstream's `normalizeClusterIPs`: the singular and the plural agree; what is left
        // empty is allocated after validation.
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => Some(ip.to_string()),
            _ => spec
                .get("clusterIPs")
                .and_then(|v| v.get(0))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if let Some(ip) = &ip {
            spec.insert("clusterIP".into(), json!(ip));
            spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
        }
        if ip.as_deref() != Some("None") {
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // An update that leaves the allocated values out keeps them (upstream's
        // patchAllocatedValues); a port that becomes a node port gets one.
        let external =
            |o: &Value| o.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
        let keep_ip = cluster_ip(new).is_empty()
            && !cluster_ip(old).is_empty()
            && !external(new)
            && !external(old);
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            defaults(spec);
            if keep_ip {
                for field in ["clusterIP", "clusterIPs"] {
                    if let Some(v) = old.pointer(&format!("/spec/{field}")) {
                        spec.insert(field.into(), v.clone());
                    }
                }
            }
        }
        normalize_cluster_ips(new, old);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = self.typed.validate(obj);
        causes.extend(cluster_ip_causes(obj));
        causes.extend(port_causes(obj));
        causes.extend(node_port_causes(obj));
        causes
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = self.typed.validate_update(new, old);
        causes.extend(cluster_ip_causes(new));
        causes.extend(port_causes(new));
        causes.extend(node_port_causes(new));
        causes.extend(cluster_ip_change_causes(new, old));
        causes
    }
}

/// Upstream's `validateClusterIPs` for the addresses themselves: each is `None` (headless, then
/// the only one) or a valid IP address.
fn cluster_ip_causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (i, ip) in cluster_ips(obj).into_iter().enumerate() {
        if ip == "None" && i == 0 {
            continue;
        }
        for p in crate::validation::ip_address_problems(ip) {
            causes.push(FieldCause::invalid(
                format!("spec.clusterIPs[{i}]"),
                &json!(ip),
                p,
            ));
        }
    }
    causes
}

/// `spec.clusterIPs` of a Service (empty when absent).
fn cluster_ips(obj: &Value) -> Vec<&str> {
    obj.pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Upstream's `normalizeClusterIPs` on update: a client that changes (or clears) only the
/// singular `clusterIP` meant the plural too.
fn normalize_cluster_ips(new: &mut Value, old: &Value) {
    let (old_ip, new_ip) = (cluster_ip(old).to_string(), cluster_ip(new).to_string());
    if old_ip == new_ip || cluster_ips(old) != cluster_ips(new) {
        return;
    }
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if new_ip.is_empty() {
        spec.remove("clusterIPs");
    } else {
        spec.insert("clusterIPs".into(), json!([new_ip]));
    }
}

/// Go's `%#v` of a `[]string`, as `field.Invalid` shows a slice value.
fn go_string_slice(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Upstream's `validateUpgradeDowngradeClusterIPs`: allocated cluster IPs may be added or
/// released (secondary only) but never changed, unless the Service is or was ExternalName, or
/// stays headless.
fn cluster_ip_change_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let external =
        |o: &Value| o.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
    if external(new) || external(old) {
        return Vec::new();
    }
    let headless = |o: &Value| cluster_ip(o) == "None";
    if headless(new) && headless(old) {
        return Vec::new();
    }
    let (old_ips, new_ips) = (cluster_ips(old), cluster_ips(new));
    let invalid = |i: usize, detail: &str| FieldCause {
        reason: "FieldValueInvalid",
        field: format!("spec.clusterIPs[{i}]"),
        message: format!(
            "spec.clusterIPs[{i}]: Invalid value: {}: {detail}",
            go_string_slice(&new_ips)
        ),
    };
    let mut causes = Vec::new();
    if old_ips.len() == new_ips.len() {
        for (i, (o, n)) in old_ips.iter().zip(&new_ips).enumerate() {
            if o != n {
                causes.push(invalid(i, "may not change once set"));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            causes.push(invalid(0, "primary clusterIP can not be unset"));
        } else if new_ips[0] != old_ips[0] {
            causes.push(invalid(0, "may not change once set"));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        causes.push(invalid(0, "may not change once set"));
    }
    causes
}

fn service_ports(o: &Value) -> String {
    let ports = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let parts: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) => format!("{}:{np}/{proto}", n(p, "/port")),
                None => format!("{}/{proto}", n(p, "/port")),
            }
        })
        .collect();
    none_if_empty(parts.join(","))
}

/// Service: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE (SELECTOR wide).
pub(crate) const SERVICE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            age_column(),
            col("Selector", "string", 1),
        ]
    },
    cells: |o, now| {
        let t = match s(o, "/spec/type") {
            "" => "ClusterIP",
            t => t,
        };
        let external = match t {
            "ExternalName" => s(o, "/spec/externalName").to_string(),
            _ => {
                let mut ips: Vec<String> = o
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|i| {
                                if s(i, "/ip").is_empty() {
                                    s(i, "/hostname").to_string()
                                } else {
                                    s(i, "/ip").to_string()
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(e) = o.pointer("/spec/externalIPs").and_then(Value::as_array) {
                    ips.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
                }
                match (ips.is_empty(), t) {
                    (true, "LoadBalancer") => "<pending>".to_string(),
                    (true, _) => "<none>".to_string(),
                    (false, _) => ips.join(","),
                }
            }
        };
        vec![
            json!(name_of(o)),
            json!(t),
            json!(none_if_empty(s(o, "/spec/clusterIP").to_string())),
            json!(external),
            json!(service_ports(o)),
            json!(age(o, now)),
            json!(selector_string(o.pointer("/spec/selector"))),
        ]
    },
};

/// The list and map markers of the Service types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        (
            "io.k8s.api.core.v1.ServiceSpec",
            "ports",
            &["port", "protocol"],
        ),
        ("io.k8s.api.core.v1.ServiceStatus", "conditions", &["type"]),
    ],
    atomic_maps: &[("io.k8s.api.core.v1.ServiceSpec", "selector")],
    defaults: &[("io.k8s.api.core.v1.ServicePort", "protocol", "TCP")],
    ..Markers::NONE
};

#[cfg(test)]
mod printer_tests {
    use super::*;
    use crate::table::TableConvertor;

    #[test]
    fn service_ports() {
        let now = jiff::Timestamp::now();
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
        let cells = SERVICE.cells(&svc, now);
        assert_eq!(cells[1], json!("NodePort"));
        assert_eq!(cells[3], json!("<none>"));
        assert_eq!(cells[4], json!("80:30080/TCP,53/UDP"));
    }
}
