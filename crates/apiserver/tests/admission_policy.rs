//! ValidatingAdmissionPolicy through the API server: a policy with ConfigMap params, variables,
//! matchConditions and a messageExpression, bound to deny in one namespace and to warn in
//! another (kubectl prints the warning), and a binding whose params are missing.

mod kube_support;
#[allow(unused_macros, unused_imports)]
mod kubectl_support;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube_support::{eventually, start};
use serde_json::{Value, json};

fn configmap(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap()
}

fn three_keys() -> Value {
    json!({"a": "1", "b": "2", "c": "3"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_with_params_denies_warns_and_needs_its_params() {
    let server = start().await;
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, policy) in [
        ("strict", "deny"),
        ("lenient", "warn"),
        ("orphan", "missing"),
    ] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(
                    json!({"metadata": {"name": name, "labels": {"policy": policy}}}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let params: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    params
        .create(
            &PostParams::default(),
            &configmap("limits", json!({"maxKeys": "2"})),
        )
        .await
        .unwrap();
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "max-keys"},
                "spec": {
                    "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                    "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]},
                    "matchConditions": [{"name": "not-params", "expression": "object.metadata.name != 'limits'"}],
                    "variables": [{"name": "keys", "expression": "has(object.data) ? size(object.data) : 0"}],
                    "validations": [{
                        "expression": "variables.keys <= int(params.data.maxKeys)",
                        "messageExpression": "'too many keys: ' + string(variables.keys)",
                    }],
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    for (name, label, action, param) in [
        ("max-keys-deny", "deny", "Deny", "limits"),
        ("max-keys-warn", "warn", "Warn", "limits"),
        ("max-keys-missing", "missing", "Deny", "absent"),
    ] {
        bindings
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {
                        "policyName": "max-keys",
                        "paramRef": {"name": param, "namespace": "default", "parameterNotFoundAction": "Deny"},
                        "validationActions": [action],
                        "matchResources": {"namespaceSelector": {"matchLabels": {"policy": label}}},
                    },
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let strict: Api<ConfigMap> = Api::namespaced(client.clone(), "strict");
    let status = eventually("the policy to take effect", || async {
        match strict
            .create(&PostParams::default(), &configmap("big", three_keys()))
            .await
        {
            Ok(_) => {
                let _ = strict.delete("big", &Default::default()).await;
                None
            }
            Err(kube::Error::Api(s)) => Some(s),
            Err(e) => panic!("{e:?}"),
        }
    })
    .await;
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        status.message,
        "configmaps \"big\" is forbidden: ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-deny' denied request: too many keys: 3"
    );
    strict
        .create(
            &PostParams::default(),
            &configmap("small", json!({"a": "1", "b": "2"})),
        )
        .await
        .unwrap();

    let orphan: Api<ConfigMap> = Api::namespaced(client.clone(), "orphan");
    let err = orphan
        .create(&PostParams::default(), &configmap("any", json!({})))
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        s.message,
        "configmaps \"any\" is forbidden: ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-missing' denied request: no params found for policy binding with `Deny` parameterNotFoundAction"
    );

    // Warn: created, and kubectl prints the warning.
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let out = kubectl
        .run(&[
            "create",
            "configmap",
            "big",
            "-n",
            "lenient",
            "--from-literal=a=1",
            "--from-literal=b=2",
            "--from-literal=c=3",
        ])
        .await
        .unwrap();
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Warning: Validation failed for ValidatingAdmissionPolicy 'max-keys' with binding 'max-keys-warn': too many keys: 3"
        ),
        "{}",
        out.stderr
    );
}
