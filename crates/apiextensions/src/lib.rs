//! The apiextensions schema machinery: a CustomResourceDefinition version's structural schema,
//! compiled once, and everything kube-apiserver does with it — validation (with upstream's
//! messages), defaulting, pruning, list types, formats, patterns, ratcheting and CEL
//! `x-kubernetes-validations` — as `k8s.io/apiextensions-apiserver/pkg/apiserver/schema` is its
//! own package. It knows nothing of serving: it takes JSON values and gives [`FieldCause`]s.
//! The one thing it asks of its user is how `ObjectMeta` is decoded and validated, for embedded
//! resources' metadata ([`objectmeta::ObjectMetaRules`]).
//!
//! A [`Schema`] is built when a CRD version starts being served (and when a CRD is validated):
//! every node is turned into a [`Node`] with its regexes, formats and CEL programs compiled, so a
//! request only walks the tree. The mechanisms live one per file, as in apiextensions-apiserver:
//!
//! | file | mechanism (upstream package) |
//! |---|---|
//! | `structural.rs` | rules for the CRD's own schema (`apis/apiextensions/validation`, `schema/validation.go`) |
//! | `validation.rs` | validation of custom resources, kube-openapi's messages (`apiserver/validation`) |
//! | `formats.rs` | the `format`s kube-apiserver honours (`apiserver/validation/formats.go`) |
//! | `pruning.rs` | dropping unknown fields (`schema/pruning`) |
//! | `defaulting.rs` | `default`s, nulls, and defaults that must validate (`schema/defaulting`) |
//! | `listtype.rs` | `x-kubernetes-list-type` set/map uniqueness (`schema/listtype`) |
//! | `objectmeta.rs` | embedded resources' apiVersion/kind/metadata (`schema/objectmeta`) |
//! | `cel/` | `x-kubernetes-validations` (`schema/cel`) on the `cel` crate with kube-cel's libraries |
//! | `ratcheting.rs` | unchanged invalid fields do not block updates (`apiserver/validation/ratcheting.go`) |
//! | `cause.rs` | the field error type every check reports (apimachinery's `field.Error`) |
//!
//! Messages are kube-apiserver's (1.35), rendered by `field.rs` as Go renders them.

mod cause;
pub mod cel;
mod defaulting;
pub mod field;
pub mod formats;
mod listtype;
pub mod objectmeta;
pub mod pattern;
mod pruning;
mod ratcheting;
pub mod structural;
pub mod validation;

pub use cause::{FieldCause, json_type_name};
use formats::Format;
use objectmeta::ObjectMetaRules;
use serde_json::Value;

/// `additionalProperties`: a boolean or a schema.
#[derive(Debug, Clone)]
pub enum Additional {
    /// `true` or `false`.
    Allows(bool),
    /// A schema for every other key.
    Schema(Box<Node>),
}

/// `pattern`, compiled with Go's RE2 semantics.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as written.
    pub source: String,
    /// The compiled regex, or Go's compile error.
    pub regex: Result<regex::Regex, String>,
}

/// One compiled schema node.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// `type` ("" when unset).
    pub type_: String,
    /// `nullable`.
    pub nullable: bool,
    /// `default`.
    pub default: Option<Value>,
    /// `format` as written.
    pub format: String,
    /// The format validation honours (see `formats.rs`).
    pub known_format: Option<Format>,
    /// `properties`, in declaration order.
    pub properties: Vec<(String, Node)>,
    /// `additionalProperties`.
    pub additional: Option<Additional>,
    /// `items`.
    pub items: Option<Box<Node>>,
    /// `required`.
    pub required: Vec<String>,
    /// `enum`.
    pub enum_: Vec<Value>,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `exclusiveMinimum`.
    pub exclusive_minimum: bool,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `exclusiveMaximum`.
    pub exclusive_maximum: bool,
    /// `multipleOf`.
    pub multiple_of: Option<f64>,
    /// `minLength`.
    pub min_length: Option<i64>,
    /// `maxLength`.
    pub max_length: Option<i64>,
    /// `minItems`.
    pub min_items: Option<i64>,
    /// `maxItems`.
    pub max_items: Option<i64>,
    /// `minProperties`.
    pub min_properties: Option<i64>,
    /// `maxProperties`.
    pub max_properties: Option<i64>,
    /// `pattern`.
    pub pattern: Option<Pattern>,
    /// `uniqueItems` (forbidden in CRDs; still validated if present).
    pub unique_items: bool,
    /// `allOf`.
    pub all_of: Vec<Node>,
    /// `anyOf`.
    pub any_of: Vec<Node>,
    /// `oneOf`.
    pub one_of: Vec<Node>,
    /// `not`.
    pub not: Option<Box<Node>>,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded: bool,
    /// `x-kubernetes-list-type`.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`.
    pub map_type: Option<String>,
    /// `x-kubernetes-validations`, compiled.
    pub rules: Vec<cel::Rule>,
    /// Whether this node is a resource root (the schema root or an embedded resource).
    pub resource_root: bool,
    /// Whether this node or a node below it has a `default`.
    pub has_defaults: bool,
    /// Whether this node or a node below it has CEL rules.
    pub has_rules: bool,
    /// Whether this node or a node below it has a set or map list type.
    pub has_list_types: bool,
    /// Whether a node below this one is an embedded resource.
    pub has_embedded: bool,
}

impl Node {
    /// The schema of property `name`.
    pub fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, n)| n)
    }

    /// The schema of the additionalProperties, if it is one.
    pub fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The schema that applies to key `k` of an object: its property, else additionalProperties.
    pub fn field_schema(&self, k: &str) -> Option<&Node> {
        self.property(k).or_else(|| self.additional_schema())
    }

    /// The types the type check accepts, joined as upstream prints them.
    pub fn type_names(&self) -> &str {
        if self.int_or_string {
            "integer,string"
        } else {
            &self.type_
        }
    }
}

fn get_i64(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(|x| {
        x.as_i64()
            .or_else(|| x.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    })
}

fn get_bool(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn compile_list(v: &Value, k: &str) -> Vec<Node> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| compile_node(x, false)).collect())
        .unwrap_or_default()
}

/// Compiles one node (tolerantly: what is malformed is ignored; `structural.rs` reports it).
pub fn compile_node(v: &Value, resource_root: bool) -> Node {
    let type_ = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let int_or_string = get_bool(v, "x-kubernetes-int-or-string");
    let format = v
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let embedded = get_bool(v, "x-kubernetes-embedded-resource");
    let mut n = Node {
        known_format: formats::resolve(&type_, !int_or_string, &format),
        type_,
        nullable: get_bool(v, "nullable"),
        default: v.get("default").cloned(),
        format,
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        enum_: v
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        minimum: v.get("minimum").and_then(Value::as_f64),
        exclusive_minimum: get_bool(v, "exclusiveMinimum"),
        maximum: v.get("maximum").and_then(Value::as_f64),
        exclusive_maximum: get_bool(v, "exclusiveMaximum"),
        multiple_of: v.get("multipleOf").and_then(Value::as_f64),
        min_length: get_i64(v, "minLength"),
        max_length: get_i64(v, "maxLength"),
        min_items: get_i64(v, "minItems"),
        max_items: get_i64(v, "maxItems"),
        min_properties: get_i64(v, "minProperties"),
        max_properties: get_i64(v, "maxProperties"),
        pattern: v.get("pattern").and_then(Value::as_str).map(|p| Pattern {
            source: p.to_string(),
            regex: pattern::compile(p),
        }),
        unique_items: get_bool(v, "uniqueItems"),
        all_of: compile_list(v, "allOf"),
        any_of: compile_list(v, "anyOf"),
        one_of: compile_list(v, "oneOf"),
        not: v
            .get("not")
            .filter(|x| x.is_object())
            .map(|x| Box::new(compile_node(x, false))),
        preserve_unknown: get_bool(v, "x-kubernetes-preserve-unknown-fields"),
        int_or_string,
        embedded,
        list_type: v
            .get("x-kubernetes-list-type")
            .and_then(Value::as_str)
            .map(str::to_string),
        list_map_keys: v
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        map_type: v
            .get("x-kubernetes-map-type")
            .and_then(Value::as_str)
            .map(str::to_string),
        resource_root: resource_root || embedded,
        ..Node::default()
    };
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        n.properties = props
            .iter()
            .map(|(k, p)| (k.clone(), compile_node(p, false)))
            .collect();
    }
    n.additional = match v.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(Additional::Allows(*b)),
        Some(p @ Value::Object(_)) => Some(Additional::Schema(Box::new(compile_node(p, false)))),
        _ => None,
    };
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        n.items = Some(Box::new(compile_node(items, false)));
    }
    let (mut defaults, mut rules, mut lists, mut embedded) = (false, false, false, false);
    for c in n
        .properties
        .iter()
        .map(|(_, c)| c)
        .chain(n.additional_schema())
        .chain(n.items.as_deref())
    {
        defaults |= c.has_defaults;
        rules |= c.has_rules;
        lists |= c.has_list_types;
        embedded |= c.has_embedded || c.embedded;
    }
    n.has_defaults = defaults;
    n.has_rules = rules;
    n.has_list_types = lists;
    n.has_embedded = embedded;
    n.has_defaults |= n.default.is_some();
    n.has_list_types |= matches!(n.list_type.as_deref(), Some("set" | "map"));
    if let Some(rules) = v.get("x-kubernetes-validations").and_then(Value::as_array) {
        n.rules = cel::compile_rules(rules, &n);
        n.has_rules |= !n.rules.is_empty();
    }
    n
}

/// A CRD version's schema, compiled: what the custom resource strategy applies.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The root node (`None`: no schema, everything is preserved).
    pub root: Option<Node>,
    /// How embedded resources' `metadata` is decoded and validated.
    pub object_meta: &'static dyn ObjectMetaRules,
}

impl Schema {
    /// Compiles an `openAPIV3Schema`; `None` (no schema) preserves everything. Embedded
    /// resources' metadata is decoded and validated by `object_meta`.
    pub fn compile(raw: Option<&Value>, object_meta: &'static dyn ObjectMetaRules) -> Schema {
        Schema {
            root: raw.map(|v| compile_node(v, true)),
            object_meta,
        }
    }

    /// Removes fields the schema does not declare and returns their paths, sorted. The root's
    /// `apiVersion`, `kind` and `metadata` are always kept.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        match &self.root {
            Some(root) => pruning::prune(obj, root),
            None => Vec::new(),
        }
    }

    /// What the decoder does after pruning: drops `null`s of non-nullable fields without a
    /// default and normalises the metadata of embedded resources (returning the unknown fields
    /// found there). `Err` is a field that cannot be decoded at all.
    pub fn coerce(&self, obj: &mut Value) -> Result<Vec<String>, FieldCause> {
        let Some(root) = &self.root else {
            return Ok(Vec::new());
        };
        defaulting::prune_non_nullable_nulls(obj, Some(root));
        if root.has_embedded {
            objectmeta::coerce(obj, root, self.object_meta)
        } else {
            Ok(Vec::new())
        }
    }

    /// Whether [`Schema::prune`] can drop anything: there is a structural schema to prune by.
    pub fn prunes(&self) -> bool {
        self.root.is_some()
    }

    /// Whether applying defaults can change anything.
    pub fn has_defaults(&self) -> bool {
        self.root.as_ref().is_some_and(|r| r.has_defaults)
    }

    /// Applies `default`s to absent (and non-nullable null) fields.
    pub fn apply_defaults(&self, obj: &mut Value) {
        if let Some(root) = &self.root
            && root.has_defaults
        {
            defaulting::apply(obj, root);
        }
    }

    /// Validates a custom resource being created: schema, then `more` (the strategy's own
    /// causes, e.g. scale paths), embedded resources, list types, then CEL rules (only when
    /// nothing blocking was found, as upstream).
    pub fn validate(&self, obj: &Value, more: Vec<FieldCause>) -> Vec<FieldCause> {
        self.validate_against(obj, None, more)
    }

    /// Validates an update: as [`Schema::validate`], with transition rules and ratcheting.
    pub fn validate_update(
        &self,
        new: &Value,
        old: &Value,
        more: Vec<FieldCause>,
    ) -> Vec<FieldCause> {
        self.validate_against(new, Some(old), more)
    }

    fn validate_against(
        &self,
        obj: &Value,
        old: Option<&Value>,
        more: Vec<FieldCause>,
    ) -> Vec<FieldCause> {
        let Some(root) = &self.root else {
            return more;
        };
        let mut causes = validation::validate(root, obj, old, "");
        causes.extend(more);
        if root.has_embedded || root.embedded {
            causes.extend(objectmeta::validate(obj, root, self.object_meta));
        }
        if root.has_list_types {
            causes.extend(listtype::validate_update(root, obj, old));
        }
        self.run_cel(root, obj, old, causes)
    }

    /// Validates a write through `/status`: the status against the status schema (messages
    /// relative to it, paths under `status`, as upstream), list types, and CEL rules.
    pub fn validate_status_update(
        &self,
        new: &Value,
        old: &Value,
        more: Vec<FieldCause>,
    ) -> Vec<FieldCause> {
        let Some(root) = &self.root else {
            return more;
        };
        let mut causes = Vec::new();
        if let (Some(status), Some(status_schema)) = (new.get("status"), root.property("status")) {
            causes.extend(validation::validate(
                status_schema,
                status,
                old.get("status"),
                "status",
            ));
        }
        causes.extend(more);
        if root.has_list_types {
            causes.extend(listtype::validate_update(root, new, Some(old)));
        }
        self.run_cel(root, new, Some(old), causes)
    }

    fn run_cel(
        &self,
        root: &Node,
        obj: &Value,
        old: Option<&Value>,
        mut causes: Vec<FieldCause>,
    ) -> Vec<FieldCause> {
        if !root.has_rules {
            return causes;
        }
        if causes.iter().any(|c| {
            matches!(
                c.reason,
                "FieldValueNotSupported"
                    | "FieldValueRequired"
                    | "FieldValueTooLong"
                    | "FieldValueTooMany"
                    | "FieldValueTypeInvalid"
            )
        }) {
            causes.push(field::invalid(
                "",
                field::Bad::Null,
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
            return causes;
        }
        causes.extend(cel::validate(root, obj, old, cel::RUNTIME_COST_BUDGET));
        causes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn foo_schema() -> Schema {
        Schema::compile(
            Some(&json!({
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["deploymentName"],
                        "properties": {
                            "deploymentName": {"type": "string"},
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                            "action": {"type": "string", "enum": ["label", "kill", "annotate"]}
                        }
                    },
                    "status": {"type": "object", "properties": {"availableReplicas": {"type": "integer", "minimum": 0}}}
                }
            })),
            &objectmeta::Unchecked,
        )
    }

    fn messages(causes: Vec<FieldCause>) -> Vec<String> {
        causes.into_iter().map(|c| c.message).collect()
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let s = foo_schema();
        let mut obj = json!({"apiVersion": "x/v1", "kind": "Foo", "metadata": {"name": "a"},
            "spec": {"deploymentName": "d", "bogus": true}, "status": {"availableReplicas": 1, "x": 1}, "top": 1});
        assert_eq!(s.prune(&mut obj), vec!["spec.bogus", "status.x", "top"]);
        s.apply_defaults(&mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert!(s.validate(&obj, vec![]).is_empty());

        let bad = json!({"spec": {"replicas": 11, "action": "explode"}});
        assert_eq!(
            messages(s.validate(&bad, vec![])),
            vec![
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                "spec.action: Unsupported value: \"explode\": supported values: \"label\", \"kill\", \"annotate\"",
                "spec.deploymentName: Required value",
            ]
        );
        let wrong = json!({"spec": {"deploymentName": 5}});
        assert_eq!(
            messages(s.validate(&wrong, vec![])),
            vec![
                "spec.deploymentName: Invalid value: \"integer\": spec.deploymentName in body must be of type string: \"integer\""
            ]
        );
    }

    #[test]
    fn status_messages_are_relative_to_status() {
        let s = foo_schema();
        let old = json!({"spec": {"deploymentName": "d"}, "status": {"availableReplicas": 1}});
        let new = json!({"spec": {"deploymentName": "d"}, "status": {"availableReplicas": -1}});
        assert_eq!(
            messages(s.validate_status_update(&new, &old, vec![])),
            vec![
                "status.availableReplicas: Invalid value: -1: availableReplicas in body should be greater than or equal to 0"
            ]
        );
    }

    #[test]
    fn updates_ratchet_and_nulls_are_dropped() {
        let s = foo_schema();
        // Stored under an older, looser schema: replicas 20 stays acceptable while unchanged.
        let old = json!({"spec": {"deploymentName": "d", "replicas": 20}});
        let relabelled = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"deploymentName": "d", "replicas": 20}});
        assert!(s.validate_update(&relabelled, &old, vec![]).is_empty());
        let changed = json!({"spec": {"deploymentName": "d", "replicas": 21}});
        assert_eq!(s.validate_update(&changed, &old, vec![]).len(), 1);
        // A null non-nullable field without a default is dropped; with a default, defaulted.
        let mut obj = json!({"spec": {"deploymentName": null, "replicas": null}});
        s.coerce(&mut obj).expect("coerces");
        s.apply_defaults(&mut obj);
        assert_eq!(obj, json!({"spec": {"replicas": 1}}));
    }
}
