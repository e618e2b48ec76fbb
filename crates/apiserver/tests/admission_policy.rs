//! ValidatingAdmissionPolicy through the API server: a policy with ConfigMap params, variables,
//! matchConditions and a messageExpression, bound to deny in one namespace and to warn in
//! another (kubectl prints the warning), and a binding whose params are missing; auditAnnotations
//! and the Audit action read back from the audit log (also for a refused request); an
//! auditAnnotation that errors; `status.typeChecking` against a custom resource's schema;
//! policies and bindings validated and defaulted on write, as upstream; the `authorizer`
//! deciding with RBAC for the request's user; and a policy matched through an equivalent
//! resource (HPA v1 for a v2 request) seeing the converted object.

mod kube_support;
#[allow(unused_macros, unused_imports)]
mod kubectl_support;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube_support::{eventually, start};
use kubeforge_apiserver::ApiServer;
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

/// Creates a cluster-scoped object from JSON through `api`.
async fn create<K>(api: &Api<K>, value: Value)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    api.create(
        &PostParams::default(),
        &serde_json::from_value(value).unwrap(),
    )
    .await
    .unwrap();
}

/// The audit event of the ConfigMap create the policy annotated with `owner` under `key`, once
/// the writer has written it (a create's event names no object: it is told by its annotation).
async fn audit_event_of(path: &std::path::Path, key: &str, owner: &str) -> Value {
    eventually("the create's audit event", || async {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| {
                e["verb"] == "create"
                    && e["objectRef"]["resource"] == "configmaps"
                    && e["annotations"][key] == owner
            })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_annotations_and_the_audit_action_are_in_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let server = ApiServer::builder()
        .in_memory()
        .audit_log(kubeforge_apiserver::audit::AuditConfig::new(&path))
        .start()
        .await
        .unwrap();
    let client = server.client();
    create(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        json!({
            "metadata": {"name": "audited"},
            "spec": {
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["configmaps"]}]},
                "validations": [
                    {"expression": "object.metadata.name != 'forbidden'", "message": "bad name"},
                    {"expression": "!has(object.data) || size(object.data) < 2", "message": "too many keys"},
                ],
                "auditAnnotations": [
                    {"key": "owner", "valueExpression":
                        "has(object.metadata.labels) && 'owner' in object.metadata.labels ? object.metadata.labels['owner'] : null"},
                    {"key": "blank", "valueExpression": "'  '"},
                ],
            },
        }),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        json!({"metadata": {"name": "audited-binding"},
            "spec": {"policyName": "audited", "validationActions": ["Audit"]}}),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owned = |name: &str, owner: &str, data: Value| -> ConfigMap {
        serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {"owner": owner}}, "data": data}),
        )
        .unwrap()
    };
    // The cache follows the store: wait until the policy annotates creates.
    let mut attempt = 0;
    eventually("the policy to annotate creates", || {
        attempt += 1;
        let name = format!("probe-{attempt}");
        let configmaps = configmaps.clone();
        let probe = owned(&name, &name, json!({}));
        let path = path.clone();
        async move {
            configmaps
                .create(&PostParams::default(), &probe)
                .await
                .unwrap();
            // Give the writer a moment before looking.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            text.contains(&format!("\"audited/owner\":\"{name}\""))
                .then_some(())
        }
    })
    .await;

    // Allowed: the value is recorded under `<policy>/<key>`, the blank one is not.
    configmaps
        .create(
            &PostParams::default(),
            &owned("small", "alice", json!({"a": "1"})),
        )
        .await
        .unwrap();
    let event = audit_event_of(&path, "audited/owner", "alice").await;
    let annotations = event["annotations"].as_object().unwrap();
    assert_eq!(annotations["audited/owner"], "alice", "{event}");
    assert!(!annotations.contains_key("audited/blank"), "{event}");
    assert!(
        !annotations.contains_key("validation.policy.admission.k8s.io/validation_failure"),
        "{event}"
    );

    // Audit: the failing validation (the second) is recorded, and the create goes through.
    configmaps
        .create(
            &PostParams::default(),
            &owned("big", "bob", json!({"a": "1", "b": "2"})),
        )
        .await
        .unwrap();
    let event = audit_event_of(&path, "audited/owner", "bob").await;
    assert_eq!(event["annotations"]["audited/owner"], "bob", "{event}");
    assert_eq!(
        event["annotations"]["validation.policy.admission.k8s.io/validation_failure"],
        r#"[{"message":"too many keys","policy":"audited","binding":"audited-binding","expressionIndex":1,"validationActions":["Audit"]}]"#,
        "{event}"
    );
    assert_eq!(event["responseStatus"]["code"], 201, "{event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_keeps_the_policies_audit_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let server = ApiServer::builder()
        .in_memory()
        .audit_log(kubeforge_apiserver::audit::AuditConfig::new(&path))
        .start()
        .await
        .unwrap();
    let client = server.client();
    create(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        json!({
            "metadata": {"name": "refusing"},
            "spec": {
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["configmaps"]}]},
                "validations": [{"expression": "!object.metadata.name.startsWith('refused')",
                    "message": "refused by name"}],
                "auditAnnotations": [{"key": "owner", "valueExpression": "object.metadata.labels['owner']"}],
            },
        }),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        json!({"metadata": {"name": "refusing-binding"},
            "spec": {"policyName": "refusing", "validationActions": ["Deny", "Audit"]}}),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut attempt = 0;
    let status = eventually("the policy to refuse", || {
        attempt += 1;
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {
            "name": format!("refused-{attempt}"), "labels": {"owner": "carol"}}}))
        .unwrap();
        let configmaps = configmaps.clone();
        async move {
            match configmaps.create(&PostParams::default(), &cm).await {
                Ok(_) => None,
                Err(kube::Error::Api(s)) => Some(s),
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    assert_eq!(status.code, 422, "{status:?}");
    let event = audit_event_of(&path, "refusing/owner", "carol").await;
    assert_eq!(event["responseStatus"]["code"], 422, "{event}");
    assert_eq!(event["annotations"]["refusing/owner"], "carol", "{event}");
    assert_eq!(
        event["annotations"]["validation.policy.admission.k8s.io/validation_failure"],
        r#"[{"message":"refused by name","policy":"refusing","binding":"refusing-binding","expressionIndex":0,"validationActions":["Deny","Audit"]}]"#,
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_annotation_that_is_not_a_string_refuses_under_fail() {
    let server = start().await;
    let client = server.client();
    create(
        &Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": "typed"}}),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        json!({
            "metadata": {"name": "typed"},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["configmaps"]}]},
                "auditAnnotations": [{"key": "size", "valueExpression": "object.metadata"}],
            },
        }),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        json!({"metadata": {"name": "typed-binding"},
            "spec": {"policyName": "typed", "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "typed"}}}}}),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "typed");
    let status = eventually("the policy to take effect", || async {
        match configmaps
            .create(&PostParams::default(), &configmap("any", json!({})))
            .await
        {
            Ok(_) => {
                let _ = configmaps.delete("any", &Default::default()).await;
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
        "configmaps \"any\" is forbidden: ValidatingAdmissionPolicy 'typed' with binding 'typed-binding' denied request: valueExpression 'object.metadata' resulted in unsupported return type: map. Return type must be either string or null."
    );
    // Nothing was stored.
    assert!(configmaps.get_opt("any").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_checking_warns_of_undefined_fields_and_mismatched_types() {
    let server = start().await;
    let client = server.client();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    create(
        &crds,
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]},
        }),
    )
    .await;
    eventually("widgets to be served", || async {
        let (code, _) =
            kube_support::raw(&client, "GET", "/apis/example.com/v1/widgets", None, None).await;
        (code == 200).then_some(())
    })
    .await;
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    create(
        &policies,
        json!({
            "metadata": {"name": "widgets"},
            "spec": {
                "matchConstraints": {"resourceRules": [{"apiGroups": ["example.com"], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["widgets"]}]},
                "validations": [
                    {"expression": "object.spec.size < 10 && object.metadata.name != ''"},
                    {"expression": "object.spec.colour == 'red'", "messageExpression": "'size ' + object.spec.size"},
                ],
            },
        }),
    )
    .await;
    let status = eventually("the policy's type checking", || async {
        let policy = policies.get("widgets").await.unwrap();
        let status = serde_json::to_value(policy.status?).unwrap();
        status.get("typeChecking").is_some().then_some(status)
    })
    .await;
    assert_eq!(status["observedGeneration"], 1, "{status}");
    let warnings = status["typeChecking"]["expressionWarnings"]
        .as_array()
        .unwrap();
    let fields: Vec<&str> = warnings
        .iter()
        .map(|w| w["fieldRef"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.validations[1].expression",
            "spec.validations[1].messageExpression",
        ],
        "{status}"
    );
    assert_eq!(
        warnings[0]["warning"],
        "example.com/v1, Kind=Widget: ERROR: <input>:1:12: undefined field 'colour'\n | object.spec.colour == 'red'\n | ...........^\n",
        "{status}"
    );
    assert_eq!(
        warnings[1]["warning"],
        "example.com/v1, Kind=Widget: ERROR: <input>:1:9: found no matching overload for '_+_' applied to '(string, int)'\n | 'size ' + object.spec.size\n | ........^\n",
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_and_bindings_are_validated_and_defaulted_on_write() {
    let server = start().await;
    let client = server.client();
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let rules = json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
        "operations": ["CREATE"], "resources": ["configmaps"]}]});
    let refused = |value: Value| {
        let policies = policies.clone();
        async move {
            match policies
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(value).unwrap(),
                )
                .await
            {
                Err(kube::Error::Api(s)) => s,
                other => panic!("{other:?}"),
            }
        }
    };
    // Expressions are compiled with the variables upstream declares: no `params` without a
    // paramKind; a validation must give a bool.
    let status = refused(json!({"metadata": {"name": "broken"}, "spec": {
        "matchConstraints": rules,
        "validations": [
            {"expression": "object.data.size() >"},
            {"expression": "params.max > 1"},
            {"expression": "'yes'"},
        ],
    }}))
    .await;
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.starts_with(
            "ValidatingAdmissionPolicy.admissionregistration.k8s.io \"broken\" is invalid: ["
        ),
        "{}",
        status.message
    );
    let causes = status.details.unwrap().causes;
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.validations[0].expression",
            "spec.validations[1].expression",
            "spec.validations[2].expression"
        ]
    );
    assert!(
        causes[0]
            .message
            .starts_with("Invalid value: \"object.data.size() >\": compilation failed: ERROR: <input>:1:21: Syntax error:"),
        "{}",
        causes[0].message
    );
    assert!(
        causes[1].message.starts_with(
            "Invalid value: \"params.max > 1\": compilation failed: ERROR: <input>:1:1: undeclared reference to 'params' (in container '')"
        ),
        "{}",
        causes[1].message
    );
    assert_eq!(
        causes[2].message,
        "Invalid value: \"'yes'\": must evaluate to bool"
    );
    // Required fields.
    let status = refused(json!({"metadata": {"name": "empty"}, "spec": {}})).await;
    let causes = status.details.unwrap().causes;
    let messages: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    assert_eq!(
        messages,
        [
            "spec.matchConstraints: Required value",
            "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
            "spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item",
        ]
    );

    // A valid policy is stored with upstream's defaults.
    let created = policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "fine"}, "spec": {
                "matchConstraints": rules, "validations": [{"expression": "true"}]}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let spec = serde_json::to_value(created.spec.unwrap()).unwrap();
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(spec["matchConstraints"]["matchPolicy"], "Equivalent");
    assert_eq!(spec["matchConstraints"]["namespaceSelector"], json!({}));
    assert_eq!(spec["matchConstraints"]["objectSelector"], json!({}));
    assert_eq!(spec["matchConstraints"]["resourceRules"][0]["scope"], "*");

    // A binding: kubectl shows why it is refused.
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let kubectl = kubectl_support::Kubectl::new(binary, &server).unwrap();
    let file = kubectl
        .manifest(
            "binding.yaml",
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: loud\nspec:\n  policyName: fine\n  validationActions: [Deny, Warn]\n  paramRef:\n    name: limits\n",
        )
        .unwrap();
    let stderr = kubectl.fails(&["create", "-f", &file]).await.unwrap();
    for expected in [
        "The ValidatingAdmissionPolicyBinding \"loud\" is invalid:",
        "spec.paramRef.parameterNotFoundAction: Required value",
        "spec.validationActions: Invalid value: []admissionregistration.ValidationAction{\"Deny\", \"Warn\"}: must not contain both Deny and Warn",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// A client impersonating `user` in `groups`.
fn impersonating(server: &ApiServer, user: &str, groups: &[&str]) -> kube::Client {
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.auth_info.impersonate = Some(user.into());
    config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    kube::Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_decides_with_rbac_for_the_requests_user() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let server = start().await;
    let client = server.client();
    create(
        &Api::<ClusterRole>::all(client.clone()),
        json!({"metadata": {"name": "cm-writer"}, "rules": [{"apiGroups": [""],
            "resources": ["configmaps"], "verbs": ["create", "get"]}]}),
    )
    .await;
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        json!({"metadata": {"name": "cm-writers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-writer"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "writers"}]}),
    )
    .await;
    create(
        &Api::<Role>::namespaced(client.clone(), "default"),
        json!({"metadata": {"name": "secret-reader"}, "rules": [{"apiGroups": [""],
            "resources": ["secrets"], "verbs": ["get"]}]}),
    )
    .await;
    create(
        &Api::<RoleBinding>::namespaced(client.clone(), "default"),
        json!({"metadata": {"name": "alice-reads-secrets"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        json!({
            "metadata": {"name": "secret-readers-only"},
            "spec": {
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["configmaps"]}]},
                "validations": [
                    {"expression": "authorizer.requestResource.check('create').allowed()",
                        "message": "the request's own resource"},
                    {"expression": "authorizer.group('').resource('secrets').namespace(object.metadata.namespace).check('get').allowed()",
                        "message": "only secret readers may write configmaps"},
                    {"expression": "!authorizer.serviceAccount('default', 'robot').group('').resource('secrets').namespace('default').check('get').allowed()",
                        "message": "the robot may not read secrets"},
                ],
                "auditAnnotations": [{"key": "why", "valueExpression":
                    "authorizer.group('').resource('secrets').namespace('default').check('get').reason()"}],
            },
        }),
    )
    .await;
    create(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        json!({"metadata": {"name": "secret-readers-only"},
            "spec": {"policyName": "secret-readers-only", "validationActions": ["Deny"]}}),
    )
    .await;
    let bob: Api<ConfigMap> =
        Api::namespaced(impersonating(&server, "bob", &["writers"]), "default");
    let mut attempt = 0;
    let status = eventually("the policy to refuse bob", || {
        attempt += 1;
        let bob = bob.clone();
        async move {
            match bob
                .create(
                    &PostParams::default(),
                    &configmap(&format!("bob-{attempt}"), json!({})),
                )
                .await
            {
                Ok(_) => None,
                Err(kube::Error::Api(s)) => Some(s),
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    assert_eq!(
        status.message,
        format!(
            "configmaps \"bob-{attempt}\" is forbidden: ValidatingAdmissionPolicy 'secret-readers-only' with binding 'secret-readers-only' denied request: only secret readers may write configmaps"
        )
    );
    // alice may read secrets in default: her create goes through.
    let alice: Api<ConfigMap> =
        Api::namespaced(impersonating(&server, "alice", &["writers"]), "default");
    alice
        .create(&PostParams::default(), &configmap("alices", json!({})))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equivalent_match_evaluates_the_object_at_the_policys_version() {
    use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
    let server = start().await;
    let client = server.client();
    let v1_rules = |policy: &str| {
        json!({"matchPolicy": policy, "resourceRules": [{"apiGroups": ["autoscaling"], "apiVersions": ["v1"],
            "operations": ["CREATE"], "resources": ["horizontalpodautoscalers"]}]})
    };
    for (name, constraints, validations) in [
        (
            "hpa-cpu",
            v1_rules("Equivalent"),
            json!([
                {"expression": "object.apiVersion == 'autoscaling/v1' && request.kind.version == 'v1' && request.resource.version == 'v1'",
                    "message": "not seen at v1"},
                {"expression": "object.spec.targetCPUUtilizationPercentage <= 80",
                    "messageExpression": "'cpu target ' + string(object.spec.targetCPUUtilizationPercentage) + ' above 80, asked at ' + request.requestKind.version"},
            ]),
        ),
        (
            "hpa-exact",
            v1_rules("Exact"),
            json!([{"expression": "false", "message": "only through v1"}]),
        ),
    ] {
        create(
            &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
            json!({"metadata": {"name": name},
                "spec": {"matchConstraints": constraints, "validations": validations}}),
        )
        .await;
        create(
            &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
            json!({"metadata": {"name": name},
                "spec": {"policyName": name, "validationActions": ["Deny"]}}),
        )
        .await;
    }
    let v2_api: Api<hpa_v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let hpa = |name: &str, cpu: i32| -> hpa_v2::HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 3, "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": cpu}}}]},
        }))
        .unwrap()
    };
    let mut attempt = 0;
    let status = eventually("the policies to take effect", || {
        attempt += 1;
        let (v2_api, hpa) = (v2_api.clone(), hpa(&format!("hot-{attempt}"), 90));
        async move {
            match v2_api.create(&PostParams::default(), &hpa).await {
                Ok(_) => None,
                Err(kube::Error::Api(s)) => Some(s),
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    // At v2, the Equivalent policy sees the object at v1 (the v2 metric as v1's field); the
    // Exact one does not apply.
    assert_eq!(
        status.message,
        format!(
            "horizontalpodautoscalers.autoscaling \"hot-{attempt}\" is forbidden: ValidatingAdmissionPolicy 'hpa-cpu' with binding 'hpa-cpu' denied request: cpu target 90 above 80, asked at v2"
        )
    );
    v2_api
        .create(&PostParams::default(), &hpa("cool", 50))
        .await
        .unwrap();
    // At v1 both apply.
    let v1_api: Api<hpa_v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let at_v1: hpa_v1::HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "at-v1"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
    }))
    .unwrap();
    let err = v1_api
        .create(&PostParams::default(), &at_v1)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert!(
        status.message.ends_with(
            "ValidatingAdmissionPolicy 'hpa-exact' with binding 'hpa-exact' denied request: only through v1"
        ),
        "{}",
        status.message
    );
}

/// `request` is typed as upstream's `kubernetes.AdmissionRequest` and `variables` by each
/// variable's expression: a field neither declares does not compile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_variables_are_typed_when_a_policy_is_written() {
    let server = start().await;
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(server.client());
    let policy = |early: &str, validations: Value| -> ValidatingAdmissionPolicy {
        serde_json::from_value(json!({"metadata": {"name": "typed"}, "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["configmaps"]}]},
            "variables": [
                {"name": "user", "expression": "request.userInfo.username"},
                {"name": "early", "expression": early},
                {"name": "late", "expression": "1"},
            ],
            "validations": validations,
        }}))
        .unwrap()
    };
    let status = match policies
        .create(
            &PostParams::default(),
            &policy(
                "variables.late == 1",
                json!([
                    {"expression": "request.nosuchfield == 'x'"},
                    {"expression": "variables.undefinedVar"},
                    {"expression": "variables.user"},
                ]),
            ),
        )
        .await
    {
        Err(kube::Error::Api(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let causes: Vec<(String, String)> = status
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| (c.field, c.message))
        .collect();
    assert_eq!(
        causes,
        [
            (
                "spec.variables[1].expression".to_string(),
                "Invalid value: \"variables.late == 1\": compilation failed: ERROR: <input>:1:10: undefined field 'late'\n | variables.late == 1\n | .........^".to_string()
            ),
            (
                "spec.validations[0].expression".to_string(),
                "Invalid value: \"request.nosuchfield == 'x'\": compilation failed: ERROR: <input>:1:8: undefined field 'nosuchfield'\n | request.nosuchfield == 'x'\n | .......^".to_string()
            ),
            (
                "spec.validations[1].expression".to_string(),
                "Invalid value: \"variables.undefinedVar\": compilation failed: ERROR: <input>:1:10: undefined field 'undefinedVar'\n | variables.undefinedVar\n | .........^".to_string()
            ),
            (
                "spec.validations[2].expression".to_string(),
                "Invalid value: \"variables.user\": must evaluate to bool".to_string()
            ),
        ]
    );
    // What upstream's types hold compiles.
    policies
        .create(
            &PostParams::default(),
            &policy(
                "variables.user.size() > 1",
                json!([
                {"expression": "request.userInfo.groups.exists(g, g == 'admins') || variables.user != ''"},
                {"expression": "request.kind.kind == 'ConfigMap' && !request.dryRun && variables.late == 1"},
                {"expression": "has(request.options) || request.userInfo.extra.size() >= 0"},
                {"expression": "variables.early"},
            ]),
            ),
        )
        .await
        .unwrap();
}
