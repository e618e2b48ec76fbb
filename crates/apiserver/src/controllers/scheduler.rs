//! The simulated scheduler: which node a pod goes to, by kube-scheduler's filters that matter
//! without real resources, and upstream's message when none fits.
//!
//! Filters, in the order kube-scheduler's plugins of the same names run (the first that fails
//! is the node's reason):
//! - **NodeUnschedulable**: a cordoned node (`spec.unschedulable`) only takes pods that tolerate
//!   `node.kubernetes.io/unschedulable:NoSchedule`;
//! - **TaintToleration**: every `NoSchedule`/`NoExecute` taint tolerated; a node that does not
//!   report `Ready` carries `node.kubernetes.io/not-ready:NoSchedule`, as the node lifecycle
//!   controller taints it;
//! - **NodeAffinity**: `nodeSelector` and the required node affinity (label expressions and
//!   `metadata.name` fields).
//!
//! Pods with `schedulingGates`, or that name another `schedulerName`, are not this scheduler's
//! ([`schedulable`]).
//!
//! Among the nodes that fit, a pod goes to the one with the fewest pods (the simulation has no
//! resource use to score by). A pod no node fits gets upstream's `0/N nodes are available: ...`
//! message.

use super::str_at as s;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The taint of a cordoned node.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// The taint of a node that is not Ready.
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// Why a node does not fit a pod (the reason upstream's plugins report).
fn misfit(spec: &Value, node: &Value) -> Option<String> {
    let tolerations: Vec<&Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let tolerated = |taint: &Value| tolerations.iter().any(|t| tolerates(t, taint));
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true)
        && !tolerated(&json!({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}))
    {
        return Some("node(s) were unschedulable".into());
    }
    let mut taints: Vec<Value> = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !ready(node) {
        taints.push(json!({"key": NOT_READY_TAINT, "effect": "NoSchedule"}));
    }
    taints
        .iter()
        .filter(|t| matches!(s(t, "/effect"), "NoSchedule" | "NoExecute"))
        .find(|t| !tolerated(t))
        .map(|t| {
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                s(t, "/key"),
                s(t, "/value")
            )
        })
        .or_else(|| {
            (!selects(spec, node))
                .then(|| "node(s) didn't match Pod's node affinity/selector".to_string())
        })
}

/// Whether `node` reports the condition `Ready` as `True`.
fn ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
}

/// Whether this scheduler places a pod of spec `spec`: no scheduling gates left, and the
/// default scheduler named (or none).
pub(crate) fn schedulable(spec: &Value) -> bool {
    spec.get("schedulingGates")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
        && matches!(
            spec.get("schedulerName").and_then(Value::as_str),
            None | Some("" | "default-scheduler")
        )
}

/// The nodes among `nodes` a pod of spec `spec` fits (sorted by name), or upstream's message
/// saying why none does.
pub(crate) fn fitting(spec: &Value, nodes: &[Value]) -> Result<Vec<String>, String> {
    let mut fits = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for node in nodes.iter().filter(|n| !super::deleting(n)) {
        match misfit(spec, node) {
            None => fits.push(s(node, "/metadata/name").to_string()),
            Some(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    if fits.is_empty() {
        let total: usize = reasons.values().sum();
        if total == 0 {
            return Err("no nodes available to schedule pods".into());
        }
        // Upstream sorts the formatted "<count> <reason>" strings.
        let mut why: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        why.sort();
        return Err(format!(
            "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
            why.join(", ")
        ));
    }
    fits.sort();
    Ok(fits)
}

/// Where the simulated pods are: pods per node, kept from the change stream and from the
/// scheduler's own decisions, so that spreading costs nothing per pod.
#[derive(Default)]
pub(crate) struct Placement {
    node_of: HashMap<(String, String), String>,
    per_node: HashMap<String, usize>,
}

impl Placement {
    /// Pod `key` is on `node` (`None`: unbound or gone).
    pub(crate) fn observe(&mut self, key: &(String, String), node: Option<&str>) {
        if self.node_of.get(key).map(String::as_str) == node {
            return;
        }
        if let Some(old) = self.node_of.remove(key)
            && let Some(n) = self.per_node.get_mut(&old)
        {
            *n = n.saturating_sub(1);
        }
        if let Some(node) = node.filter(|n| !n.is_empty()) {
            self.node_of.insert(key.clone(), node.to_string());
            *self.per_node.entry(node.to_string()).or_default() += 1;
        }
    }

    /// The node of `fits` with the fewest pods (by name among equals), as kube-scheduler's
    /// spreading scores would pick when every pod asks for the same.
    pub(crate) fn least_loaded(&self, fits: &[String]) -> Option<String> {
        fits.iter()
            .min_by_key(|n| (self.per_node.get(*n).copied().unwrap_or(0), (*n).clone()))
            .cloned()
    }
}

/// The node pod `pod` requires by name: the first value of a `matchFields` requirement
/// `metadata.name In [...]` of its required node affinity (how DaemonSet pods target a node).
pub(crate) fn required_node_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")?
        .as_array()?
        .iter()
        .flat_map(|term| term.get("matchFields").and_then(Value::as_array).into_iter().flatten())
        .find(|r| s(r, "/key") == "metadata.name" && s(r, "/operator") == "In")?
        .get("values")?
        .as_array()?
        .first()?
        .as_str()
}

/// Whether node selector requirement `req` holds for `value` (None: the key is absent).
fn requirement_holds(req: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = req
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let number = |v: &str| v.parse::<i64>().ok();
    match s(req, "/operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|b| number(b)),
            ) else {
                return false;
            };
            if s(req, "/operator") == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// Whether the template's `nodeSelector` and required node affinity select `node`.
pub(crate) fn selects(pod_spec: &Value, node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let selector_ok = pod_spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    if !selector_ok {
        return false;
    }
    let Some(required) = pod_spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution")
        .filter(|r| !r.is_null())
    else {
        return true;
    };
    let name = s(node, "/metadata/name");
    required
        .get("nodeSelectorTerms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|term| {
            let exprs = term.get("matchExpressions").and_then(Value::as_array);
            let fields = term.get("matchFields").and_then(Value::as_array);
            if exprs.is_none_or(Vec::is_empty) && fields.is_none_or(Vec::is_empty) {
                return false;
            }
            exprs
                .into_iter()
                .flatten()
                .all(|r| requirement_holds(r, label(s(r, "/key"))))
                && fields.into_iter().flatten().all(|r| {
                    let value = (s(r, "/key") == "metadata.name").then_some(name);
                    requirement_holds(r, value)
                })
        })
}

/// Whether toleration `tol` tolerates `taint` (upstream's `ToleratesTaint`).
pub(crate) fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect = s(tol, "/effect");
    if !effect.is_empty() && effect != s(taint, "/effect") {
        return false;
    }
    let key = s(tol, "/key");
    if !key.is_empty() && key != s(taint, "/key") {
        return false;
    }
    match s(tol, "/operator") {
        "Exists" => true,
        "" | "Equal" => s(tol, "/value") == s(taint, "/value"),
        _ => false,
    }
}
