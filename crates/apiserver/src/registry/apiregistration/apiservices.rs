//! APIServices (apiregistration.k8s.io/v1): the group versions the server serves, as kube-apiserver's
//! aggregator lists them (`kubectl get apiservices`). Every one is `Local` (served by this server;
//! there is no aggregation to other servers here), so the resource is read-only: the server's
//! `controllers/apiservices.rs` keeps one per served group version, built-in and from CRDs.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use serde_json::{Value, json};

/// `apiservices`.
pub(crate) fn resource() -> ResourceType {
    entry("apiservices", "apiservice", false)
        .categories(&["api-extensions"])
        .status()
        .read_only()
        .build::<APIService>(
            crate::strategy::Typed::<APIService>::new()
                .names(NameRule::PathSegment)
                .validated_by(validate)
                .printer(&API_SERVICE),
        )
}

/// Upstream's APIService rules that the server's own writes must keep too: the name is
/// `<spec.version>.<spec.group>`, only `v1` has the empty (core) group, and the priorities are in
/// range.
fn validate(o: &Value) -> Vec<FieldCause> {
    let (group, version) = (s(o, "/spec/group"), s(o, "/spec/version"));
    let required = name_for(group, version);
    let mut causes = Vec::new();
    let name = s(o, "/metadata/name");
    if name != required {
        causes.push(FieldCause::invalid(
            "metadata.name",
            &json!(name),
            format!("must be `spec.version+\".\"+spec.group`: {required:?}"),
        ));
    }
    if group.is_empty() && version != "v1" {
        causes.push(FieldCause::invalid(
            "spec.group",
            &json!(group),
            "only v1 may have an empty group and it better be legacy kube",
        ));
    }
    if version.is_empty() {
        causes.push(FieldCause::required("spec.version", ""));
    }
    let priority = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let group_priority = priority("/spec/groupPriorityMinimum");
    if !(1..=20000).contains(&group_priority) {
        causes.push(FieldCause::invalid(
            "spec.groupPriorityMinimum",
            &json!(group_priority),
            "must be positive and less than 20000",
        ));
    }
    let version_priority = priority("/spec/versionPriority");
    if !(1..=1000).contains(&version_priority) {
        causes.push(FieldCause::invalid(
            "spec.versionPriority",
            &json!(version_priority),
            "must be positive and less than 1000",
        ));
    }
    causes
}

/// The label that marks an APIService the server manages: `onstart` for the built-in group
/// versions (upstream's autoregister controller), `true` for the CRDs' (kept continuously).
pub(crate) const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// Where kube-apiserver 1.33 places a built-in group version (upstream's APIService priorities:
/// `groupPriorityMinimum`, `versionPriority`); None for a group version it does not list.
pub(crate) fn builtin_priority(group: &str, version: &str) -> Option<(i64, i64)> {
    Some(match (group, version) {
        ("", "v1") => (18000, 1),
        ("apps", "v1") => (17800, 15),
        ("events.k8s.io", "v1") => (17750, 15),
        ("authentication.k8s.io", "v1") => (17700, 15),
        ("authorization.k8s.io", "v1") => (17600, 15),
        ("autoscaling", "v1") => (17500, 15),
        ("autoscaling", "v2") => (17500, 30),
        ("batch", "v1") => (17400, 15),
        ("certificates.k8s.io", "v1") => (17300, 15),
        ("networking.k8s.io", "v1") => (17200, 15),
        ("policy", "v1") => (17100, 15),
        ("rbac.authorization.k8s.io", "v1") => (17000, 15),
        ("storage.k8s.io", "v1") => (16800, 15),
        ("apiextensions.k8s.io", "v1") => (16700, 15),
        ("admissionregistration.k8s.io", "v1") => (16700, 15),
        ("scheduling.k8s.io", "v1") => (16600, 15),
        ("coordination.k8s.io", "v1") => (16500, 15),
        ("node.k8s.io", "v1") => (16300, 15),
        ("discovery.k8s.io", "v1") => (16200, 15),
        ("flowcontrol.apiserver.k8s.io", "v1") => (16100, 21),
        _ => return None,
    })
}

/// The priorities upstream's CRD registration gives every CRD's group version.
pub(crate) const CRD_PRIORITY: (i64, i64) = (1000, 100);

/// The name of the APIService of a group version: `<version>.<group>` (`v1.` for the core group).
pub(crate) fn name_for(group: &str, version: &str) -> String {
    format!("{version}.{group}")
}

/// The APIService of a group version served by this server, at `priority`, labelled `managed`
/// ([`AUTOMANAGED`]'s value), Available since `now`.
pub(crate) fn local(
    group: &str,
    version: &str,
    priority: (i64, i64),
    managed: &str,
    now: &str,
) -> Value {
    let mut spec = json!({
        "version": version,
        "groupPriorityMinimum": priority.0,
        "versionPriority": priority.1,
    });
    if !group.is_empty() {
        spec["group"] = json!(group);
    }
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name_for(group, version), "labels": {AUTOMANAGED: managed}},
        "spec": spec,
        "status": {"conditions": [{
            "type": "Available",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "Local",
            "message": "Local APIServices are always available",
        }]},
    })
}

/// The SERVICE column: `Local`, or the Service's `namespace/name`.
fn service(o: &Value) -> String {
    match o.pointer("/spec/service") {
        Some(svc) if svc.is_object() => format!("{}/{}", s(svc, "/namespace"), s(svc, "/name")),
        _ => "Local".to_string(),
    }
}

/// The AVAILABLE column: the Available condition's status, with its reason unless True.
fn available(o: &Value) -> String {
    let condition = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| s(c, "/type") == "Available"));
    match condition {
        None => "Unknown".to_string(),
        Some(c) if s(c, "/status") == "True" => "True".to_string(),
        Some(c) => format!("{} ({})", s(c, "/status"), s(c, "/reason")),
    }
}

/// APIService: NAME SERVICE AVAILABLE AGE.
pub(crate) const API_SERVICE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Service", "string", 0),
            col("Available", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(service(o)),
            json!(available(o)),
            json!(age(o, now)),
        ]
    },
};
