//! A pod's quality-of-service class (`status.qosClass`), by kube-apiserver's `ComputePodQOS`:
//! over all containers and init containers, only cpu and memory count, and only positive
//! amounts. No requests and no limits is `BestEffort`; every container limiting both cpu and
//! memory, with the summed requests equal to the summed limits for each resource, is
//! `Guaranteed`; anything else is `Burstable`. Requests are read after defaulting, so a
//! container that only gives limits requests as much.

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

/// A resource quantity in billionths (`100m` is 10^8, `1Ki` is 1024·10^9), or `None` when it
/// does not parse. Fractions below a billionth are rounded up, as upstream rounds up.
pub(crate) fn parse_quantity(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    // The value is mantissa · 2^binary · 10^decimal.
    let (binary, decimal): (u32, i32) = match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        e if e.starts_with(['e', 'E']) => (0, e[1..].parse().ok()?),
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    // In billionths: shift by 9 plus the decimal exponent, minus the fraction's digits.
    let mut shift = 9 + decimal - i32::try_from(fraction.len()).ok()?;
    mantissa = mantissa.checked_mul(1i128.checked_shl(binary)?)?;
    while shift > 0 {
        mantissa = mantissa.checked_mul(10)?;
        shift -= 1;
    }
    let mut rounded_up = false;
    while shift < 0 {
        rounded_up |= mantissa % 10 != 0;
        mantissa /= 10;
        shift += 1;
    }
    if rounded_up {
        mantissa += 1;
    }
    Some(if negative { -mantissa } else { mantissa })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_in_billionths() {
        for (q, n) in [
            ("1", 1_000_000_000),
            ("100m", 100_000_000),
            ("0.1", 100_000_000),
            ("1Ki", 1024 * 1_000_000_000),
            ("128Mi", 128 * (1 << 20) * 1_000_000_000i128),
            ("1e3", 1_000_000_000_000),
            ("1k", 1_000_000_000_000),
            ("0", 0),
            ("-1", -1_000_000_000),
        ] {
            assert_eq!(parse_quantity(q), Some(n), "{q}");
        }
        for bad in ["", "m", "1x", "1.2.3", "abc"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

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
