//! `pods/ephemeralcontainers` (upstream's `EphemeralContainersStrategy`): a write through it
//! changes only `spec.ephemeralContainers` of the stored pod, and is checked as
//! `ValidatePodEphemeralContainersUpdate` checks it: the pod spec rules, the ephemeral
//! container rules (`validateEphemeralContainers`: a name unique across all of the pod's
//! containers, an existing target container, none of the fields an ephemeral container may not
//! have), no ephemeral containers on a static pod, and existing ephemeral containers neither
//! removed nor changed. Pods are created without them (`cannot be set on create`).

use crate::status::FieldCause;
use crate::validation::dns1123_label_problems;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The name of this subresource.
pub(crate) const EPHEMERAL_CONTAINERS: &str = "ephemeralcontainers";

/// The annotation that marks a mirror pod (a static pod's copy in the API).
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// What upstream says of a field an ephemeral container may not have.
const NOT_FOR_EPHEMERAL: &str = "cannot be set for an Ephemeral Container";

/// The fields of `EphemeralContainerCommon` upstream's allow list leaves out, in the struct's
/// order (the order their errors come in).
const FORBIDDEN_FIELDS: [&str; 8] = [
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
];

/// The pod a write through `pods/ephemeralcontainers` makes of the stored `old` and the sent
/// `new` (upstream's `dropNonEphemeralContainerUpdates`): the stored pod, metadata and status
/// included, with the sent ephemeral containers.
pub(crate) fn through(old: &Value, new: &Value) -> Value {
    let mut next = old.clone();
    let sent = new
        .pointer("/spec/ephemeralContainers")
        .filter(|v| !v.is_null())
        .cloned();
    if !next.get("spec").is_some_and(Value::is_object) {
        next["spec"] = json!({});
    }
    if let Some(spec) = next["spec"].as_object_mut() {
        match sent {
            Some(list) => spec.insert("ephemeralContainers".into(), list),
            None => spec.remove("ephemeralContainers"),
        };
    }
    next
}

/// Upstream's `ValidatePodCreate` part for ephemeral containers: none on create.
pub(crate) fn create_causes(pod: &Value) -> Vec<FieldCause> {
    if items(pod, "ephemeralContainers").is_empty() {
        return Vec::new();
    }
    vec![FieldCause::forbidden(
        "spec.ephemeralContainers",
        "cannot be set on create",
    )]
}

/// The causes refusing a write through `pods/ephemeralcontainers` that makes `new` of `old`
/// (`ValidatePodEphemeralContainersUpdate`), to follow the pod spec rules' causes; `Err` is a
/// refusal that stands alone (a static pod).
pub(crate) fn update_causes(new: &Value, old: &Value) -> Result<Vec<FieldCause>, FieldCause> {
    let mut causes = Vec::new();
    causes.extend(container_causes(new));
    if is_mirror(old) {
        return Err(FieldCause::forbidden(
            "[]",
            "static pods do not support ephemeral containers",
        ));
    }
    // Existing ephemeral containers stay as they are; a patch may reorder them, so each is
    // looked up by name.
    let path = "spec.ephemeralContainers";
    let sent = items(new, "ephemeralContainers");
    for before in items(old, "ephemeralContainers") {
        let name = before.get("name").and_then(Value::as_str).unwrap_or("");
        let now = sent
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str).unwrap_or("") == name);
        match now {
            None => causes.push(FieldCause::forbidden(
                path,
                format!("existing ephemeral containers {name:?} may not be removed\n"),
            )),
            Some(now) => {
                let diff = super::semantic_diff(before, now, "");
                if !diff.is_empty() {
                    causes.push(FieldCause::forbidden(
                        path,
                        format!(
                            "existing ephemeral containers {name:?} may not be changed\n{}",
                            diff.join("\n")
                        ),
                    ));
                }
            }
        }
    }
    Ok(causes)
}

/// `validateEphemeralContainers`: each ephemeral container of `pod` with a valid name unique
/// across all containers, an image, an existing non-ephemeral target, and none of the fields
/// ephemeral containers may not have.
fn container_causes(pod: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let list = items(pod, "ephemeralContainers");
    if list.is_empty() {
        return causes;
    }
    let others: HashSet<&str> = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|l| items(pod, l))
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let mut all = others.clone();
    for (i, c) in list.iter().enumerate() {
        let at = format!("spec.ephemeralContainers[{i}]");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            causes.push(FieldCause::required(format!("{at}.name"), ""));
        } else {
            for p in dns1123_label_problems(name) {
                causes.push(FieldCause::invalid(format!("{at}.name"), &json!(name), p));
            }
        }
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        if image.is_empty() {
            causes.push(FieldCause::required(format!("{at}.image"), ""));
        } else if image.trim() != image {
            causes.push(FieldCause::invalid(
                format!("{at}.image"),
                &json!(image),
                "must not have leading or trailing whitespace",
            ));
        }
        if !all.insert(name) {
            causes.push(FieldCause::duplicate(format!("{at}.name"), &json!(name)));
        }
        let target = c
            .get("targetContainerName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !target.is_empty() && !others.contains(target) {
            let field = format!("{at}.targetContainerName");
            causes.push(FieldCause {
                reason: "FieldValueNotFound",
                message: format!("{field}: Not found: {target:?}"),
                field,
            });
        }
        for field in FORBIDDEN_FIELDS {
            if c.get(field).is_some_and(is_set) {
                causes.push(FieldCause::forbidden(
                    format!("{at}.{field}"),
                    NOT_FOR_EPHEMERAL,
                ));
            }
        }
        let mounts = c.get("volumeMounts").and_then(Value::as_array);
        for (j, mount) in mounts.into_iter().flatten().enumerate() {
            for field in ["subPath", "subPathExpr"] {
                if mount
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                {
                    causes.push(FieldCause::forbidden(
                        format!("{at}.volumeMounts[{j}].{field}"),
                        NOT_FOR_EPHEMERAL,
                    ));
                }
            }
        }
    }
    causes
}

/// Whether a field differs from its Go zero value: not null, and for a struct (`resources`)
/// with some member given.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(m) => m.values().any(|v| !v.is_null()),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The items of the list `field` of `pod`'s spec.
pub(super) fn items<'a>(pod: &'a Value, field: &str) -> &'a [Value] {
    pod.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Whether `pod` is a mirror pod (a static pod's copy in the API).
pub(super) fn is_mirror(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ephemeral: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "app", "image": "nginx"}],
            "ephemeralContainers": ephemeral
        }})
    }

    fn messages(new: &Value, old: &Value) -> Vec<String> {
        update_causes(new, old)
            .unwrap_or_else(|only| vec![only])
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    #[test]
    fn adding_one_passes_and_only_the_list_is_taken() {
        let old = pod(json!([]));
        let mut sent =
            pod(json!([{"name": "dbg", "image": "busybox", "targetContainerName": "app"}]));
        sent["metadata"]["labels"] = json!({"changed": "yes"});
        sent["spec"]["containers"][0]["image"] = json!("other");
        let next = through(&old, &sent);
        assert_eq!(next["metadata"], old["metadata"]);
        assert_eq!(next["spec"]["containers"], old["spec"]["containers"]);
        assert_eq!(next["spec"]["ephemeralContainers"][0]["name"], "dbg");
        assert!(messages(&next, &old).is_empty());
    }

    #[test]
    fn existing_ones_stay_as_they_were() {
        let old = pod(json!([{"name": "dbg", "image": "busybox"}]));
        assert_eq!(
            messages(&pod(json!([])), &old),
            vec![
                "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be removed\n"
            ]
        );
        let changed = messages(&pod(json!([{"name": "dbg", "image": "alpine"}])), &old);
        assert_eq!(changed.len(), 1);
        assert!(
            changed[0].starts_with("spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be changed\n"),
            "{changed:?}"
        );
    }

    #[test]
    fn ephemeral_container_rules() {
        let old = pod(json!([]));
        let new = pod(json!([
            {"name": "app", "image": "busybox"},
            {"name": "dbg", "image": "busybox", "targetContainerName": "nope",
             "ports": [{"containerPort": 80}], "resources": {"requests": {"cpu": "1"}},
             "lifecycle": {"preStop": {"exec": {"command": ["x"]}}},
             "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "s"}]}
        ]));
        assert_eq!(
            messages(&new, &old),
            vec![
                "spec.ephemeralContainers[0].name: Duplicate value: \"app\"",
                "spec.ephemeralContainers[1].targetContainerName: Not found: \"nope\"",
                "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].resources: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].lifecycle: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container",
            ]
        );
    }

    #[test]
    fn static_pods_and_creates_refuse_them() {
        let mut old = pod(json!([]));
        old["metadata"]["annotations"] = json!({MIRROR_POD_ANNOTATION: "x"});
        let new = through(&old, &pod(json!([{"name": "dbg", "image": "busybox"}])));
        assert_eq!(
            messages(&new, &old),
            vec!["[]: Forbidden: static pods do not support ephemeral containers"]
        );
        assert_eq!(
            create_causes(&new)[0].message,
            "spec.ephemeralContainers: Forbidden: cannot be set on create"
        );
    }
}
