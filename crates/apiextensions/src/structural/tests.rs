//! The rules for a CRD's own schema, one case per rule (paths and messages as upstream).

use super::*;
use serde_json::json;

const P: &str = "spec.validation.openAPIV3Schema";

fn errs(schema: Value) -> Vec<String> {
    validate_schema(&schema, P, false, &crate::objectmeta::Unchecked)
        .into_iter()
        .map(|c| c.message)
        .collect()
}

fn spec_with(props: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}})
}

#[test]
fn valid_schemas_pass() {
    assert!(errs(json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
            "spec": {"type": "object", "required": ["action"], "properties": {
                "action": {"type": "string", "enum": ["label", "kill", "annotate"], "default": "label"},
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "either": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
            }, "x-kubernetes-validations": [{"rule": "self.action != 'kill' || has(self.port)", "message": "kill needs a port"}]},
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
        }
    }))
    .is_empty());
}

#[test]
fn types_are_required() {
    assert_eq!(
        errs(json!({"properties": {"spec": {"properties": {"a": {"items": {}}}}}})),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].items.type: Required value: must not be empty for specified array items",
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].type: Required value: must not be empty for specified object fields",
            "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            "spec.validation.openAPIV3Schema.type: Required value: must not be empty at the root",
        ]
    );
    assert_eq!(
        errs(spec_with(
            json!({"list": {"type": "array", "items": {"description": "x"}}, "bare": {"type": "array"}})
        )),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[bare].items: Required value: must be specified",
            "spec.validation.openAPIV3Schema.properties[spec].properties[list].items.type: Required value: must not be empty for specified array items",
        ]
    );
    assert_eq!(
        errs(json!({"type": "string"})),
        vec![
            r#"spec.validation.openAPIV3Schema.type: Invalid value: "string": must be object at the root"#
        ]
    );
    assert_eq!(
        errs(spec_with(json!({"a": {"type": "thing"}}))),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[a].type: Unsupported value: "thing": supported values: "array", "boolean", "integer", "number", "object", "string""#
        ]
    );
}

#[test]
fn junctors_hold_value_validations_only() {
    assert_eq!(
        errs(spec_with(json!({"a": {"type": "string", "anyOf": [
            {"type": "string", "default": "x", "description": "d", "nullable": true, "pattern": "^a"}]}}))),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].anyOf[0].default: Forbidden: must be undefined to be structural",
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].anyOf[0].description: Forbidden: must be empty to be structural",
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].anyOf[0].nullable: Forbidden: must be false to be structural",
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].anyOf[0].type: Forbidden: must be empty to be structural",
        ]
    );
    assert_eq!(
        errs(
            json!({"type": "object", "properties": {"spec": {"type": "object"}}, "anyOf": [{"properties": {"status": {"type": "object"}}}]})
        ),
        vec![
            "spec.validation.openAPIV3Schema.anyOf[0].properties[status].type: Forbidden: must be empty to be structural",
            "spec.validation.openAPIV3Schema.properties[status]: Required value: because it is defined in spec.validation.openAPIV3Schema.anyOf[0].properties[status]",
        ]
    );
}

#[test]
fn unsupported_keywords() {
    let e = errs(spec_with(json!({
        "a": {"type": "array", "items": [{"type": "string"}]},
        "b": {"type": "string", "$ref": "#/x"},
        "c": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
        "d": {"type": "object", "patternProperties": {"x": {"type": "string"}}},
    })));
    assert_eq!(
        e,
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[a].items: Forbidden: items must be a schema object and not an array",
            "spec.validation.openAPIV3Schema.properties[spec].properties[b].$ref: Forbidden: $ref is not supported",
            "spec.validation.openAPIV3Schema.properties[spec].properties[c].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            "spec.validation.openAPIV3Schema.properties[spec].properties[d].patternProperties: Forbidden: patternProperties is not supported",
        ]
    );
    assert_eq!(
        errs(
            json!({"type": "object", "definitions": {"x": {"type": "string"}}, "id": "x", "dependencies": {"a": ["b"]}, "additionalItems": false})
        ),
        vec![
            "spec.validation.openAPIV3Schema.id: Forbidden: id is not supported",
            "spec.validation.openAPIV3Schema.additionalItems: Forbidden: additionalItems is not supported",
            "spec.validation.openAPIV3Schema.definitions: Forbidden: definitions is not supported",
            "spec.validation.openAPIV3Schema.dependencies: Forbidden: dependencies is not supported",
        ]
    );
}

#[test]
fn properties_and_additional_properties() {
    assert_eq!(
        errs(spec_with(
            json!({"m": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}})
        )),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ]
    );
    assert_eq!(
        errs(json!({"type": "object", "additionalProperties": {"type": "string"}})),
        vec![
            "spec.validation.openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root"
        ]
    );
}

#[test]
fn metadata_and_defaults() {
    assert_eq!(
        errs(
            json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})
        ),
        vec![
            "spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
        ]
    );
    assert_eq!(
        errs(
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}})
        ),
        vec![
            "spec.validation.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata"
        ]
    );
    assert_eq!(
        errs(spec_with(
            json!({"replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 0}})
        )),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: 0:  in body should be greater than or equal to 1"
        ]
    );
    assert_eq!(
        errs(spec_with(
            json!({"action": {"type": "string", "enum": ["label", "kill"], "default": "explode"}})
        )),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[action].default: Unsupported value: "explode": supported values: "label", "kill""#
        ]
    );
}

#[test]
fn list_and_map_types() {
    assert_eq!(
        errs(spec_with(json!({
            "a": {"type": "string", "x-kubernetes-list-type": "set"},
            "b": {"type": "array", "x-kubernetes-list-type": "bag", "items": {"type": "string"}},
            "c": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "d": {"type": "array", "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "e": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k", "nope"],
                  "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "f": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "g": {"type": "object", "x-kubernetes-map-type": "sometimes"}
        }))),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[a].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#,
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[b].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#,
            "spec.validation.openAPIV3Schema.properties[spec].properties[c].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
            "spec.validation.openAPIV3Schema.properties[spec].properties[d].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty",
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[e].x-kubernetes-list-map-keys: Invalid value: ["k","nope"]: entries must all be names of item properties"#,
            "spec.validation.openAPIV3Schema.properties[spec].properties[e].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            "spec.validation.openAPIV3Schema.properties[spec].properties[f].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set",
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[g].x-kubernetes-map-type: Unsupported value: "sometimes": supported values: "atomic", "granular""#,
        ]
    );
}

#[test]
fn extensions() {
    assert_eq!(
        errs(spec_with(json!({
            "a": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true},
            "b": {"type": "string", "x-kubernetes-embedded-resource": true},
            "c": {"type": "object", "x-kubernetes-embedded-resource": true},
            "d": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}
        }))),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"#,
            "spec.validation.openAPIV3Schema.properties[spec].properties[b].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[b].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#,
            "spec.validation.openAPIV3Schema.properties[spec].properties[c].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            "spec.validation.openAPIV3Schema.properties[spec].properties[d].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
        ]
    );
    assert_eq!(
        errs(spec_with(
            json!({"d": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}})
        )),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[d].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
        ]
    );
    assert_eq!(
        errs(spec_with(
            json!({"p": {"type": "string", "pattern": "a(b"}})
        )),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[p].pattern: Invalid value: "a(b": must be a valid regular expression, but isn't: error parsing regexp: missing closing ): `a(b`"#
        ]
    );
}

#[test]
fn validation_rules() {
    let rule_errs = |rules: Value| {
        errs(spec_with(
            json!({"x": {"type": "integer", "x-kubernetes-validations": rules}}),
        ))
    };
    assert_eq!(
        rule_errs(json!([{"rule": "self.y > 0"}])),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[0].rule: Invalid value: {\"Rule\":\"self.y \\u003e 0\",\"Message\":\"\",\"MessageExpression\":\"\",\"Reason\":null,\"FieldPath\":\"\",\"OptionalOldSelf\":null}: compilation failed: ERROR: <input>:1:5: type 'int' does not support field selection\n | self.y > 0\n | ....^"
        ]
    );
    assert_eq!(
        rule_errs(
            json!([{"rule": " "}, {"rule": "self > 0", "message": "a\nb"}, {"rule": "self > 0", "reason": "Bad"},
                         {"rule": "self > 0", "fieldPath": ".nope"}, {"rule": "self\n > 0"}])
        ),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[0].rule: Required value: rule is not specified",
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[1].message: Invalid value: "a\nb": must not contain line breaks"#,
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[2].reason: Unsupported value: "Bad": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired""#,
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[3].fieldPath: Invalid value: ".nope": must be a valid path"#,
            "spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[4].message: Required value: message must be specified if rule contains line breaks",
        ]
    );
    assert_eq!(
        rule_errs(json!([{"rule": "self > 0", "optionalOldSelf": true}])),
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[x].x-kubernetes-validations[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"
        ]
    );
    // oldSelf inside a list that is not a map list cannot be correlated.
    assert_eq!(
        errs(spec_with(
            json!({"l": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}})
        )),
        vec![
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[l].items.x-kubernetes-validations[0].rule: Invalid value: "self == oldSelf": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[l]"#
        ]
    );
}

#[test]
fn rule_costs() {
    let unbounded = errs(spec_with(
        json!({"l": {"type": "array", "items": {"type": "string"},
        "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x == y || x != y))"}]}}),
    ));
    assert_eq!(
        unbounded,
        vec![
            "spec.validation.openAPIV3Schema.properties[spec].properties[l].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)",
            "spec.validation.openAPIV3Schema.properties[spec].properties[l].x-kubernetes-validations[0].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
            "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)",
        ]
    );
    assert!(errs(spec_with(json!({"l": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 20},
        "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x == y || x != y))"}]}}))).is_empty());
}

#[test]
fn status_subresource_root() {
    let with_status = |schema: Value| -> Vec<String> {
        validate_schema(&schema, P, true, &crate::objectmeta::Unchecked)
            .into_iter()
            .map(|c| c.message)
            .collect()
    };
    assert!(
        with_status(json!({"type": "object", "properties": {"status": {"type": "object"}}}))
            .is_empty()
    );
    assert_eq!(
        with_status(json!({"type": "object", "nullable": true, "properties": {}}))[0],
        "spec.validation.openAPIV3Schema: Invalid value: {\"nullable\":true,\"properties\":{},\"type\":\"object\"}: only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled"
    );
}
