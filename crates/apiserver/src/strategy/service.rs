//! Services: the defaults kube-apiserver gives a new Service (type ClusterIP, session affinity,
//! IP family, port protocol and target port) and a cluster IP from the service range
//! `10.96.0.0/12`, as `kubectl get svc` shows against a real cluster. A cluster IP never changes
//! once allocated (an update that leaves it out keeps it; one that changes it is refused).
//!
//! Allocation is random within the range and unique among the IPs this server process has
//! handed out; nothing routes to these IPs (there is no kube-proxy).

use super::{Strategy, Typed};
use crate::status::FieldCause;
use crate::validation::NameRule;
use k8s_openapi::api::core::v1::Service;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// The first address of the service range (`10.96.0.0/12`, kubeadm's default).
const RANGE_START: u32 = u32::from_be_bytes([10, 96, 0, 0]);
/// How many addresses the range holds.
const RANGE_SIZE: u32 = 1 << 20;

/// The Service strategy.
pub struct ServiceStrategy {
    typed: Typed<Service>,
    /// Cluster IPs handed out by this process.
    allocated: Mutex<HashSet<u32>>,
}

impl ServiceStrategy {
    /// The strategy.
    pub fn new() -> Self {
        ServiceStrategy {
            typed: Typed::new()
                .names(NameRule::Label)
                .printer(&crate::table::SERVICE),
            allocated: Mutex::new(HashSet::new()),
        }
    }

    /// A free address of the range, skipping the network address, the first host (reserved for
    /// the `kubernetes` Service upstream) and the broadcast address.
    fn allocate(&self) -> String {
        let mut allocated = self.allocated.lock().unwrap_or_else(|e| e.into_inner());
        let mut rng = rand::rng();
        loop {
            let ip = RANGE_START + rng.random_range(2..RANGE_SIZE - 1);
            if allocated.insert(ip) {
                return Ipv4Addr::from(ip).to_string();
            }
        }
    }
}

impl Default for ServiceStrategy {
    fn default() -> Self {
        Self::new()
    }
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

    fn prepare_for_create(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
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
                if let Some(number) = port.get("port").cloned() {
                    port.entry("targetPort").or_insert(number);
                }
            }
        }
        if type_ == "ExternalName" {
            return;
        }
        spec.entry("internalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_string(),
            _ => self.allocate(),
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
        if ip != "None" {
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // An update that leaves the allocated values out keeps them (upstream's
        // patchAllocatedValues).
        if cluster_ip(new).is_empty()
            && !cluster_ip(old).is_empty()
            && let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut)
        {
            for field in ["clusterIP", "clusterIPs"] {
                if let Some(v) = old.pointer(&format!("/spec/{field}")) {
                    spec.insert(field.into(), v.clone());
                }
            }
        }
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = self.typed.validate_update(new, old);
        let changing_to_external =
            new.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName");
        if !changing_to_external
            && !cluster_ip(old).is_empty()
            && cluster_ip(new) != cluster_ip(old)
        {
            causes.push(FieldCause::invalid(
                "spec.clusterIP",
                &json!(cluster_ip(new)),
                "field is immutable",
            ));
        }
        causes
    }
}
