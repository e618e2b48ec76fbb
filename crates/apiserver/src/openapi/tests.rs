//! Whole-model tests: what kubectl looks for in each document.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use prost::Message as _;
use serde_json::{Map, Value, json};

use super::gnostic;
use super::*;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const CONFIGMAP_ITEM: &str = "/api/v1/namespaces/{namespace}/configmaps/{name}";

fn foo_kind() -> OpenApiKind {
    OpenApiKind {
        group: "samplecontroller.k8s.io".into(),
        version: "v1alpha1".into(),
        kind: "Foo".into(),
        plural: "foos".into(),
        namespaced: true,
        subresources: vec!["status".into()],
        schema_name: "io.k8s.samplecontroller.v1alpha1.Foo".into(),
    }
}

fn foo_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
            "spec": {
                "type": "object",
                "required": ["deploymentName"],
                "properties": {
                    "deploymentName": {"type": "string"},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "note": {"type": "string", "nullable": true},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}},
                    "anything": {"type": "array", "x-kubernetes-preserve-unknown-fields": true},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                    "data": {"type": "object", "default": {"$ref": "not a reference"}},
                },
            },
            "status": {"type": "object", "properties": {"availableReplicas": {"type": "integer"}}},
        },
    })
}

fn model() -> OpenApiModel {
    let mut model = OpenApiModel::new();
    model.add_builtin::<ConfigMap>("configmaps", true, &[]);
    model.add_builtin::<Deployment>("deployments", true, &["status", "scale"]);
    model.add_custom(foo_kind(), Some(&foo_schema()));
    model
}

/// A model with more of the tricky built-ins (recursive JSONSchemaProps, int-or-string, ...).
fn big_model() -> OpenApiModel {
    let mut model = model();
    model.add_builtin::<Pod>(
        "pods",
        true,
        &["status", "ephemeralcontainers", "log", "eviction"],
    );
    model.add_builtin::<Namespace>("namespaces", false, &["status", "finalize"]);
    model.add_builtin::<CustomResourceDefinition>("customresourcedefinitions", false, &["status"]);
    model.add_custom(
        OpenApiKind {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Loose".into(),
            plural: "looses".into(),
            namespaced: false,
            subresources: vec!["scale".into()],
            schema_name: String::new(),
        },
        None,
    );
    model
}

fn gvk(group: &str, kind: &str, version: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// Every `$ref` anywhere in the document (a generic walk: our documents carry no `$ref` keys in
/// data except where a test puts one in a `default`, which is skipped by name).
fn all_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "$ref" {
                    if let Value::String(r) = item {
                        out.push(r.clone());
                    }
                } else if key != "default" {
                    all_refs(item, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| all_refs(i, out)),
        _ => {}
    }
}

fn assert_refs_resolve(doc: &Value, prefix: &str, container: &[&str]) {
    let mut target = doc;
    for key in container {
        target = &target[*key];
    }
    let mut refs = Vec::new();
    all_refs(doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("ref {r} does not start with {prefix}"));
        assert!(target.get(name).is_some(), "ref {r} does not resolve");
    }
}

fn has_query_param(op: &Value, name: &str) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "query"))
}

#[test]
fn v3_root_lists_every_group_version_with_its_hash() {
    let model = model();
    let root = model.v3_root();
    let paths = root["paths"].as_object().expect("paths");
    let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "api/v1",
            "apis/apps/v1",
            "apis/samplecontroller.k8s.io/v1alpha1"
        ]
    );
    for (group, version, key) in [
        ("", "v1", "api/v1"),
        ("apps", "v1", "apis/apps/v1"),
        (
            "samplecontroller.k8s.io",
            "v1alpha1",
            "apis/samplecontroller.k8s.io/v1alpha1",
        ),
    ] {
        let hash = model.v3_hash(group, version).expect("hash");
        assert_eq!(hash.len(), 64);
        assert_eq!(
            paths[key]["serverRelativeURL"],
            format!("/openapi/v3/{key}?hash={hash}")
        );
    }
    assert!(model.v3_document("nothing.example.com", "v1").is_none());
    assert!(model.v3_hash("nothing.example.com", "v1").is_none());
}

#[test]
fn rendering_is_deterministic() {
    let a = model();
    let b = model();
    assert_eq!(a.v3_hash("apps", "v1"), b.v3_hash("apps", "v1"));
    assert_eq!(a.v2_protobuf(), b.v2_protobuf());
    let mut c = model();
    c.add_builtin::<Pod>("pods", true, &[]);
    assert_ne!(a.v3_hash("", "v1"), c.v3_hash("", "v1"));
    assert_eq!(a.v3_hash("apps", "v1"), c.v3_hash("apps", "v1"));
}

#[test]
fn core_document_has_patch_with_gvk_and_field_validation() {
    let doc = model().v3_document("", "v1").expect("core document");
    assert_eq!(doc["openapi"], "3.0.0");
    let patch = &doc["paths"][CONFIGMAP_ITEM]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        gvk("", "ConfigMap", "v1")
    );
    assert_eq!(patch["x-kubernetes-action"], "patch");
    for name in ["fieldValidation", "dryRun", "fieldManager", "force"] {
        assert!(has_query_param(patch, name), "patch lacks {name}");
    }
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    for ct in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(content.contains_key(ct), "patch lacks {ct}");
    }
    // Every operation is tagged, as kubectl's verifier and explain expect.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method != "parameters" {
                assert!(
                    op["x-kubernetes-group-version-kind"].is_object(),
                    "{path} {method}"
                );
                assert!(op["x-kubernetes-action"].is_string(), "{path} {method}");
            }
        }
    }
    assert!(doc["paths"]["/api/v1/configmaps"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["delete"].is_object());
    assert!(doc["paths"][CONFIGMAP_ITEM]["put"].is_object());
    assert!(doc["paths"][CONFIGMAP_ITEM]["delete"].is_object());

    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.core.v1.ConfigMap"]["x-kubernetes-group-version-kind"],
        json!([gvk("", "ConfigMap", "v1")])
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.ConfigMapList"]["x-kubernetes-group-version-kind"],
        json!([gvk("", "ConfigMapList", "v1")])
    );
    assert!(schemas[OBJECT_META].is_object());
    for name in ["ListMeta", "Status", "DeleteOptions", "Patch"] {
        assert!(
            schemas[format!("io.k8s.apimachinery.pkg.apis.meta.v1.{name}")].is_object(),
            "{name}"
        );
    }
    // Not reachable from core/v1.
    assert!(schemas.get("io.k8s.api.apps.v1.Deployment").is_none());
    // metadata is not required (k8s-openapi says it is; upstream does not).
    assert!(
        schemas["io.k8s.api.core.v1.ConfigMap"]
            .get("required")
            .is_none()
    );
}

#[test]
fn refs_resolve_within_each_document() {
    let model = big_model();
    for (group, version) in model.group_versions() {
        let doc = model.v3_document(&group, &version).expect("document");
        assert_refs_resolve(&doc, "#/components/schemas/", &["components", "schemas"]);
    }
    let v2 = model.v2_json();
    assert_refs_resolve(&v2, "#/definitions/", &["definitions"]);
}

#[test]
fn v3_refs_with_siblings_are_wrapped_in_all_of() {
    let doc = model().v3_document("", "v1").expect("core document");
    let metadata =
        &doc["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"]["properties"]["metadata"];
    assert_eq!(
        metadata["allOf"],
        json!([{"$ref": format!("#/components/schemas/{OBJECT_META}")}])
    );
    assert!(metadata["description"].is_string());
    assert!(metadata.get("$ref").is_none());
}

#[test]
fn apps_document_has_subresources() {
    let doc = model().v3_document("apps", "v1").expect("apps document");
    let base = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";
    let status = &doc["paths"][format!("{base}/status")];
    assert_eq!(
        status["patch"]["x-kubernetes-group-version-kind"],
        gvk("apps", "Deployment", "v1")
    );
    assert!(has_query_param(&status["patch"], "fieldValidation"));
    let scale = &doc["paths"][format!("{base}/scale")];
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"],
        gvk("autoscaling", "Scale", "v1")
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"],
        json!([gvk("autoscaling", "Scale", "v1")])
    );
    assert!(schemas["io.k8s.api.apps.v1.DeploymentSpec"].is_object());
    assert!(schemas["io.k8s.api.core.v1.PodTemplateSpec"].is_object());
}

/// What `kubectl explain deployments` does: find the GVK on an operation of one of four paths,
/// then the component schema whose GVK list contains exactly that object.
#[test]
fn explain_can_find_kinds() {
    let model = model();
    for (group, version, plural, prefix) in [
        ("", "v1", "configmaps", "/api/v1"),
        ("apps", "v1", "deployments", "/apis/apps/v1"),
        (
            "samplecontroller.k8s.io",
            "v1alpha1",
            "foos",
            "/apis/samplecontroller.k8s.io/v1alpha1",
        ),
    ] {
        let doc = model.v3_document(group, version).expect("document");
        let candidates = [
            format!("{prefix}/{plural}"),
            format!("{prefix}/{plural}/{{name}}"),
            format!("{prefix}/namespaces/{{namespace}}/{plural}"),
            format!("{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"),
        ];
        let found = candidates.iter().find_map(|path| {
            let item = doc["paths"].get(path)?;
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .find_map(|m| item.get(*m)?.get("x-kubernetes-group-version-kind"))
        });
        let found = found.unwrap_or_else(|| panic!("no GVK for {plural}"));
        let matching = doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .values()
            .filter(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.contains(found))
            })
            .count();
        assert_eq!(matching, 1, "{plural}");
    }
}

#[test]
fn custom_kind_is_shaped_like_upstream() {
    let doc = model()
        .v3_document("samplecontroller.k8s.io", "v1alpha1")
        .expect("custom document");
    let foo = &doc["components"]["schemas"]["io.k8s.samplecontroller.v1alpha1.Foo"];
    assert_eq!(
        foo["x-kubernetes-group-version-kind"],
        json!([gvk("samplecontroller.k8s.io", "Foo", "v1alpha1")])
    );
    let metadata = &foo["properties"]["metadata"];
    let reference = metadata["$ref"]
        .as_str()
        .or_else(|| metadata["allOf"][0]["$ref"].as_str());
    assert_eq!(
        reference,
        Some(format!("#/components/schemas/{OBJECT_META}").as_str())
    );
    assert!(metadata.get("properties").is_none());
    for field in ["apiVersion", "kind"] {
        assert_eq!(foo["properties"][field]["type"], "string");
        assert!(foo["properties"][field]["description"].is_string());
    }
    // Embedded resources get type meta too.
    let template = &foo["properties"]["spec"]["properties"]["template"];
    assert_eq!(template["properties"]["kind"]["type"], "string");
    assert_eq!(template["required"], json!(["kind", "apiVersion"]));
    // v3 keeps the CRD schema's own keywords.
    let port = &foo["properties"]["spec"]["properties"]["port"];
    assert!(port["anyOf"].is_array());
    // Data is not mistaken for a schema.
    assert_eq!(
        foo["properties"]["spec"]["properties"]["data"]["default"],
        json!({"$ref": "not a reference"})
    );

    let item =
        &doc["paths"]["/apis/samplecontroller.k8s.io/v1alpha1/namespaces/{namespace}/foos/{name}"];
    assert!(has_query_param(&item["patch"], "fieldValidation"));
    let content = item["patch"]["requestBody"]["content"]
        .as_object()
        .expect("content");
    assert!(!content.contains_key("application/strategic-merge-patch+json"));
    assert!(
        doc["paths"]["/apis/samplecontroller.k8s.io/v1alpha1/namespaces/{namespace}/foos/{name}/status"]
            ["put"]
            .is_object()
    );
    let list = &doc["components"]["schemas"]["io.k8s.samplecontroller.v1alpha1.FooList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.k8s.samplecontroller.v1alpha1.Foo"
    );
}

#[test]
fn custom_kind_without_schema_preserves_unknown_fields() {
    let model = big_model();
    let doc = model.v3_document("example.com", "v1").expect("document");
    let loose = &doc["components"]["schemas"]["com.example.v1.Loose"];
    assert_eq!(loose["type"], "object");
    assert_eq!(loose["x-kubernetes-preserve-unknown-fields"], true);
    assert!(loose["properties"]["metadata"].is_object());
    // swagger 2.0 publishes it as a bare object, as upstream does.
    let v2 = model.v2_json();
    assert_eq!(
        v2["definitions"]["com.example.v1.Loose"],
        json!({"type": "object", "x-kubernetes-group-version-kind": [gvk("example.com", "Loose", "v1")]})
    );
}

#[test]
fn replacing_a_kind_keeps_one_entry() {
    let mut model = model();
    let mut kind = foo_kind();
    kind.subresources.clear();
    model.add_custom(kind, None);
    let doc = model
        .v3_document("samplecontroller.k8s.io", "v1alpha1")
        .expect("document");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.keys().any(|p| p.ends_with("/status")));
    assert_eq!(
        doc["components"]["schemas"]["io.k8s.samplecontroller.v1alpha1.Foo"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
    assert_eq!(model.kinds().len(), 3);
}

/// kube-openapi's `proto.NewOpenAPIData` rules, which kubectl applies to every v2 definition.
fn check_v2_schema(schema: &Value, path: &str, definitions: &Map<String, Value>) {
    let map = schema
        .as_object()
        .unwrap_or_else(|| panic!("{path}: not an object"));
    let types: Vec<&str> = match map.get("type") {
        None => Vec::new(),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(other) => panic!("{path}: type {other}"),
    };
    if let Some(reference) = map.get("$ref") {
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .unwrap_or_else(|| panic!("{path}: bad ref {reference}"));
        assert!(definitions.contains_key(name), "{path}: unknown {name}");
        assert!(
            map.get("properties").is_none(),
            "{path}: ref with properties"
        );
        assert!(types.is_empty(), "{path}: ref with type");
        return;
    }
    for key in ["oneOf", "anyOf", "not", "nullable"] {
        assert!(map.get(key).is_none(), "{path}: {key}");
    }
    let properties = map.get("properties").and_then(Value::as_object);
    match types.first().copied() {
        None | Some("object") => {
            if let Some(properties) = properties {
                for (name, property) in properties {
                    check_v2_schema(property, &format!("{path}.{name}"), definitions);
                }
            } else if let Some(additional) = map.get("additionalProperties")
                && additional.is_object()
            {
                check_v2_schema(additional, &format!("{path}[*]"), definitions);
            }
        }
        Some("array") => {
            let items = map
                .get("items")
                .unwrap_or_else(|| panic!("{path}: array without items"));
            assert!(items.is_object(), "{path}: items must be one schema");
            check_v2_schema(items, &format!("{path}[]"), definitions);
        }
        Some(t) => assert!(
            ["string", "number", "integer", "boolean"].contains(&t),
            "{path}: unknown primitive {t}"
        ),
    }
}

#[test]
fn v2_definitions_pass_kubectl_parser_rules() {
    let v2 = big_model().v2_json();
    assert_eq!(v2["swagger"], "2.0");
    let definitions = v2["definitions"].as_object().expect("definitions");
    assert!(
        definitions.contains_key(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
        )
    );
    for (name, schema) in definitions {
        check_v2_schema(schema, name, definitions);
    }
    // CRD-specific simplifications.
    let spec = &definitions["io.k8s.samplecontroller.v1alpha1.Foo"]["properties"]["spec"];
    let props = &spec["properties"];
    assert!(props["port"].get("type").is_none());
    assert!(props["note"].get("type").is_none());
    assert!(props["free"].get("properties").is_none());
    assert!(props["anything"].get("type").is_none());
    assert_eq!(props["tags"]["items"]["type"], "string");
    assert_eq!(spec["required"], json!(["deploymentName"]));
    assert_eq!(
        definitions["io.k8s.samplecontroller.v1alpha1.Foo"]["properties"]["metadata"]["$ref"],
        format!("#/definitions/{OBJECT_META}")
    );
    // Untyped, as upstream publishes it.
    assert!(
        definitions["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"]
            .get("type")
            .is_none()
    );
}

#[test]
fn v2_has_the_same_operations() {
    let v2 = model().v2_json();
    let patch = &v2["paths"][CONFIGMAP_ITEM]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        gvk("", "ConfigMap", "v1")
    );
    assert!(has_query_param(patch, "fieldValidation"));
    assert_eq!(
        patch["consumes"],
        json!([
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml"
        ])
    );
    let body = patch["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["in"] == "body"))
        .expect("body parameter");
    assert_eq!(
        body["schema"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    assert!(
        v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
            .is_object()
    );
    assert!(v2["paths"]["/apis/samplecontroller.k8s.io/v1alpha1/namespaces/{namespace}/foos/{name}"]["patch"].is_object());
}

/// What kubectl 1.27/1.28 do with the protobuf: `supportsQueryParam` in cli-runtime's
/// `query_param_verifier.go`, and model GVK lookup.
#[test]
fn v2_protobuf_decodes_to_the_document() {
    let model = model();
    let bytes = model.v2_protobuf();
    let doc = gnostic::Document::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(doc.swagger, "2.0");

    let wanted = gvk("", "ConfigMap", "v1");
    let paths = doc.paths.as_ref().expect("paths");
    let tagged: Vec<&gnostic::NamedPathItem> = paths
        .path
        .iter()
        .filter(|p| {
            p.value
                .as_ref()
                .and_then(|v| v.patch.as_ref())
                .is_some_and(|op| {
                    op.vendor_extension.iter().any(|e| {
                        e.name == "x-kubernetes-group-version-kind"
                            && e.value
                                .as_ref()
                                .and_then(|v| serde_json::from_str::<Value>(&v.yaml).ok())
                                == Some(wanted.clone())
                    })
                })
        })
        .collect();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].name, CONFIGMAP_ITEM);
    let patch = tagged[0]
        .value
        .as_ref()
        .and_then(|v| v.patch.as_ref())
        .expect("patch");
    let query_names: BTreeSet<&str> = patch
        .parameters
        .iter()
        .filter_map(|p| match p.parameter.as_ref()?.oneof.as_ref()? {
            gnostic::parameter::Oneof::NonBodyParameter(nb) => match nb.oneof.as_ref()? {
                gnostic::non_body_parameter::Oneof::QueryParameterSubSchema(q) => {
                    Some(q.name.as_str())
                }
                gnostic::non_body_parameter::Oneof::PathParameterSubSchema(_) => None,
            },
            gnostic::parameter::Oneof::BodyParameter(_) => None,
        })
        .collect();
    assert!(query_names.contains("fieldValidation"));
    assert!(query_names.contains("force"));
    assert!(
        patch
            .consumes
            .iter()
            .any(|c| c == "application/merge-patch+json")
    );

    let definitions = doc.definitions.as_ref().expect("definitions");
    let configmap = definitions
        .additional_properties
        .iter()
        .find(|d| d.name == "io.k8s.api.core.v1.ConfigMap")
        .and_then(|d| d.value.as_ref())
        .expect("ConfigMap definition");
    let tags = configmap
        .vendor_extension
        .iter()
        .find(|e| e.name == "x-kubernetes-group-version-kind")
        .and_then(|e| e.value.as_ref())
        .map(|v| serde_json::from_str::<Value>(&v.yaml).expect("flow YAML of a JSON value"));
    assert_eq!(tags, Some(json!([wanted])));
    let metadata = configmap
        .properties
        .as_ref()
        .and_then(|p| {
            p.additional_properties
                .iter()
                .find(|p| p.name == "metadata")
        })
        .and_then(|p| p.value.as_ref())
        .expect("metadata");
    assert_eq!(metadata.xref, format!("#/definitions/{OBJECT_META}"));
    assert!(metadata.r#type.is_none());
}

#[test]
fn custom_schema_names_reverse_the_group() {
    assert_eq!(
        custom_schema_name("samplecontroller.k8s.io", "v1alpha1", "Foo"),
        "io.k8s.samplecontroller.v1alpha1.Foo"
    );
    assert_eq!(custom_schema_name("", "v1", "Thing"), "v1.Thing");
}

/// Descriptions are upstream's, not ours: list schemas (built-in and custom) and query
/// parameters.
#[test]
fn v2_descriptions_are_upstreams() {
    let v2 = model().v2_json();
    let defs = &v2["definitions"];
    let cm_list = &defs["io.k8s.api.core.v1.ConfigMapList"];
    assert_eq!(
        cm_list["description"],
        "ConfigMapList is a resource containing a list of ConfigMap objects."
    );
    assert_eq!(
        cm_list["properties"]["items"]["description"],
        "Items is the list of ConfigMaps."
    );
    assert_eq!(
        cm_list["properties"]["metadata"]["description"],
        "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
    );
    let foo_list = &defs["io.k8s.samplecontroller.v1alpha1.FooList"];
    assert_eq!(foo_list["description"], "FooList is a list of Foo");
    assert_eq!(
        foo_list["properties"]["items"]["description"],
        "List of foos. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
    );
    let param = |op: &Value, name: &str| -> String {
        op["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .and_then(|p| p["description"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let collection = &v2["paths"]["/api/v1/namespaces/{namespace}/configmaps"];
    assert!(
        param(&collection["get"], "limit")
            .starts_with("limit is a maximum number of responses to return for a list call."),
        "{}",
        param(&collection["get"], "limit")
    );
    assert!(
        param(&collection["delete"], "propagationPolicy")
            .starts_with("Whether and how garbage collection will be performed."),
    );
    assert!(
        param(&v2["paths"][CONFIGMAP_ITEM]["patch"], "force")
            .starts_with("Force is going to \"force\" Apply requests."),
    );
    // `pretty` is a parameter of the path, shared by its operations.
    let pretty = param(collection, "pretty");
    assert!(
        pretty.starts_with("If 'true', then the output is pretty printed."),
        "{pretty}"
    );
}

#[test]
fn built_in_kinds_are_served_in_protobuf_too() {
    use super::paths::response_content_types;
    assert_eq!(
        response_content_types(&Gvk::new("apps", "v1", "Deployment")),
        &[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf"
        ]
    );
    assert_eq!(response_content_types(&Gvk::new("", "v1", "Pod")).len(), 3);
    assert_eq!(
        response_content_types(&Gvk::new("example.com", "v1", "Widget")),
        &["application/json", "application/yaml"]
    );
}
