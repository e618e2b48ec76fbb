//! The seed CRDs' schemas end to end through every installed kubectl (1.27 … 1.33) against an
//! in-process [`ApiServer`]: what a user writes is accepted with defaults applied, or rejected
//! with kube-apiserver's message, exactly as kubectl prints it.
//!
//! - HealthCheckPolicy (`policy.k8s-go.openshift.org`): `action` enum label|kill|annotate with
//!   default `label`; status validated through `/status` (messages relative to status, as
//!   upstream); unknown fields rejected under `--validate=strict` and pruned under `false`.
//! - ConfigurationDistributionRule (`k8s.tideland.dev`): `mode` configmap|secret|both,
//!   `selector` pattern, `namespaces` a set, a CEL rule keeping `kube-system` out.
//! - Foo (`samplecontroller.k8s.io`, with the API-approval annotation its group requires):
//!   `replicas` 1..10 (also through `kubectl scale`), an immutable `deploymentName` (a CEL
//!   transition rule), a default added to the CRD later shows on the stored object.
//! - A CRD with schema mistakes is rejected with one cause per mistake.
//!
//! The kubectl runner is `kubectl_support` (shared with `kubectl.rs`).

mod kube_support;

mod kubectl_support;

use anyhow::{Context, Result, ensure};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use std::time::Duration;

kubectl_versions!();

const CRDS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: healthcheckpolicies.policy.k8s-go.openshift.org
spec:
  group: policy.k8s-go.openshift.org
  scope: Namespaced
  names:
    kind: HealthCheckPolicy
    plural: healthcheckpolicies
    singular: healthcheckpolicy
    shortNames: [hcp]
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              podLabel:
                type: string
                default: health-check-missing
              action:
                type: string
                enum: [label, kill, annotate]
                default: label
          status:
            type: object
            properties:
              lastChecked:
                type: string
                format: date-time
              statistics:
                type: object
                properties:
                  pods:
                    type: object
                    properties:
                      failed: {type: integer, minimum: 0}
                      passed: {type: integer, minimum: 0}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: configurationdistributionrules.k8s.tideland.dev
spec:
  group: k8s.tideland.dev
  scope: Namespaced
  names:
    kind: ConfigurationDistributionRule
    plural: configurationdistributionrules
    singular: configurationdistributionrule
    shortNames: [cdr, codisrule, rule]
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [mode, selector]
            x-kubernetes-validations:
            - rule: "!has(self.namespaces) || !('kube-system' in self.namespaces)"
              message: rules may not distribute into kube-system
            properties:
              mode:
                type: string
                enum: [configmap, secret, both]
              selector:
                type: string
                pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
              namespaces:
                type: array
                maxItems: 100
                x-kubernetes-list-type: set
                items:
                  type: string
                  maxLength: 63
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: foos.samplecontroller.k8s.io
  annotations:
    api-approved.kubernetes.io: "unapproved, experimental-only; please get an approval from Kubernetes API reviewers if you're trying to develop a CRD in the *.k8s.io or *.kubernetes.io groups"
spec:
  group: samplecontroller.k8s.io
  scope: Namespaced
  names:
    kind: Foo
    plural: foos
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.availableReplicas
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              deploymentName:
                type: string
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: deploymentName is immutable
              replicas:
                type: integer
                minimum: 1
                maximum: 10
          status:
            type: object
            properties:
              availableReplicas:
                type: integer
"#;

const BAD_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: bads.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Bad, plural: bads}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              size: {type: integer, default: 20, maximum: 10}
"#;

const BAD_RULE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: rules.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Rule, plural: rules}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.size > 1
            properties:
              count: {type: integer}
"#;

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts");
    let k = Kubectl::new(binary, &server).expect("preparing kubectl's home directory");
    if let Err(e) = scenarios(&k).await {
        panic!("kubectl {version}: {e:#}");
    }
}

async fn scenarios(k: &Kubectl) -> Result<()> {
    k.create_crds(
        "crds.yaml",
        CRDS,
        &[
            "healthcheckpolicies.policy.k8s-go.openshift.org",
            "configurationdistributionrules.k8s.tideland.dev",
            "foos.samplecontroller.k8s.io",
        ],
    )
    .await
    .context("creating the seed CRDs")?;
    health_check_policy(k).await.context("HealthCheckPolicy")?;
    distribution_rule(k)
        .await
        .context("ConfigurationDistributionRule")?;
    foo(k).await.context("Foo")?;
    invalid_crds(k).await.context("invalid CRDs")?;
    Ok(())
}

async fn health_check_policy(k: &Kubectl) -> Result<()> {
    k.apply(
        "p.yaml",
        "apiVersion: policy.k8s-go.openshift.org/v1alpha1\nkind: HealthCheckPolicy\nmetadata: {name: p, namespace: default}\nspec: {}\n",
    )
    .await?;
    let yaml = k.ok(&["get", "hcp", "p", "-o", "yaml"]).await?;
    ensure!(
        yaml.contains("action: label") && yaml.contains("podLabel: health-check-missing"),
        "defaults missing:\n{yaml}"
    );
    let bad = k.manifest(
        "bad.yaml",
        "apiVersion: policy.k8s-go.openshift.org/v1alpha1\nkind: HealthCheckPolicy\nmetadata: {name: bad, namespace: default}\nspec: {action: explode}\n",
    )?;
    k.rejects(
        &["apply", "-f", &bad],
        &[r#"The HealthCheckPolicy "bad" is invalid: spec.action: Unsupported value: "explode": supported values: "label", "kill", "annotate""#],
    )
    .await?;
    k.rejects(
        &["create", "-f", &bad],
        &[r#"The HealthCheckPolicy "bad" is invalid: spec.action: Unsupported value: "explode": supported values: "label", "kill", "annotate""#],
    )
    .await?;

    // Unknown fields: rejected under strict validation, dropped without it.
    let unknown = k.manifest(
        "unknown.yaml",
        "apiVersion: policy.k8s-go.openshift.org/v1alpha1\nkind: HealthCheckPolicy\nmetadata: {name: u, namespace: default}\nspec: {action: kill, bogus: 1}\n",
    )?;
    k.rejects(
        &["create", "--validate=strict", "-f", &unknown],
        &[r#"unknown field "spec.bogus""#],
    )
    .await?;
    k.ok(&["create", "--validate=false", "-f", &unknown])
        .await?;
    let spec = k.jsonpath(&["get", "hcp", "u"], "{.spec}").await?;
    ensure!(
        !spec.contains("bogus") && spec.contains("kill"),
        "not pruned: {spec}"
    );

    // Status is validated through /status, against the status schema.
    k.rejects(
        &[
            "patch", "hcp", "p", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"statistics":{"pods":{"failed":-1}}}}"#,
        ],
        &[r#"The HealthCheckPolicy "p" is invalid: status.statistics.pods.failed: Invalid value: -1: statistics.pods.failed in body should be greater than or equal to 0"#],
    )
    .await?;
    k.ok(&[
        "patch", "hcp", "p", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"lastChecked":"2024-05-01T10:00:00Z","statistics":{"pods":{"failed":1,"passed":2}}}}"#,
    ])
    .await?;
    k.rejects(
        &[
            "patch", "hcp", "p", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"lastChecked":"yesterday"}}"#,
        ],
        &[r#"status.lastChecked: Invalid value: "yesterday": lastChecked in body must be of type date-time: "yesterday""#],
    )
    .await?;
    Ok(())
}

async fn distribution_rule(k: &Kubectl) -> Result<()> {
    let rule = |name: &str, spec: &str| {
        format!(
            "apiVersion: k8s.tideland.dev/v1alpha1\nkind: ConfigurationDistributionRule\nmetadata: {{name: {name}, namespace: default}}\nspec: {spec}\n"
        )
    };
    k.apply(
        "ok.yaml",
        &rule(
            "rule-codis-test",
            "{mode: both, selector: testing, namespaces: [default, another-test]}",
        ),
    )
    .await?;
    let mode = k
        .jsonpath(&["get", "cdr", "rule-codis-test"], "{.spec.mode}")
        .await?;
    ensure!(mode == "both", "mode: {mode}");

    let bad = k.manifest(
        "bad.yaml",
        &rule("bad", "{mode: everything, selector: \"Not Valid!\"}"),
    )?;
    k.rejects(
        &["apply", "-f", &bad],
        &[
            r#"The ConfigurationDistributionRule "bad" is invalid: "#,
            r#"spec.mode: Unsupported value: "everything": supported values: "configmap", "secret", "both""#,
            r#"spec.selector: Invalid value: "Not Valid!": spec.selector in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"#,
        ],
    )
    .await?;
    let missing = k.manifest("missing.yaml", &rule("missing", "{mode: secret}"))?;
    k.rejects(
        &["apply", "-f", &missing],
        &[
            r#"The ConfigurationDistributionRule "missing" is invalid: "#,
            "* spec.selector: Required value",
            // As upstream: a missing field keeps the CEL rules from running, and says so.
            "* <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ],
    )
    .await?;
    let dup = k.manifest(
        "dup.yaml",
        &rule("dup", "{mode: secret, selector: x, namespaces: [a, b, a]}"),
    )?;
    k.rejects(
        &["apply", "-f", &dup],
        &[r#"The ConfigurationDistributionRule "dup" is invalid: spec.namespaces[2]: Duplicate value: "a""#],
    )
    .await?;
    let system = k.manifest(
        "system.yaml",
        &rule(
            "system",
            "{mode: secret, selector: x, namespaces: [kube-system]}",
        ),
    )?;
    k.rejects(
        &["apply", "-f", &system],
        &[r#"The ConfigurationDistributionRule "system" is invalid: spec: Invalid value: rules may not distribute into kube-system"#],
    )
    .await?;
    Ok(())
}

async fn foo(k: &Kubectl) -> Result<()> {
    let manifest = |name: &str, spec: &str| {
        format!(
            "apiVersion: samplecontroller.k8s.io/v1alpha1\nkind: Foo\nmetadata: {{name: {name}, namespace: default}}\nspec: {spec}\n"
        )
    };
    k.apply(
        "f.yaml",
        &manifest("example-foo", "{deploymentName: example-foo, replicas: 3}"),
    )
    .await?;
    for (replicas, message) in [
        (
            11,
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        ),
        (
            0,
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        ),
    ] {
        let file = k.manifest(
            "bad.yaml",
            &manifest(
                "bad-foo",
                &format!("{{deploymentName: d, replicas: {replicas}}}"),
            ),
        )?;
        k.rejects(
            &["apply", "-f", &file],
            &[&format!(r#"The Foo "bad-foo" is invalid: {message}"#)],
        )
        .await?;
    }
    k.rejects(
        &["scale", "foo", "example-foo", "--replicas=11"],
        &[r#"spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"#],
    )
    .await?;
    k.ok(&["scale", "foo", "example-foo", "--replicas=5"])
        .await?;
    let replicas = k
        .jsonpath(&["get", "foo", "example-foo"], "{.spec.replicas}")
        .await?;
    ensure!(replicas == "5", "replicas: {replicas}");

    // A transition rule: deploymentName cannot change.
    k.rejects(
        &["patch", "foo", "example-foo", "--type=merge", "-p", r#"{"spec":{"deploymentName":"other"}}"#],
        &[r#"The Foo "example-foo" is invalid: spec.deploymentName: Invalid value: "other": deploymentName is immutable"#],
    )
    .await?;

    // A default added to the CRD later shows on the object already stored.
    k.ok(&[
        "patch", "crd", "foos.samplecontroller.k8s.io", "--type=json", "-p",
        r#"[{"op":"add","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/paused","value":{"type":"boolean","default":false}}]"#,
    ])
    .await?;
    let mut paused = String::new();
    for _ in 0..50 {
        paused = k
            .jsonpath(&["get", "foo", "example-foo"], "{.spec.paused}")
            .await?;
        if paused == "false" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(paused == "false", "read-time default missing: {paused:?}");
    Ok(())
}

async fn invalid_crds(k: &Kubectl) -> Result<()> {
    let bad = k.manifest("bad-crd.yaml", BAD_CRD)?;
    k.rejects(
        &["apply", "-f", &bad],
        &[
            r#"The CustomResourceDefinition "bads.example.com" is invalid: "#,
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
        ],
    )
    .await?;
    let rule = k.manifest("rule-crd.yaml", BAD_RULE_CRD)?;
    k.rejects(
        &["apply", "-f", &rule],
        &[
            r#"The CustomResourceDefinition "rules.example.com" is invalid: spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "#,
            "compilation failed: ERROR: <input>:1:5: undefined field 'size'",
        ],
    )
    .await?;
    Ok(())
}

/// A CRD generated by kube-derive, with CEL rules at the root, on the spec and on a field.
mod derived {
    use kube::core::crd::CustomResourceExt;
    use kube::{CustomResource, KubeSchema};
    use serde::{Deserialize, Serialize};

    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug)]
    #[kube(
        group = "kubeforge.dev",
        version = "v1",
        kind = "Widget",
        namespaced,
        validation = Rule::new("self.metadata.name != 'reserved'").message("this name is reserved")
    )]
    #[x_kube(validation = Rule::new("self.min <= self.max").message("min must not exceed max"))]
    pub struct WidgetSpec {
        pub min: i32,
        pub max: i32,
        #[x_kube(validation = Rule::new("self == oldSelf").message("owner is immutable"))]
        pub owner: String,
    }

    pub fn crd()
    -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition
    {
        Widget::crd()
    }
}

#[tokio::test]
async fn kube_derive_crd_with_cel_rules_round_trips() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams, PostParams};

    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts");
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &derived::crd())
        .await
        .expect("the derived CRD is accepted");
    let mut established = false;
    for _ in 0..100 {
        let crd = crds.get("widgets.kubeforge.dev").await.expect("CRD");
        established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(established, "the derived CRD is established");

    let widgets: Api<derived::Widget> = Api::namespaced(client, "default");
    let widget = |name: &str, min: i32, max: i32, owner: &str| {
        derived::Widget::new(
            name,
            derived::WidgetSpec {
                min,
                max,
                owner: owner.into(),
            },
        )
    };
    widgets
        .create(&PostParams::default(), &widget("w", 1, 2, "me"))
        .await
        .expect("a valid widget is accepted");
    let invalid_message = |e: kube::Error| match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422, "{s:?}");
            s.message
        }
        other => panic!("unexpected error {other:?}"),
    };
    let err = widgets
        .create(&PostParams::default(), &widget("bad", 3, 2, "me"))
        .await
        .expect_err("min > max is rejected");
    assert_eq!(
        invalid_message(err),
        r#"Widget.kubeforge.dev "bad" is invalid: spec: Invalid value: min must not exceed max"#
    );
    let err = widgets
        .create(&PostParams::default(), &widget("reserved", 1, 2, "me"))
        .await
        .expect_err("the reserved name is rejected");
    assert_eq!(
        invalid_message(err),
        r#"Widget.kubeforge.dev "reserved" is invalid: <nil>: Invalid value: this name is reserved"#
    );
    let err = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"owner": "you"}})),
        )
        .await
        .expect_err("the owner cannot change");
    assert_eq!(
        invalid_message(err),
        r#"Widget.kubeforge.dev "w" is invalid: spec.owner: Invalid value: "you": owner is immutable"#
    );
}

/// A CRD whose rules use cel-go's two-variable comprehensions (kube-apiserver ≥ 1.32); the
/// rule on `ports` is the caller's.
fn routes_crd(ports_rule: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "routes.kubeforge.dev"},
        "spec": {
            "group": "kubeforge.dev",
            "scope": "Namespaced",
            "names": {"kind": "Route", "plural": "routes", "singular": "route"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {
                    "type": "object",
                    "x-kubernetes-validations": [{
                        "rule": "self.backends.transformMapEntry(i, b, {b.name: i}).size() == size(self.backends)",
                        "message": "backend names must be unique"
                    }],
                    "properties": {
                        "backends": {
                            "type": "array", "maxItems": 16,
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string", "maxLength": 63},
                                "weight": {"type": "integer"}
                            }},
                            "x-kubernetes-validations": [{
                                "rule": "self.all(i, b, b.weight > 0 || i == 0)",
                                "message": "only the first backend may have no weight"
                            }]
                        },
                        "ports": {
                            "type": "array", "maxItems": 16, "items": {"type": "integer"},
                            "x-kubernetes-validations": [{"rule": ports_rule, "message": "ports must be unique"}]
                        },
                        "labels": {
                            "type": "object", "maxProperties": 16,
                            "additionalProperties": {"type": "string", "maxLength": 63},
                            "x-kubernetes-validations": [{
                                "rule": "self.all(k, v, v != '' || k.startsWith('flag.'))",
                                "messageExpression": "'empty values: ' + self.transformList(k, v, v == '' && !k.startsWith('flag.'), k).join(', ')"
                            }]
                        }
                    }
                }}
            }}}]
        }
    })
}

#[tokio::test]
async fn two_variable_comprehension_rules_through_kube_rs() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};

    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts");
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let rejected = |e: kube::Error| match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422, "{s:?}");
            s.message
        }
        other => panic!("unexpected error {other:?}"),
    };

    // Misused macros and message construction are compile errors at the rule's path.
    let path = "spec.validation.openAPIV3Schema.properties[spec].properties[ports].x-kubernetes-validations[0].rule";
    for (rule, error) in [
        (
            "self.all(1, p, true)",
            "compilation failed: ERROR: <input>:1:10: argument must be a simple name",
        ),
        (
            "self.exists(p, p, true)",
            "compilation failed: ERROR: <input>:1:16: duplicate variable name: p",
        ),
        (
            "self == Port{number: 1}",
            "compilation failed: ERROR: <input>:1:9: undeclared reference to 'Port' (in container '')",
        ),
        // Not in kube-apiserver 1.33's CRD environment: ext.Lists (1.34+) and ext.Bindings.
        (
            "self.sortBy(p, -p) == self",
            "compilation failed: ERROR: <input>:1:12: undeclared reference to 'sortBy' (in container '')",
        ),
        // The authorizer library is admission's, not CRD rules'.
        (
            "self.all(p, p.check('get').allowed())",
            "compilation failed: ERROR: <input>:1:20: undeclared reference to 'check' (in container '')",
        ),
        (
            "cel.bind(s, self, s == s)",
            "compilation failed: ERROR: <input>:1:1: undeclared reference to 'cel' (in container '')",
        ),
    ] {
        let crd: CustomResourceDefinition = serde_json::from_value(routes_crd(rule)).expect("CRD");
        let message = rejected(
            crds.create(&PostParams::default(), &crd)
                .await
                .expect_err("the rule does not compile"),
        );
        assert!(
            message.starts_with(&format!(
                r#"CustomResourceDefinition.apiextensions.k8s.io "routes.kubeforge.dev" is invalid: {path}: Invalid value: "#
            )) && message.contains(error),
            "{message}"
        );
    }

    let crd: CustomResourceDefinition =
        serde_json::from_value(routes_crd("self.all(i, p, self.existsOne(j, q, q == p))"))
            .expect("CRD");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("the CRD is accepted");
    let mut established = false;
    for _ in 0..100 {
        let crd = crds.get("routes.kubeforge.dev").await.expect("CRD");
        established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(established, "the CRD is established");

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("kubeforge.dev", "v1", "Route"));
    let routes: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let route = |name: &str, spec: serde_json::Value| {
        let mut obj = DynamicObject::new(name, &resource);
        obj.data = serde_json::json!({ "spec": spec });
        obj
    };
    routes
        .create(
            &PostParams::default(),
            &route(
                "good",
                serde_json::json!({
                    "backends": [{"name": "a"}, {"name": "b", "weight": 2}],
                    "ports": [80, 443],
                    "labels": {"app": "web", "flag.beta": ""}
                }),
            ),
        )
        .await
        .expect("a valid route is accepted");
    let message = rejected(
        routes
            .create(
                &PostParams::default(),
                &route(
                    "bad",
                    serde_json::json!({
                        "backends": [{"name": "a"}, {"name": "a", "weight": 0}],
                        "ports": [80, 80],
                        "labels": {"app": "", "tier": "", "flag.x": ""}
                    }),
                ),
            )
            .await
            .expect_err("the invalid route is rejected"),
    );
    assert_eq!(
        message,
        concat!(
            r#"Route.kubeforge.dev "bad" is invalid: ["#,
            r#"spec: Invalid value: "object": insert failed: key a already exists evaluating rule: backend names must be unique, "#,
            r#"spec.backends: Invalid value: only the first backend may have no weight, "#,
            r#"spec.ports: Invalid value: ports must be unique, "#,
            r#"spec.labels: Invalid value: empty values: app, tier]"#,
        )
    );
}
