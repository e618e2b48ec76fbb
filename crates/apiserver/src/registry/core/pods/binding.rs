//! `pods/binding` (upstream's `BindingREST`): a POST of a core/v1 `Binding` assigns an
//! unscheduled pod to a node, once. The pod's `spec.nodeName` is set, the binding's annotations
//! are added to the pod's, and the pod gets condition `PodScheduled: True`; the write goes
//! through the pod strategy's `update_through("binding")`, the path the simulated scheduler
//! uses too. Errors in kube-apiserver's words: a pod already assigned, being deleted or with
//! scheduling gates is a 409 on `pods/binding`; a missing pod a 404; a target that is not a
//! Node a 500 (upstream returns the validation aggregate as a plain error).

use crate::rest::subresource_create::{
    AcceptedKind, CreateSubresource, SubresourceRequest, success_status,
};
use crate::status::{ApiError, FieldCause};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Binding;
use serde_json::{Value, json};

/// The subresource as the pod strategy declares it.
pub(crate) const BINDING: CreateSubresource = CreateSubresource {
    name: "binding",
    kind: ("", "v1", "Binding"),
    accepts: &[AcceptedKind {
        api_version: "v1",
        kind: "Binding",
        decode: crate::strategy::decode_typed::<Binding>,
    }],
    name_must_match: true,
    create,
};

/// Upstream's `ValidatePodBinding`.
fn binding_causes(binding: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let kind = binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !kind.is_empty() && kind != "Node" {
        causes.push(FieldCause::not_supported(
            "target.kind",
            &json!(kind),
            &["Node".into(), "<empty>".into()],
        ));
    }
    if binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        causes.push(FieldCause::required("target.name", ""));
    }
    causes
}

/// A validation aggregate returned as a plain error: upstream answers it as a 500 with no
/// reason and the aggregate's text (`[a, b]` for several).
fn aggregate(causes: &[FieldCause]) -> ApiError {
    let messages: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    let mut err = ApiError::internal("");
    err.reason = "";
    err.message = match messages.as_slice() {
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    };
    err
}

fn create(req: SubresourceRequest<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let binding = &req.body;
        let causes = binding_causes(binding);
        if !causes.is_empty() {
            return Err(aggregate(&causes));
        }
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let uid = binding
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let rv = binding
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let precondition =
            match rv.as_str() {
                "" => None,
                rv => Some(rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv:?}"))
                })?),
            };
        let annotations = binding
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let name = req.name;
        let conflict = |detail: String| ApiError::conflict("", "pods/binding", name, &detail);
        req.rest
            .guaranteed_update(
                req.rt,
                req.namespace,
                name,
                req.opts,
                Some("binding"),
                |pod| {
                    let pod_uid = pod
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !uid.is_empty() && uid != pod_uid {
                        return Err(ApiError::conflict(
                            "",
                            "pods",
                            name,
                            &format!(
                                "Precondition failed: UID in precondition: {uid}, UID in object meta: {pod_uid}"
                            ),
                        ));
                    }
                    if crate::controllers::deleting(pod) {
                        return Err(conflict(format!(
                            "pod {name} is being deleted, cannot be assigned to a host"
                        )));
                    }
                    let current = pod
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !current.is_empty() {
                        return Err(conflict(format!(
                            "pod {name} is already assigned to node {current:?}"
                        )));
                    }
                    if pod
                        .pointer("/spec/schedulingGates")
                        .and_then(Value::as_array)
                        .is_some_and(|g| !g.is_empty())
                    {
                        return Err(conflict(format!(
                            "pod {name} has non-empty .spec.schedulingGates"
                        )));
                    }
                    Ok((bound(pod, &node, &annotations), Vec::new(), precondition))
                },
            )
            .await?;
        Ok(success_status(201))
    })
}

/// `pod` bound to `node`, with `annotations` added and `PodScheduled: True`.
pub(crate) fn bound(
    pod: &Value,
    node: &str,
    annotations: &serde_json::Map<String, Value>,
) -> Value {
    let mut new = pod.clone();
    new["spec"]["nodeName"] = json!(node);
    if !annotations.is_empty() {
        if !new
            .pointer("/metadata/annotations")
            .is_some_and(Value::is_object)
        {
            new["metadata"]["annotations"] = json!({});
        }
        for (k, v) in annotations {
            new["metadata"]["annotations"][k] = v.clone();
        }
    }
    if !new["status"].is_object() {
        new["status"] = json!({});
    }
    if !new["status"]["conditions"].is_array() {
        new["status"]["conditions"] = json!([]);
    }
    if let Some(conditions) = new["status"]["conditions"].as_array_mut() {
        match conditions
            .iter_mut()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
        {
            Some(c) => {
                if c.get("status").and_then(Value::as_str) != Some("True") {
                    c["lastTransitionTime"] = json!(crate::rest::now());
                }
                c["status"] = json!("True");
            }
            None => conditions.push(json!({
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": null,
                "lastTransitionTime": crate::rest::now(),
            })),
        }
    }
    new
}
