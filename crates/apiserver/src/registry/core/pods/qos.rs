//! A pod's quality-of-service class (`status.qosClass`), by kube-apiserver's `ComputePodQOS`:
//! over all containers and init containers, only cpu and memory count, and only positive
//! amounts. No requests and no limits is `BestEffort`; every container limiting both cpu and
//! memory, with the summed requests equal to the summed limits for each resource, is
//! `Guaranteed`; anything else is `Burstable`. Requests are read after defaulting, so a
//! container that only gives limits requests as much.

use crate::quantity::parse_quantity;
use serde_json::Value;
use std::collections::BTreeMap;

/// The resources QoS looks at.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// The QoS class of `pod` (a defaulted Pod object).
pub fn qos_class(pod: &Value) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["/spec/containers", "/spec/initContainers"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten();
    for container in containers {
        for (which, sums) in [("requests", &mut requests), ("limits", &mut limits)] {
            let mut found = 0;
            for resource in QOS_RESOURCES {
                let amount = container
                    .pointer(&format!("/resources/{which}/{resource}"))
                    .and_then(Value::as_str)
                    .and_then(parse_quantity)
                    .filter(|q| *q > 0);
                if let Some(q) = amount {
                    *sums.entry(resource).or_insert(0) += q;
                    found += 1;
                }
            }
            if which == "limits" && found < QOS_RESOURCES.len() {
                guaranteed = false;
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(r, q)| limits.get(r) == Some(q))
    {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: Value, init: Value) -> Value {
        json!({"spec": {"containers": containers, "initContainers": init}})
    }

    fn res(requests: Value, limits: Value) -> Value {
        json!({"name": "c", "resources": {"requests": requests, "limits": limits}})
    }

    #[test]
    fn classes_follow_upstream_rules() {
        let none = json!(null);
        let full = json!({"cpu": "1", "memory": "1Gi"});
        for (name, p, class) in [
            (
                "no resources",
                pod(json!([{"name": "c"}]), json!([])),
                "BestEffort",
            ),
            (
                "zero amounts count as none",
                pod(
                    json!([res(json!({"cpu": "0"}), json!({"memory": "0"}))]),
                    json!([]),
                ),
                "BestEffort",
            ),
            (
                "other resources do not count",
                pod(
                    json!([res(json!({"ephemeral-storage": "1Gi"}), none.clone())]),
                    json!([]),
                ),
                "BestEffort",
            ),
            (
                "requests equal limits",
                pod(json!([res(full.clone(), full.clone())]), json!([])),
                "Guaranteed",
            ),
            (
                "equal in other units",
                pod(
                    json!([res(
                        json!({"cpu": "1000m", "memory": "1024Mi"}),
                        full.clone()
                    )]),
                    json!([]),
                ),
                "Guaranteed",
            ),
            (
                "requests below limits",
                pod(
                    json!([res(json!({"cpu": "500m", "memory": "1Gi"}), full.clone())]),
                    json!([]),
                ),
                "Burstable",
            ),
            (
                "only a cpu limit",
                pod(
                    json!([res(json!({"cpu": "1"}), json!({"cpu": "1"}))]),
                    json!([]),
                ),
                "Burstable",
            ),
            (
                "an init container without limits",
                pod(
                    json!([res(full.clone(), full.clone())]),
                    json!([{"name": "i"}]),
                ),
                "Burstable",
            ),
            (
                "a second container without resources",
                pod(
                    json!([res(full.clone(), full.clone()), {"name": "d"}]),
                    json!([]),
                ),
                "Burstable",
            ),
            (
                "only requests",
                pod(json!([res(json!({"memory": "1Gi"}), none)]), json!([])),
                "Burstable",
            ),
        ] {
            assert_eq!(qos_class(&p), class, "{name}");
        }
    }
}
