//! What an object uses of the resources a quota limits (kube's `pkg/quota/v1/evaluator/core`
//! and the generic object count evaluator): Pods (`pods` and compute: `cpu`, `memory`,
//! `ephemeral-storage`, `requests.*`, `limits.*`, hugepages and extended `requests.<name>`; a
//! pod that has ended or whose grace period is over uses only `count/pods`), Services
//! (`services`, `services.nodeports`, `services.loadbalancers`), PersistentVolumeClaims
//! (`persistentvolumeclaims`, `requests.storage` and their per-StorageClass forms), and every
//! other resource its object count `count/<resource>[.<group>]` (with the legacy names of
//! ConfigMaps, Secrets, ReplicationControllers and ResourceQuotas). Only pods are selected by
//! quota scopes; a scoped quota counts no other object.

use super::{ResourceList, ScopeSelector};
use crate::quantity::Quantity;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Pods' compute resources and counts (upstream's `podResources`).
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// The resources whose quota requires every container to state them (upstream's
/// `validationSet`).
const MUST_SPECIFY: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Services' counts.
const SERVICE_RESOURCES: [&str; 4] = [
    "count/services",
    "services",
    "services.loadbalancers",
    "services.nodeports",
];

/// Claims' counts and storage.
const CLAIM_RESOURCES: [&str; 3] = [
    "count/persistentvolumeclaims",
    "persistentvolumeclaims",
    "requests.storage",
];

/// What ties a claim's usage to its StorageClass: `<class>.storageclass.storage.k8s.io/<name>`.
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// The resources counted by object count alone under a legacy name too.
const LEGACY_COUNTS: [&str; 4] = [
    "configmaps",
    "secrets",
    "replicationcontrollers",
    "resourcequotas",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Pods,
    Services,
    Claims,
    /// Any other resource: its `count/…` name and its legacy name, if any.
    Count {
        count: String,
        legacy: Option<&'static str>,
    },
}

/// The evaluator of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluator {
    kind: Kind,
}

/// `count/<resource>` for the core group, `count/<resource>.<group>` otherwise.
fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// The resources (group, plural) whose evaluator counts the quota resource `name`.
pub fn resources_counting(name: &str) -> Vec<(String, String)> {
    let core = |p: &str| vec![(String::new(), p.to_string())];
    if let Some(counted) = name.strip_prefix("count/") {
        return match counted.split_once('.') {
            Some((plural, group)) => vec![(group.to_string(), plural.to_string())],
            None => core(counted),
        };
    }
    if POD_RESOURCES.contains(&name) || is_pod_prefixed(name) || is_extended_request(name) {
        return core("pods");
    }
    if SERVICE_RESOURCES.contains(&name) {
        return core("services");
    }
    if CLAIM_RESOURCES.contains(&name) || is_class_resource(name) {
        return core("persistentvolumeclaims");
    }
    if LEGACY_COUNTS.contains(&name) {
        return core(name);
    }
    Vec::new()
}

fn is_pod_prefixed(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// An extended resource (a domain-qualified name outside `kubernetes.io`), as a container
/// requests it.
fn is_extended(name: &str) -> bool {
    name.contains('/')
        && !name.starts_with("kubernetes.io/")
        && !name.starts_with("requests.")
        && !name.contains(".kubernetes.io/")
}

/// `requests.<extended resource>`: how a quota limits an extended resource.
fn is_extended_request(name: &str) -> bool {
    name.strip_prefix("requests.").is_some_and(is_extended)
}

fn is_class_resource(name: &str) -> bool {
    name.split_once(STORAGE_CLASS_SUFFIX)
        .is_some_and(|(class, what)| {
            !class.is_empty() && (what == "requests.storage" || what == "persistentvolumeclaims")
        })
}

impl Evaluator {
    /// The evaluator of `group/plural`.
    pub fn for_resource(group: &str, plural: &str) -> Self {
        let kind = match (group, plural) {
            ("", "pods") => Kind::Pods,
            ("", "services") => Kind::Services,
            ("", "persistentvolumeclaims") => Kind::Claims,
            _ => Kind::Count {
                count: count_name(group, plural),
                legacy: LEGACY_COUNTS
                    .iter()
                    .find(|l| group.is_empty() && **l == plural)
                    .copied(),
            },
        };
        Evaluator { kind }
    }

    /// Whether a write of `operation` through `subresource` can change what this resource uses
    /// (upstream's `Handles`): creates always; updates of services and claims; a pod's usage
    /// changes only through an in-place resize (`pods/resize`, as 1.33's pod evaluator: an
    /// update of the pod itself cannot change its resources).
    pub fn handles(
        &self,
        operation: crate::admission::Operation,
        subresource: Option<&str>,
    ) -> bool {
        use crate::admission::Operation;
        match (&self.kind, subresource, operation) {
            (Kind::Pods, Some("resize"), Operation::Update) => true,
            (_, Some(_), _) => false,
            (_, None, Operation::Create) => true,
            (Kind::Pods | Kind::Count { .. }, None, _) => false,
            (_, None, Operation::Update) => true,
            _ => false,
        }
    }

    /// The names of `input` this evaluator counts (upstream's `MatchingResources`).
    pub fn matching_resources<'a>(
        &self,
        input: impl IntoIterator<Item = &'a String>,
    ) -> Vec<String> {
        input
            .into_iter()
            .filter(|name| match &self.kind {
                Kind::Pods => {
                    POD_RESOURCES.contains(&name.as_str())
                        || is_pod_prefixed(name)
                        || is_extended_request(name)
                }
                Kind::Services => SERVICE_RESOURCES.contains(&name.as_str()),
                Kind::Claims => CLAIM_RESOURCES.contains(&name.as_str()) || is_class_resource(name),
                Kind::Count { count, legacy } => {
                    name.as_str() == count || Some(name.as_str()) == *legacy
                }
            })
            .cloned()
            .collect()
    }

    /// Whether `obj` is in the scope `selector` asks for; only pods are in any scope.
    pub fn matches_scope(&self, selector: &ScopeSelector, obj: &Value) -> bool {
        match self.kind {
            Kind::Pods => pod_matches_scope(selector, obj),
            _ => false,
        }
    }

    /// What `obj` uses (upstream's `Usage`).
    pub fn usage(&self, obj: &Value) -> ResourceList {
        match &self.kind {
            Kind::Pods => pod_usage(obj),
            Kind::Services => service_usage(obj),
            Kind::Claims => claim_usage(obj),
            Kind::Count { count, legacy } => {
                let mut out = ResourceList::new();
                out.insert(count.clone(), Quantity::count(1));
                if let Some(l) = legacy {
                    out.insert(l.to_string(), Quantity::count(1));
                }
                out
            }
        }
    }

    /// What `obj` must state for a quota limiting `required` (upstream's `Constraints`): every
    /// container of a pod its cpu and memory requests and limits a quota tracks, as
    /// `must specify limits.cpu for: a,b; requests.cpu for: a`.
    pub fn constraints(&self, required: &[String], obj: &Value) -> Result<(), String> {
        if self.kind != Kind::Pods {
            return Ok(());
        }
        let required: BTreeSet<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|r| MUST_SPECIFY.contains(r))
            .collect();
        if required.is_empty() {
            return Ok(());
        }
        let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for container in containers(obj, &["containers", "initContainers"]) {
            let stated = compute_usage(
                &super::list_at(container, "/resources/requests"),
                &super::list_at(container, "/resources/limits"),
            );
            for r in &required {
                if !stated.contains_key(*r) {
                    missing
                        .entry(r)
                        .or_default()
                        .insert(crate::controllers::str_at(container, "/name").to_string());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = missing
            .iter()
            .map(|(r, names)| {
                format!(
                    "{r} for: {}",
                    names.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        Err(format!("must specify {}", parts.join("; ")))
    }
}

fn containers<'a>(pod: &'a Value, lists: &[&str]) -> Vec<&'a Value> {
    lists
        .iter()
        .filter_map(|l| pod.pointer(&format!("/spec/{l}")).and_then(Value::as_array))
        .flatten()
        .collect()
}

/// A pod's (or one container's) requests and limits as the quota names them (upstream's
/// `podComputeUsageHelper`).
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("pods".into(), Quantity::count(1));
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.into(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (r, q) in requests {
        if r.starts_with("hugepages-") {
            out.insert(r.clone(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if is_extended(r) {
            out.insert(format!("requests.{r}"), *q);
        }
    }
    out
}

/// Whether the pod still uses compute resources: not Succeeded or Failed, and not past the end
/// of its deletion grace period (upstream's `QuotaV1Pod`).
fn pod_counts(pod: &Value) -> bool {
    let phase = crate::controllers::str_at(pod, "/status/phase");
    if phase == "Succeeded" || phase == "Failed" {
        return false;
    }
    if let Some(deleted) = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        && let Some(grace) = pod
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
        && let Ok(at) = deleted.parse::<jiff::Timestamp>()
        && let Ok(end) = at.checked_add(jiff::SignedDuration::from_secs(grace))
    {
        return jiff::Timestamp::now() <= end;
    }
    true
}

/// The pod's requests or limits (`which`): its containers and sidecars (restartable init
/// containers) summed, or the most an init container needs beside the sidecars started before
/// it, whichever is more, plus the pod's overhead (upstream's `PodRequests`/`PodLimits`).
fn pod_resources(pod: &Value, which: &str) -> ResourceList {
    let pointer = format!("/resources/{which}");
    let mut sum = ResourceList::new();
    for c in containers(pod, &["containers"]) {
        sum = super::add(&sum, &super::list_at(c, &pointer));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in containers(pod, &["initContainers"]) {
        let own = super::list_at(c, &pointer);
        if crate::controllers::str_at(c, "/restartPolicy") == "Always" {
            sum = super::add(&sum, &own);
            sidecars = super::add(&sidecars, &own);
            let with = sidecars.clone();
            max_into(&mut init_max, &with);
        } else {
            max_into(&mut init_max, &super::add(&own, &sidecars));
        }
    }
    max_into(&mut sum, &init_max);
    // The overhead adds to requests, and to the limits the pod sets (upstream's rule).
    for (k, q) in super::list_at(pod, "/spec/overhead") {
        match sum.get_mut(&k) {
            Some(mine) => *mine = mine.add(&q),
            None if which == "requests" => {
                sum.insert(k, q);
            }
            None => {}
        }
    }
    sum
}

/// A pod's requests and limits as LimitRanger's `Pod` items compare them.
pub(crate) fn pod_requests_and_limits(pod: &Value) -> (ResourceList, ResourceList) {
    (pod_resources(pod, "requests"), pod_resources(pod, "limits"))
}

fn max_into(into: &mut ResourceList, other: &ResourceList) {
    for (k, q) in other {
        match into.get(k) {
            Some(mine) if mine >= q => {}
            _ => {
                into.insert(k.clone(), *q);
            }
        }
    }
}

fn pod_usage(pod: &Value) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("count/pods".into(), Quantity::count(1));
    if !pod_counts(pod) {
        return out;
    }
    super::add(
        &out,
        &compute_usage(
            &pod_resources(pod, "requests"),
            &pod_resources(pod, "limits"),
        ),
    )
}

fn pod_matches_scope(selector: &ScopeSelector, pod: &Value) -> bool {
    let s = |p: &str| crate::controllers::str_at(pod, p);
    let terminating = pod
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|d| d >= 0);
    let best_effort = crate::registry::core::pods::qos_class(pod) == "BestEffort";
    match selector.scope.as_str() {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => {
            let class = s("/spec/priorityClassName");
            match selector.operator.as_str() {
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                "In" => !class.is_empty() && selector.values.iter().any(|v| v == class),
                "NotIn" => class.is_empty() || !selector.values.iter().any(|v| v == class),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => cross_namespace_affinity(pod),
        _ => false,
    }
}

/// Whether a pod (anti-)affinity term names namespaces or selects them.
fn cross_namespace_affinity(pod: &Value) -> bool {
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(a) = pod.pointer(&format!("/spec/affinity/{kind}")) else {
            return false;
        };
        let required = a
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let preferred = a
            .get("preferredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("podAffinityTerm"));
        required.chain(preferred).any(|term| {
            term.get("namespaces")
                .and_then(Value::as_array)
                .is_some_and(|n| !n.is_empty())
                || term.get("namespaceSelector").is_some_and(|n| !n.is_null())
        })
    })
}

fn service_usage(svc: &Value) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("count/services".into(), Quantity::count(1));
    out.insert("services".into(), Quantity::count(1));
    out.insert("services.loadbalancers".into(), Quantity::count(0));
    out.insert("services.nodeports".into(), Quantity::count(0));
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    match crate::controllers::str_at(svc, "/spec/type") {
        "NodePort" => {
            out.insert(
                "services.nodeports".into(),
                Quantity::count(ports.len() as i64),
            );
        }
        "LoadBalancer" => {
            let allocate = svc
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false);
            let n = if allocate {
                ports.len()
            } else {
                ports
                    .iter()
                    .filter(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0)
                    .count()
            };
            out.insert("services.nodeports".into(), Quantity::count(n as i64));
            out.insert("services.loadbalancers".into(), Quantity::count(1));
        }
        _ => {}
    }
    out
}

/// The claim's StorageClass: `spec.storageClassName`, or the beta annotation.
fn claim_class(pvc: &Value) -> &str {
    pvc.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .unwrap_or_else(|| crate::controllers::str_at(pvc, "/spec/storageClassName"))
}

fn claim_usage(pvc: &Value) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("persistentvolumeclaims".into(), Quantity::count(1));
    out.insert("count/persistentvolumeclaims".into(), Quantity::count(1));
    let class = claim_class(pvc);
    if !class.is_empty() {
        out.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            Quantity::count(1),
        );
    }
    let requested = super::list_at(pvc, "/spec/resources/requests")
        .get("storage")
        .copied();
    let allocated = super::list_at(pvc, "/status/allocatedResources")
        .get("storage")
        .copied();
    // What the claim was allocated counts when it is more than it asks for now (a shrink
    // that failed), as upstream's `getStorageUsage`.
    let storage = match (requested, allocated) {
        (Some(r), Some(a)) if a > r => Some(a),
        (Some(r), _) => Some(r),
        (None, a) => a,
    };
    if let Some(q) = storage {
        out.insert("requests.storage".into(), q);
        if !class.is_empty() {
            out.insert(format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"), q);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &ResourceList) -> String {
        super::super::pretty_print(list)
    }

    #[test]
    fn pods_sum_containers_and_take_the_largest_init_container() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "128Mi"}}}
            ],
            "initContainers": [
                {"name": "i", "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}
            ]
        }});
        assert_eq!(
            names(&pod_usage(&pod)),
            "count/pods=1,cpu=1,limits.cpu=200m,memory=256Mi,pods=1,requests.cpu=1,requests.memory=256Mi"
        );
        let done = json!({"spec": pod["spec"], "status": {"phase": "Succeeded"}});
        assert_eq!(names(&pod_usage(&done)), "count/pods=1");
    }

    #[test]
    fn pods_must_state_what_a_quota_tracks() {
        let ev = Evaluator::for_resource("", "pods");
        let pod = json!({"spec": {"containers": [
            {"name": "nginx"},
            {"name": "side", "resources": {"requests": {"cpu": "1"}}}
        ]}});
        let required = [
            "requests.cpu".to_string(),
            "limits.cpu".into(),
            "pods".into(),
        ];
        assert_eq!(
            ev.constraints(&required, &pod),
            Err("must specify limits.cpu for: nginx,side; requests.cpu for: nginx".into())
        );
    }

    #[test]
    fn services_count_node_ports_and_load_balancers() {
        let svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            names(&service_usage(&svc)),
            "count/services=1,services=1,services.loadbalancers=1,services.nodeports=2"
        );
    }

    #[test]
    fn claims_count_storage_per_class() {
        let pvc = json!({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1Gi"}}}});
        assert_eq!(
            names(&claim_usage(&pvc)),
            "count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/requests.storage=1Gi,persistentvolumeclaims=1,requests.storage=1Gi"
        );
        assert_eq!(
            resources_counting("gold.storageclass.storage.k8s.io/requests.storage"),
            vec![(String::new(), "persistentvolumeclaims".to_string())]
        );
        assert_eq!(
            resources_counting("count/deployments.apps"),
            vec![("apps".to_string(), "deployments".to_string())]
        );
    }

    #[test]
    fn pod_scopes() {
        let be = json!({"spec": {"containers": [{"name": "c"}]}});
        let sel = |scope: &str, op: &str, values: &[&str]| ScopeSelector {
            scope: scope.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(pod_matches_scope(&sel("BestEffort", "Exists", &[]), &be));
        assert!(!pod_matches_scope(
            &sel("NotBestEffort", "Exists", &[]),
            &be
        ));
        assert!(pod_matches_scope(
            &sel("NotTerminating", "Exists", &[]),
            &be
        ));
        let high = json!({"spec": {"priorityClassName": "high", "activeDeadlineSeconds": 5}});
        assert!(pod_matches_scope(&sel("Terminating", "Exists", &[]), &high));
        assert!(pod_matches_scope(
            &sel("PriorityClass", "In", &["high"]),
            &high
        ));
        assert!(!pod_matches_scope(
            &sel("PriorityClass", "NotIn", &["high"]),
            &high
        ));
        assert!(pod_matches_scope(
            &sel("PriorityClass", "DoesNotExist", &[]),
            &be
        ));
        assert!(pod_matches_scope(
            &sel("PriorityClass", "NotIn", &["high"]),
            &be
        ));
    }
}
