//! CRD validation: one case per rule, messages and paths as kube-apiserver reports them.

use super::*;
use serde_json::json;

/// The sample-controller CRD, as `kubectl create` would send it (then defaulted by the server).
fn foo() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.samplecontroller.k8s.io",
            "annotations": {"api-approved.kubernetes.io": "unapproved, experimental-only; please get an approval from Kubernetes API reviewers if you're trying to develop a CRD in the *.k8s.io or *.kubernetes.io groups"}},
        "spec": {
            "group": "samplecontroller.k8s.io",
            "scope": "Namespaced",
            "names": {"kind": "Foo", "plural": "foos"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "deploymentName": {"type": "string"},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10}}},
                    "status": {"type": "object", "properties": {"availableReplicas": {"type": "integer"}}}}}},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]}]
        },
        "status": {"storedVersions": ["v1alpha1"]}
    })
}

fn errs(mut crd: Value) -> Vec<String> {
    apply_defaults(&mut crd);
    validate_crd(&crd).into_iter().map(|c| c.message).collect()
}

fn with(mut crd: Value, pointer: &str, v: Value) -> Value {
    *crd.pointer_mut(pointer).expect("pointer") = v;
    crd
}

#[test]
fn the_sample_crd_is_valid_and_defaulted() {
    let mut crd = foo();
    apply_defaults(&mut crd);
    assert_eq!(crd["spec"]["names"]["singular"], "foo");
    assert_eq!(crd["spec"]["names"]["listKind"], "FooList");
    assert_eq!(crd["spec"]["conversion"]["strategy"], "None");
    assert_eq!(errs(foo()), Vec::<String>::new());
}

#[test]
fn protected_groups_need_approval() {
    let mut crd = foo();
    crd["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert_eq!(
        errs(crd.clone()),
        vec![
            r#"metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111"#
        ]
    );
    crd["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "maybe"});
    assert_eq!(
        errs(crd.clone()),
        vec![
            r#"metadata.annotations[api-approved.kubernetes.io]: Invalid value: "maybe": protected groups must have approval annotation "api-approved.kubernetes.io" with either a URL or a reason starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111"#
        ]
    );
    crd["metadata"]["annotations"] =
        json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"});
    assert!(errs(crd).is_empty());
}

#[test]
fn names() {
    let crd = with(
        foo(),
        "/spec/names",
        json!({"kind": "Foo_Bar", "plural": "Foos", "singular": "foo", "shortNames": ["1x"], "listKind": "Foo_Bar", "categories": ["all"]}),
    );
    let crd = with(crd, "/metadata/name", json!("Foos.samplecontroller.k8s.io"));
    assert_eq!(
        errs(crd),
        vec![
            r#"spec.names.plural: Invalid value: "Foos": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            r#"spec.names.kind: Invalid value: "Foo_Bar": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            r#"spec.names.listKind: Invalid value: "Foo_Bar": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            r#"spec.names.shortNames[0]: Invalid value: "1x": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            r#"spec.names.listKind: Invalid value: "Foo_Bar": kind and listKind may not be the same"#,
        ]
    );
    assert_eq!(
        errs(with(
            foo(),
            "/metadata/name",
            json!("bars.samplecontroller.k8s.io")
        )),
        vec![
            r#"metadata.name: Invalid value: "bars.samplecontroller.k8s.io": must be spec.names.plural+"."+spec.group"#
        ]
    );
    let no_kind = with(foo(), "/spec/names", json!({"plural": "foos"}));
    assert_eq!(
        errs(no_kind),
        vec![
            "spec.names.singular: Required value",
            "spec.names.kind: Required value",
            "spec.names.listKind: Required value"
        ]
    );
}

#[test]
fn group_and_scope() {
    let crd = with(foo(), "/spec/group", json!("example"));
    let crd = with(crd, "/metadata/name", json!("foos.example"));
    let crd = with(crd, "/spec/scope", json!("Galaxy"));
    assert_eq!(
        errs(crd),
        vec![
            r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#,
            r#"spec.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced""#,
        ]
    );
}

#[test]
fn exactly_one_storage_version() {
    let v = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage,
        "schema": {"openAPIV3Schema": {"type": "object"}}})
    };
    let two = with(
        foo(),
        "/spec/versions",
        json!([v("v1", true), v("v2", true)]),
    );
    let two = with(two, "/status/storedVersions", json!(["v1", "v2"]));
    assert_eq!(
        errs(two),
        vec![
            r#"spec.versions: Invalid value: [{"Name":"v1","Served":true,"Storage":true,"Deprecated":false,"DeprecationWarning":null,"Schema":null,"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null},{"Name":"v2","Served":true,"Storage":true,"Deprecated":false,"DeprecationWarning":null,"Schema":null,"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]: must have exactly one version marked as storage version"#
        ]
    );
    let none = with(foo(), "/spec/versions", json!([v("v1", false)]));
    let none = with(none, "/status/storedVersions", json!([]));
    let msgs = errs(none);
    assert!(
        msgs[0].ends_with("must have exactly one version marked as storage version"),
        "{msgs:?}"
    );
    assert_eq!(
        msgs[1],
        "status.storedVersions: Invalid value: []: must have at least one stored version"
    );
    let dup = with(
        foo(),
        "/spec/versions",
        json!([v("v1", true), v("v1", false)]),
    );
    let dup = with(dup, "/status/storedVersions", json!(["v1"]));
    assert!(errs(dup)[0].ends_with("must contain unique version names"));
    let bad_name = with(foo(), "/spec/versions/0/name", json!("V1"));
    let bad_name = with(bad_name, "/status/storedVersions", json!(["V1"]));
    let msgs = errs(bad_name);
    assert!(msgs[0].starts_with(r#"spec.versions[0].name: Invalid value: "V1": a DNS-1035 label"#));
    assert!(msgs[1].starts_with(r#"spec.version: Invalid value: "V1": a DNS-1035 label"#));
}

#[test]
fn schemas_are_reported_where_upstream_reports_them() {
    let bad =
        json!({"openAPIV3Schema": {"type": "object", "properties": {"spec": {"properties": {}}}}});
    // One version: the schema is the CRD's (top-level) validation.
    assert_eq!(
        errs(with(foo(), "/spec/versions/0/schema", bad.clone())),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        ]
    );
    // Versions with different schemas report per version.
    let mut crd = foo();
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = json!("v1beta1");
    v2["storage"] = json!(false);
    v2["schema"] = bad;
    crd["spec"]["versions"].as_array_mut().unwrap().push(v2);
    assert_eq!(
        errs(crd),
        vec![
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        ]
    );
    let mut missing = foo();
    missing["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    assert_eq!(
        errs(missing),
        vec!["spec.versions[0].schema.openAPIV3Schema: Required value"]
    );
}

#[test]
fn printer_columns_and_scale() {
    let cols = json!([
        {"name": "A", "type": "text", "jsonPath": ".spec.a"},
        {"name": "B", "type": "string", "format": "fancy", "jsonPath": "spec.b"},
        {"name": "", "type": "string", "jsonPath": ".spec.c["},
        {"name": "D", "type": "string"}
    ]);
    assert_eq!(
        errs(with(
            foo(),
            "/spec/versions/0/additionalPrinterColumns",
            cols
        )),
        vec![
            r#"spec.additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string"#,
            r#"spec.additionalPrinterColumns[1].format: Invalid value: "fancy": must be one of byte,date,date-time,double,float,int32,int64,password"#,
            r#"spec.additionalPrinterColumns[1].JSONPath: Invalid value: "spec.b": must be a simple json path starting with ."#,
            "spec.additionalPrinterColumns[2].name: Required value",
            r#"spec.additionalPrinterColumns[2].JSONPath: Invalid value: ".spec.c[": invalid JSONPath ".spec.c[": unclosed ["#,
            "spec.additionalPrinterColumns[3].JSONPath: Required value",
        ]
    );
    let scale = json!({"status": {}, "scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": "status.replicas", "labelSelectorPath": ".metadata.labels"}});
    assert_eq!(
        errs(with(foo(), "/spec/versions/0/subresources", scale)),
        vec![
            r#"spec.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec"#,
            r#"spec.subresources.scale.statusReplicasPath: Invalid value: "status.replicas": must be a simple json path starting with ."#,
            r#"spec.subresources.scale.labelSelectorPath: Invalid value: ".metadata.labels": should be a json path under either .spec or .status"#,
        ]
    );
}

#[test]
fn defaults_need_pruning_off_and_valid_values() {
    let mut crd = foo();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"]
        ["default"] = json!(11);
    assert_eq!(
        errs(crd.clone()),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: 11:  in body should be less than or equal to 10"
        ]
    );
    let mut preserving = with(
        crd,
        "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/replicas/default",
        json!(1),
    );
    preserving["spec"]["preserveUnknownFields"] = json!(true);
    assert_eq!(
        errs(preserving),
        vec![
            "spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema",
            "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ]
    );
}

#[test]
fn updates_keep_identity() {
    let mut old = foo();
    apply_defaults(&mut old);
    old["status"]["conditions"] = json!([{"type": "Established", "status": "True"}]);
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["names"]["kind"] = json!("Bar");
    new["spec"]["names"]["listKind"] = json!("BarList");
    let msgs: Vec<String> = validate_crd_update(&new, &old)
        .into_iter()
        .map(|c| c.message)
        .collect();
    assert_eq!(
        msgs,
        vec![
            r#"spec.scope: Invalid value: "Cluster": field is immutable"#,
            r#"spec.names.kind: Invalid value: "Bar": field is immutable"#,
        ]
    );
    // The approval annotation is only checked when it changes.
    let mut unannotated = old.clone();
    unannotated["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert!(validate_crd_update(&unannotated, &unannotated).is_empty());
}
