//! Pod defaulting as kube-apiserver's core/v1 scheme does it (`SetDefaults_PodSpec`,
//! `SetDefaults_Container`, `SetDefaults_Volume`, `SetDefaults_Probe`, ... and `SetDefaults_Pod`
//! for a Pod's own spec), so what a client reads back after a create is what a real cluster
//! shows, and applying the same manifest again changes nothing.
//!
//! [`default_pod_spec`] is what every pod spec gets, a workload's pod template included;
//! [`default_pod`] adds what only a Pod gets (requests from limits, `enableServiceLinks`,
//! host ports under `hostNetwork`). Quantities are kept as written (upstream also rounds them
//! up to milli scale and prints them canonically).

use serde_json::{Map, Value, json};

/// `terminationGracePeriodSeconds` when a pod leaves it unset.
pub(crate) const DEFAULT_GRACE_PERIOD: i64 = 30;

/// The permission bits secret, configMap, downwardAPI and projected volumes default to (0644).
const DEFAULT_MODE: i64 = 0o644;

/// Sets `field` of `map` to `value` unless it holds something other than null or `""`
/// (upstream's `if obj.X == ""` / `if obj.X == nil`).
fn or_default(map: &mut Map<String, Value>, field: &str, value: Value) {
    match map.get(field) {
        Some(v) if !v.is_null() && v.as_str() != Some("") => {}
        _ => {
            map.insert(field.into(), value);
        }
    }
}

/// Sets an integer `field` of `map` to `value` when it is unset or 0 (upstream's `== 0` checks
/// on non-pointer integers).
fn or_default_nonzero(map: &mut Map<String, Value>, field: &str, value: i64) {
    if map.get(field).and_then(Value::as_i64).unwrap_or(0) == 0 {
        map.insert(field.into(), json!(value));
    }
}

/// The objects of the list at `field` of `map`.
fn items_mut<'a>(
    map: &'a mut Map<String, Value>,
    field: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The object at `field` of `map`, if it is one.
fn object_mut<'a>(
    map: &'a mut Map<String, Value>,
    field: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(field).and_then(Value::as_object_mut)
}

/// `SetDefaults_PodSpec` and the defaults of everything a pod spec holds (containers, volumes,
/// probes, field references): what the pod template of a workload gets too.
pub(crate) fn default_pod_spec(spec: &mut Map<String, Value>) {
    or_default(spec, "dnsPolicy", json!("ClusterFirst"));
    or_default(spec, "restartPolicy", json!("Always"));
    if spec.get("securityContext").is_none_or(Value::is_null) {
        spec.insert("securityContext".into(), json!({}));
    }
    if spec
        .get("terminationGracePeriodSeconds")
        .is_none_or(Value::is_null)
    {
        spec.insert(
            "terminationGracePeriodSeconds".into(),
            json!(DEFAULT_GRACE_PERIOD),
        );
    }
    or_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for container in items_mut(spec, list) {
            default_container(container);
        }
    }
    for volume in items_mut(spec, "volumes") {
        default_volume(volume);
    }
}

/// What only a Pod's own spec gets (`SetDefaults_Pod`): requests default to limits for each
/// resource a container limits but does not request, `enableServiceLinks` is true, and under
/// `hostNetwork` every container port is also a host port. Then [`default_pod_spec`].
pub(crate) fn default_pod(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        for container in items_mut(spec, list) {
            requests_from_limits(container);
        }
    }
    if spec.get("enableServiceLinks").is_none_or(Value::is_null) {
        spec.insert("enableServiceLinks".into(), json!(true));
    }
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for container in items_mut(spec, list) {
                for port in items_mut(container, "ports") {
                    if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                        && let Some(p) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".into(), p);
                    }
                }
            }
        }
    }
    default_pod_spec(spec);
}

/// A container's `resources.requests` gets each of its `resources.limits` it does not have.
pub(crate) fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = object_mut(container, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let requests = resources.entry("requests").or_insert_with(|| json!({}));
    if !requests.is_object() {
        *requests = json!({});
    }
    if let Some(requests) = requests.as_object_mut() {
        for (name, quantity) in limits {
            requests.entry(name).or_insert(quantity);
        }
    }
}

/// `SetDefaults_Container` (also for init and ephemeral containers), with the defaults of its
/// ports, environment and probes.
fn default_container(c: &mut Map<String, Value>) {
    if c.get("imagePullPolicy")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        c.insert("imagePullPolicy".into(), json!(pull_policy(image)));
    }
    or_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    or_default(c, "terminationMessagePolicy", json!("File"));
    for port in items_mut(c, "ports") {
        or_default(port, "protocol", json!("TCP"));
    }
    for env in items_mut(c, "env") {
        if let Some(field_ref) =
            object_mut(env, "valueFrom").and_then(|v| object_mut(v, "fieldRef"))
        {
            or_default(field_ref, "apiVersion", json!("v1"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = object_mut(c, probe) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = object_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(http) = object_mut(lifecycle, hook).and_then(|h| object_mut(h, "httpGet")) {
                default_http_get(http);
            }
        }
    }
}

/// `SetDefaults_Probe`, and the defaults of its handler.
fn default_probe(probe: &mut Map<String, Value>) {
    or_default_nonzero(probe, "timeoutSeconds", 1);
    or_default_nonzero(probe, "periodSeconds", 10);
    or_default_nonzero(probe, "successThreshold", 1);
    or_default_nonzero(probe, "failureThreshold", 3);
    if let Some(http) = object_mut(probe, "httpGet") {
        default_http_get(http);
    }
    if let Some(grpc) = object_mut(probe, "grpc")
        && grpc.get("service").is_none_or(Value::is_null)
    {
        grpc.insert("service".into(), json!(""));
    }
}

/// `SetDefaults_HTTPGetAction`: path `/`, scheme `HTTP`.
fn default_http_get(http: &mut Map<String, Value>) {
    or_default(http, "path", json!("/"));
    or_default(http, "scheme", json!("HTTP"));
}

/// `SetDefaults_Volume` (a volume without a source is an `emptyDir`) and the defaults of its
/// source.
fn default_volume(v: &mut Map<String, Value>) {
    if v.iter().all(|(k, val)| k == "name" || val.is_null()) {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = object_mut(v, source)
            && s.get("defaultMode").is_none_or(Value::is_null)
        {
            s.insert("defaultMode".into(), json!(DEFAULT_MODE));
        }
    }
    if let Some(d) = object_mut(v, "downwardAPI") {
        default_downward_items(d);
    }
    if let Some(p) = object_mut(v, "projected") {
        for source in items_mut(p, "sources") {
            if let Some(d) = object_mut(source, "downwardAPI") {
                default_downward_items(d);
            }
            if let Some(t) = object_mut(source, "serviceAccountToken")
                && t.get("expirationSeconds").is_none_or(Value::is_null)
            {
                t.insert("expirationSeconds".into(), json!(3600));
            }
        }
    }
    if let Some(h) = object_mut(v, "hostPath")
        && h.get("type").is_none_or(Value::is_null)
    {
        h.insert("type".into(), json!(""));
    }
    // The declarative (`+default=`) defaults of the remaining sources.
    for (source, field, value) in [
        ("iscsi", "iscsiInterface", json!("default")),
        ("rbd", "pool", json!("rbd")),
        ("rbd", "user", json!("admin")),
        ("rbd", "keyring", json!("/etc/ceph/keyring")),
        ("azureDisk", "cachingMode", json!("ReadWrite")),
        ("azureDisk", "fsType", json!("ext4")),
        ("azureDisk", "readOnly", json!(false)),
        ("azureDisk", "kind", json!("Shared")),
        ("scaleIO", "storageMode", json!("ThinProvisioned")),
        ("scaleIO", "fsType", json!("xfs")),
    ] {
        if let Some(s) = object_mut(v, source)
            && s.get(field).is_none_or(Value::is_null)
        {
            s.insert(field.into(), value);
        }
    }
}

/// The `fieldRef`s of a downward API source's items name `v1` when they name no version.
fn default_downward_items(d: &mut Map<String, Value>) {
    for item in items_mut(d, "items") {
        if let Some(field_ref) = object_mut(item, "fieldRef") {
            or_default(field_ref, "apiVersion", json!("v1"));
        }
    }
}

/// The pull policy of a container that names none: `Always` when its image's tag is `latest`
/// (or it has neither tag nor digest, which means `latest`), else `IfNotPresent` (a digest, any
/// other tag, or an image reference that does not parse).
pub(crate) fn pull_policy(image: &str) -> &'static str {
    match image_tag(image) {
        Some("latest") => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag an image reference pulls, as the container runtime reads it (`docker.io/library/
/// nginx` is `nginx:latest`); `None` for a digest-only reference or one that does not parse.
fn image_tag(image: &str) -> Option<&str> {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    // The tag follows the last `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_and_tag[..last_slash + i],
            Some(&name_and_tag[last_slash + i + 1..]),
        ),
        None => (name_and_tag, None),
    };
    if !valid_name(name) || tag.is_some_and(|t| !valid_tag(t)) {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) => Some(t),
        (None, None) => Some("latest"),
        (None, Some(_)) => None,
    }
}

/// A repository name: an optional registry host (with a `.` or `:`, or `localhost`), then
/// lowercase path components separated by `.`, `_`, `__` or dashes.
fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let host = parts[0];
        if host.contains('.')
            || host.contains(':')
            || host == "localhost"
            || host.chars().any(|c| c.is_ascii_uppercase())
        {
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !host_ok {
                return false;
            }
            parts.remove(0);
        }
    }
    parts.iter().all(|p| valid_path_component(p))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn valid_path_component(p: &str) -> bool {
    let bytes = p.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    t.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn valid_digest(d: &str) -> bool {
    d.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-'))
            && hex.len() >= 32
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        let sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("docker.io/library/nginx", "Always"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v2", "IfNotPresent"),
            ("registry.example.com:443/team/app:latest", "Always"),
            (&format!("nginx@{sha}"), "IfNotPresent"),
            (&format!("nginx:latest@{sha}"), "Always"),
            (&format!("nginx:1.25@{sha}"), "IfNotPresent"),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("nginx@sha256:short", "IfNotPresent"),
            ("nginx:-bad", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy(image), policy, "image {image:?}");
        }
    }

    #[test]
    fn a_minimal_pod_gets_every_default() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
                "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "host", "hostPath": {"path": "/x"}},
                {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}},
                    {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]
        }});
        default_pod(&mut pod);
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}],
                    "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "readinessProbe": {"grpc": {"port": 9000, "service": ""}, "periodSeconds": 5,
                        "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                    "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi", "cpu": "1"}},
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
                "volumes": [{"name": "scratch", "emptyDir": {}},
                    {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
                    {"name": "host", "hostPath": {"path": "/x", "type": ""}},
                    {"name": "p", "projected": {"defaultMode": 420, "sources": [
                        {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}},
                        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace", "apiVersion": "v1"}}]}}]}}],
                "enableServiceLinks": true,
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
                "schedulerName": "default-scheduler"
            })
        );
    }

    #[test]
    fn given_values_are_kept() {
        let spec = json!({
            "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never",
                "terminationMessagePath": "/tmp/t", "terminationMessagePolicy": "FallbackToLogsOnError",
                "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
            "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsUser": 1000}, "schedulerName": "mine", "enableServiceLinks": false
        });
        let mut pod = json!({"spec": spec.clone()});
        default_pod(&mut pod);
        assert_eq!(pod["spec"], spec);
    }

    #[test]
    fn templates_do_not_get_the_pod_only_defaults() {
        let mut spec = json!({"hostNetwork": true, "containers": [{"name": "c", "image": "x:1",
            "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": "1"}}}]});
        default_pod_spec(spec.as_object_mut().expect("object"));
        assert_eq!(spec.get("enableServiceLinks"), None);
        assert_eq!(
            spec["containers"][0]["resources"],
            json!({"limits": {"cpu": "1"}})
        );
        assert_eq!(spec["containers"][0]["ports"][0].get("hostPort"), None);
        let mut pod = json!({"spec": spec});
        default_pod(&mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["ports"][0]["hostPort"],
            json!(8080)
        );
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "1"})
        );
    }
}
