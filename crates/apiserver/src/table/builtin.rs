//! The columns kubectl shows for built-in types against a real cluster (upstream's
//! `pkg/printers/internalversion`), rendered server-side.

use super::{Column, TableConvertor, age, age_column, name_column, name_of, translate_timestamp};
use serde_json::{Value, json};

/// A table defined by two functions: its columns and one object's cells.
#[derive(Clone, Copy)]
pub struct Printer {
    columns: fn() -> Vec<Column>,
    cells: fn(&Value, jiff::Timestamp) -> Vec<Value>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").finish_non_exhaustive()
    }
}

impl TableConvertor for Printer {
    fn columns(&self) -> Vec<Column> {
        (self.columns)()
    }
    fn cells(&self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        (self.cells)(obj, now)
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn len(v: &Value, pointer: &str) -> usize {
    match v.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn col(name: &str, type_: &str, priority: i32) -> Column {
    Column::new(name, type_, priority, "")
}

fn none_if_empty(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    } else if let Some(m) = sel
        .as_object()
        .filter(|m| !m.contains_key("matchExpressions"))
    {
        parts.extend(
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))),
        );
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = s(e, "/key");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match s(e, "/operator") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    none_if_empty(parts.join(","))
}

fn containers_and_images(obj: &Value, pointer: &str) -> (String, String) {
    let cs = obj
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// Namespace: NAME STATUS AGE.
pub const NAMESPACE: Printer = Printer {
    columns: || vec![name_column(), col("Status", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/status/phase")),
            json!(age(o, now)),
        ]
    },
};

/// ConfigMap: NAME DATA AGE.
pub const CONFIG_MAP: Printer = Printer {
    columns: || vec![name_column(), col("Data", "integer", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/data") + len(o, "/binaryData")),
            json!(age(o, now)),
        ]
    },
};

/// Secret: NAME TYPE DATA AGE.
pub const SECRET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Type", "string", 0),
            col("Data", "integer", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        let t = match s(o, "/type") {
            "" => "Opaque",
            t => t,
        };
        vec![
            json!(name_of(o)),
            json!(t),
            json!(len(o, "/data") + len(o, "/stringData")),
            json!(age(o, now)),
        ]
    },
};

fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return "Terminating".into();
    }
    let mut reason = match s(o, "/status/reason") {
        "" => s(o, "/status/phase").to_string(),
        r => r.to_string(),
    };
    if let Some(statuses) = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for c in statuses.iter().rev() {
            if let Some(w) = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = w.to_string();
            } else if let Some(t) = c
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = t.to_string();
            }
        }
    }
    if reason.is_empty() {
        "Unknown".into()
    } else {
        reason
    }
}

/// Pod: NAME READY STATUS RESTARTS AGE (IP NODE NOMINATED NODE READINESS GATES wide).
pub const POD: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            age_column(),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ]
    },
    cells: |o, now| {
        let total = len(o, "/spec/containers");
        let statuses = o
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ready = statuses
            .iter()
            .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
            .count();
        let restarts: i64 = statuses
            .iter()
            .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
            .sum();
        let gates = match len(o, "/spec/readinessGates") {
            0 => "<none>".to_string(),
            g => format!("0/{g}"),
        };
        vec![
            json!(name_of(o)),
            json!(format!("{ready}/{total}")),
            json!(pod_status(o)),
            json!(restarts.to_string()),
            json!(age(o, now)),
            json!(none_if_empty(s(o, "/status/podIP").to_string())),
            json!(none_if_empty(s(o, "/spec/nodeName").to_string())),
            json!(none_if_empty(s(o, "/status/nominatedNodeName").to_string())),
            json!(gates),
        ]
    },
};

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
pub const SERVICE: Printer = Printer {
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

/// Endpoints: NAME ENDPOINTS AGE.
pub const ENDPOINTS: Printer = Printer {
    columns: || vec![name_column(), col("Endpoints", "string", 0), age_column()],
    cells: |o, now| {
        let mut eps = Vec::new();
        for subset in o
            .pointer("/subsets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let ports: Vec<i64> = subset
                .get("ports")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|p| n(p, "/port")).collect())
                .unwrap_or_default();
            for addr in subset
                .get("addresses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                if ports.is_empty() {
                    eps.push(s(&addr, "/ip").to_string());
                }
                for p in &ports {
                    eps.push(format!("{}:{p}", s(&addr, "/ip")));
                }
            }
        }
        vec![
            json!(name_of(o)),
            json!(none_if_empty(eps.join(","))),
            json!(age(o, now)),
        ]
    },
};

fn event_object(o: &Value, regarding: &str) -> String {
    let kind = s(o, &format!("/{regarding}/kind")).to_lowercase();
    match s(o, &format!("/{regarding}/name")) {
        "" => kind,
        name => format!("{kind}/{name}"),
    }
}

/// The first of `pointers` holding a timestamp.
fn first_time<'a>(o: &'a Value, pointers: &[&str]) -> Option<&'a Value> {
    pointers.iter().find_map(|p| {
        o.pointer(p)
            .filter(|v| v.as_str().is_some_and(|t| !t.is_empty()))
    })
}

/// When an event was first seen: firstTimestamp, else eventTime (events.k8s.io/v1 names the
/// former deprecatedFirstTimestamp), as upstream's printer.
fn event_first_seen(o: &Value) -> Option<&Value> {
    first_time(
        o,
        &["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"],
    )
}

/// When an event was last seen: its series' last observation, else lastTimestamp, else when it
/// was first seen; `<unknown>` without any of them, as upstream's printer.
fn event_last_seen(o: &Value, now: jiff::Timestamp) -> String {
    let last = first_time(
        o,
        &[
            "/series/lastObservedTime",
            "/lastTimestamp",
            "/deprecatedLastTimestamp",
        ],
    )
    .or_else(|| event_first_seen(o));
    translate_timestamp(last, now)
}

/// core/v1 and events.k8s.io/v1 Event: LAST SEEN TYPE REASON OBJECT MESSAGE.
pub const EVENT: Printer = Printer {
    columns: || {
        vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "string", 1),
            Column::new("Name", "string", 1, ""),
        ]
    },
    cells: |o, now| {
        let regarding = if o.get("regarding").is_some() {
            "regarding"
        } else {
            "involvedObject"
        };
        let message = if o.get("note").is_some() {
            s(o, "/note")
        } else {
            s(o, "/message")
        };
        let source = match s(o, "/source/component") {
            "" => s(o, "/reportingController").to_string(),
            c => c.to_string(),
        };
        // A series counts the event; singletons of the new API carry no count (shown as 1).
        let count = ["/series/count", "/count", "/deprecatedCount"]
            .iter()
            .find_map(|p| o.pointer(p).and_then(Value::as_i64).filter(|c| *c != 0))
            .unwrap_or(1);
        vec![
            json!(event_last_seen(o, now)),
            json!(s(o, "/type")),
            json!(s(o, "/reason")),
            json!(event_object(o, regarding)),
            json!(s(o, &format!("/{regarding}/fieldPath"))),
            json!(source),
            json!(message.trim()),
            json!(translate_timestamp(event_first_seen(o), now)),
            json!(count.to_string()),
            json!(name_of(o)),
        ]
    },
};

/// ServiceAccount: NAME SECRETS AGE.
pub const SERVICE_ACCOUNT: Printer = Printer {
    columns: || vec![name_column(), col("Secrets", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/secrets").to_string()),
            json!(age(o, now)),
        ]
    },
};

/// Node: NAME STATUS ROLES AGE VERSION (INTERNAL-IP … wide).
pub const NODE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Status", "string", 0),
            col("Roles", "string", 0),
            age_column(),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("External-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Kernel-Version", "string", 1),
            col("Container-Runtime", "string", 1),
        ]
    },
    cells: |o, now| {
        let conditions = o
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut status = match conditions
            .iter()
            .find(|c| s(c, "/type") == "Ready")
            .map(|c| s(c, "/status"))
        {
            Some("True") => "Ready".to_string(),
            Some(_) => "NotReady".to_string(),
            None => "Unknown".to_string(),
        };
        if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
            status.push_str(",SchedulingDisabled");
        }
        let mut roles: Vec<String> = o
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        roles.sort();
        let addr = |t: &str| {
            o.pointer("/status/addresses")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| s(x, "/type") == t))
                .map(|x| s(x, "/address").to_string())
                .unwrap_or_else(|| "<none>".into())
        };
        vec![
            json!(name_of(o)),
            json!(status),
            json!(none_if_empty(roles.join(","))),
            json!(age(o, now)),
            json!(s(o, "/status/nodeInfo/kubeletVersion")),
            json!(addr("InternalIP")),
            json!(addr("ExternalIP")),
            json!(none_if_empty(s(o, "/status/nodeInfo/osImage").to_string())),
            json!(none_if_empty(
                s(o, "/status/nodeInfo/kernelVersion").to_string()
            )),
            json!(none_if_empty(
                s(o, "/status/nodeInfo/containerRuntimeVersion").to_string()
            )),
        ]
    },
};

/// Deployment: NAME READY UP-TO-DATE AVAILABLE AGE (CONTAINERS IMAGES SELECTOR wide).
pub const DEPLOYMENT: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ]
    },
    cells: |o, now| {
        let desired = o
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let (c, i) = containers_and_images(o, "/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
            json!(n(o, "/status/updatedReplicas")),
            json!(n(o, "/status/availableReplicas")),
            json!(age(o, now)),
            json!(c),
            json!(i),
            json!(selector_string(o.pointer("/spec/selector"))),
        ]
    },
};

/// ReplicaSet: NAME DESIRED CURRENT READY AGE (CONTAINERS IMAGES SELECTOR wide).
pub const REPLICA_SET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ]
    },
    cells: |o, now| {
        let (c, i) = containers_and_images(o, "/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(
                o.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            ),
            json!(n(o, "/status/replicas")),
            json!(n(o, "/status/readyReplicas")),
            json!(age(o, now)),
            json!(c),
            json!(i),
            json!(selector_string(o.pointer("/spec/selector"))),
        ]
    },
};

/// Lease: NAME HOLDER AGE.
pub const LEASE: Printer = Printer {
    columns: || vec![name_column(), col("Holder", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/holderIdentity")),
            json!(age(o, now)),
        ]
    },
};

/// Role, ClusterRole and CustomResourceDefinition: NAME CREATED AT.
pub const CREATED_AT: Printer = Printer {
    columns: || vec![name_column(), Column::new("Created At", "date", 0, "")],
    cells: |o, _| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/metadata/creationTimestamp")),
        ]
    },
};

fn subjects(o: &Value, kind: &str) -> String {
    let list: Vec<String> = o
        .pointer("/subjects")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| s(x, "/kind") == kind)
                .map(|x| {
                    if kind == "ServiceAccount" {
                        format!("{}/{}", s(x, "/namespace"), s(x, "/name"))
                    } else {
                        s(x, "/name").to_string()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    list.join(", ")
}

/// RoleBinding and ClusterRoleBinding: NAME ROLE AGE (USERS GROUPS SERVICEACCOUNTS wide).
pub const BINDING: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Role", "string", 0),
            age_column(),
            col("Users", "string", 1),
            col("Groups", "string", 1),
            col("ServiceAccounts", "string", 1),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(format!(
                "{}/{}",
                s(o, "/roleRef/kind"),
                s(o, "/roleRef/name")
            )),
            json!(age(o, now)),
            json!(subjects(o, "User")),
            json!(subjects(o, "Group")),
            json!(subjects(o, "ServiceAccount")),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_and_pod_rows() {
        let now: jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("time");
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert_eq!(
            DEPLOYMENT.cells(&d, now),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("60m"),
                json!("nginx"),
                json!("nginx:1"),
                json!("app=web")
            ]
        );
        let p = json!({"metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:59:30Z"},
            "spec": {"containers": [{"name": "a"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{"ready": true, "restartCount": 2}]}});
        let cells = POD.cells(&p, now);
        assert_eq!(
            &cells[..5],
            &[
                json!("p"),
                json!("1/1"),
                json!("Running"),
                json!("2"),
                json!("30s")
            ]
        );
        assert_eq!(cells[6], json!("n1"));
    }

    #[test]
    fn service_ports_and_secret() {
        let now = jiff::Timestamp::now();
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
        let cells = SERVICE.cells(&svc, now);
        assert_eq!(cells[1], json!("NodePort"));
        assert_eq!(cells[3], json!("<none>"));
        assert_eq!(cells[4], json!("80:30080/TCP,53/UDP"));
        assert_eq!(
            SECRET.cells(
                &json!({"metadata": {"name": "x"}, "data": {"a": "", "b": ""}}),
                now
            )[1..3],
            [json!("Opaque"), json!(2)]
        );
    }
}
