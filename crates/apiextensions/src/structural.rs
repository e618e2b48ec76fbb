//! Rules for a CRD's own `openAPIV3Schema` (apiextensions `apis/apiextensions/validation` and
//! `apiserver/schema/validation.go`): what makes a schema *structural* (a type everywhere, no
//! types or defaults inside `allOf`/`anyOf`/`oneOf`/`not`, metadata constraints only on
//! `name`/`generateName`, …), the keywords Kubernetes does not support (`$ref`, `definitions`,
//! `dependencies`, `id`, `additionalItems`, `patternProperties`, `uniqueItems: true`, array
//! `items`), list and map types, defaults that must validate, and `x-kubernetes-validations`
//! rules that must compile within the cost limits. One cause per problem, upstream's wording.

use super::cel::{self, STATIC_ESTIMATED_COST_LIMIT, STATIC_ESTIMATED_CRD_COST_LIMIT};
use super::field::{self, Bad, go_json};
use super::objectmeta::ObjectMetaRules;
use super::{Node, compile_node, defaulting};
use crate::FieldCause;
use serde_json::{Map, Value};

const OPENAPI_V3_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const REASONS: [&str; 4] = [
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];
const META_FIELDS: [&str; 3] = ["metadata", "kind", "apiVersion"];
/// The schema fields allowed at the root when the status subresource is enabled (Go names, and
/// the JSON keys they are written as).
const ROOT_FIELDS_WITH_STATUS: [(&str, &str); 22] = [
    ("Description", "description"),
    ("Type", "type"),
    ("Format", "format"),
    ("Title", "title"),
    ("Maximum", "maximum"),
    ("ExclusiveMaximum", "exclusiveMaximum"),
    ("Minimum", "minimum"),
    ("ExclusiveMinimum", "exclusiveMinimum"),
    ("MaxLength", "maxLength"),
    ("MinLength", "minLength"),
    ("Pattern", "pattern"),
    ("MaxItems", "maxItems"),
    ("MinItems", "minItems"),
    ("UniqueItems", "uniqueItems"),
    ("MultipleOf", "multipleOf"),
    ("Required", "required"),
    ("Items", "items"),
    ("Properties", "properties"),
    ("ExternalDocs", "externalDocs"),
    ("Example", "example"),
    (
        "XPreserveUnknownFields",
        "x-kubernetes-preserve-unknown-fields",
    ),
    ("XValidations", "x-kubernetes-validations"),
];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn b(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

fn props(v: &Value) -> Option<&Map<String, Value>> {
    v.get("properties").and_then(Value::as_object)
}

/// Validates `schema`, the `openAPIV3Schema` found at `path` (e.g.
/// `spec.versions[0].schema.openAPIV3Schema`), of a version whose status subresource is
/// enabled or not; embedded resources' metadata in defaults is checked by `meta`.
pub fn validate_schema(
    schema: &Value,
    path: &str,
    status_enabled: bool,
    meta: &dyn ObjectMetaRules,
) -> Vec<FieldCause> {
    let mut all = Vec::new();
    let parent = path.strip_suffix(".openAPIV3Schema").unwrap_or(path);
    if status_enabled && let Some(obj) = schema.as_object() {
        let type_ = s(schema, "type");
        if !type_.is_empty() && type_ != "object" {
            all.push(field::invalid(
                &field::child(parent, "openAPIV3Schema.type"),
                Bad::Str(type_),
                r#"only "object" is allowed as the type at the root of the schema if the status subresource is enabled"#,
            ));
        } else if obj
            .iter()
            .any(|(k, v)| !is_zero(v) && !ROOT_FIELDS_WITH_STATUS.iter().any(|(_, j)| j == k))
        {
            let names: Vec<&str> = ROOT_FIELDS_WITH_STATUS.iter().map(|(g, _)| *g).collect();
            all.push(field::invalid(
                path,
                Bad::Json(schema),
                &format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    names.join(" ")
                ),
            ));
        }
    }
    if b(schema, "nullable") {
        all.push(field::forbidden(
            &field::child(parent, "openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let compiled = compile_node(schema, true);
    let mut init_errors = Vec::new();
    let mut cel_ok = false;
    if let Some(e) = structural_init_error(schema) {
        init_errors.push(field::invalid(path, Bad::Str(""), &e));
    } else {
        let mut structural = Vec::new();
        invariants(schema, Level::Root, path, &mut structural);
        completeness(schema, path, &mut structural);
        structural.sort_by(|a, b| a.message.cmp(&b.message));
        if !structural.is_empty() {
            all.extend(structural);
        } else {
            let defaults = defaulting::validate_defaults(&compiled, path, meta);
            if !defaults.is_empty() {
                all.extend(defaults);
            } else {
                cel_ok = true;
            }
        }
    }
    let mut cost = TotalCost::default();
    let ctx = Ctx {
        allow_defaults: true,
        defaults_reason: String::new(),
        inside_meta: false,
        uncorrelatable: None,
    };
    let cel_node = cel_ok.then_some(&compiled);
    let (schema_errs, cel_errs) =
        openapi_schema(schema, path, &ctx, true, cel_node, Some(1), &mut cost);
    all.extend(schema_errs);
    all.extend(cel_errs);
    if all.is_empty() {
        all.extend(init_errors);
    }
    if cel_ok && cost.total > STATIC_ESTIMATED_CRD_COST_LIMIT {
        for (p, _) in &cost.most_expensive {
            all.push(field::forbidden(
                p,
                "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
            ));
        }
        all.push(field::forbidden(
            path,
            &cost_error_message(
                "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                cost.total,
                STATIC_ESTIMATED_CRD_COST_LIMIT,
            ),
        ));
    }
    all
}

/// `NewStructural`'s errors: keywords a structural schema cannot hold at all.
fn structural_init_error(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    for (k, name) in [
        ("id", "id"),
        ("$schema", "schema"),
        ("$ref", "$ref"),
        ("patternProperties", "patternProperties"),
        ("dependencies", "dependencies"),
        ("additionalItems", "additionalItems"),
        ("definitions", "definitions"),
    ] {
        if obj.get(k).is_some_and(|x| !is_zero(x)) {
            return Some(format!("OpenAPIV3Schema '{name}' is not supported"));
        }
    }
    if let Some(items) = obj.get("items") {
        if items.is_array() {
            return Some("OpenAPIV3Schema 'items' must be a schema, but is an array".into());
        }
        if let Some(e) = structural_init_error(items) {
            return Some(e);
        }
    }
    for (_, p) in props(v).into_iter().flatten() {
        if let Some(e) = structural_init_error(p) {
            return Some(e);
        }
    }
    if let Some(a) = obj.get("additionalProperties").filter(|a| a.is_object()) {
        return structural_init_error(a);
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for x in obj.get(k).and_then(Value::as_array).into_iter().flatten() {
            if let Some(e) = structural_init_error(x) {
                return Some(e);
            }
        }
    }
    obj.get("not").and_then(structural_init_error)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn is_int_or_string_any_of(list: Option<&Value>) -> bool {
    list.and_then(Value::as_array).is_some_and(|a| {
        a.len() == 2
            && a[0] == serde_json::json!({"type": "integer"})
            && a[1] == serde_json::json!({"type": "string"})
    })
}

/// `validateStructuralInvariants`.
fn invariants(v: &Value, lvl: Level, path: &str, out: &mut Vec<FieldCause>) {
    let Some(obj) = v.as_object() else { return };
    let type_ = s(v, "type");
    if type_ == "array" && !obj.contains_key("items") {
        out.push(field::required(
            &field::child(path, "items"),
            "must be specified",
        ));
    }
    if let Some(items) = obj.get("items").filter(|i| i.is_object()) {
        invariants(items, Level::Item, &field::child(path, "items"), out);
    }
    for (k, p) in props(v).into_iter().flatten() {
        invariants(
            p,
            Level::Field,
            &field::key(&field::child(path, "properties"), k),
            out,
        );
    }
    if let Some(add) = obj.get("additionalProperties") {
        if lvl == Level::Root {
            out.push(field::forbidden(
                &field::child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if add.is_object() {
            invariants(
                add,
                Level::Field,
                &field::child(path, "additionalProperties"),
                out,
            );
        }
    }
    let int_or_string = b(v, "x-kubernetes-int-or-string");
    let preserve = b(v, "x-kubernetes-preserve-unknown-fields");
    let embedded = b(v, "x-kubernetes-embedded-resource");
    if int_or_string && preserve {
        out.push(field::invalid(
            &field::child(path, "x-kubernetes-preserve-unknown-fields"),
            Bad::Json(&Value::Bool(true)),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        out.push(field::invalid(
            &field::child(path, "x-kubernetes-embedded-resource"),
            Bad::Json(&Value::Bool(true)),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(obj.get("anyOf"));
    let skip_first_all_of_any_of = obj
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|f| is_int_or_string_any_of(f.get("anyOf")));
    value_validation(v, skip_any_of, skip_first_all_of_any_of, lvl, path, out);
    let check_metadata = lvl == Level::Root || embedded;
    if embedded && type_ != "object" {
        let p = field::child(path, "type");
        let msg = "must be object if x-kubernetes-embedded-resource is true";
        out.push(if type_.is_empty() {
            field::required(&p, msg)
        } else {
            field::invalid(&p, Bad::Str(type_), msg)
        });
    } else if type_.is_empty() && !int_or_string && !preserve {
        let msg = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(field::required(&field::child(path, "type"), msg));
    }
    if embedded && obj.contains_key("additionalProperties") {
        out.push(field::forbidden(
            &field::child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !type_.is_empty() && type_ != "object" {
        out.push(field::invalid(
            &field::child(path, "type"),
            Bad::Str(type_),
            "must be object at the root",
        ));
    }
    let props_path = field::child(path, "properties");
    if check_metadata {
        for k in ["kind", "apiVersion"] {
            if let Some(p) = props(v).and_then(|m| m.get(k)) {
                let t = s(p, "type");
                if t != "string" {
                    out.push(field::invalid(
                        &field::child(&field::key(&props_path, k), "type"),
                        Bad::Str(t),
                        "must be string",
                    ));
                }
            }
        }
    }
    if let Some(meta) = props(v).and_then(|m| m.get("metadata")) {
        let mpath = field::key(&props_path, "metadata");
        let t = s(meta, "type");
        if check_metadata && t != "object" {
            out.push(field::invalid(
                &field::child(&mpath, "type"),
                Bad::Str(t),
                "must be object",
            ));
        }
        if lvl == Level::Root {
            let only_names =
                props(meta).is_none_or(|p| p.keys().all(|k| k == "name" || k == "generateName"));
            let others = meta.as_object().is_some_and(|m| {
                m.iter().any(|(k, x)| {
                    let allowed = matches!(k.as_str(), "type" | "default")
                        || (k == "properties" && only_names);
                    !allowed && !is_zero(x)
                })
            });
            if others {
                out.push(field::forbidden(
                    &mpath,
                    "must not specify anything other than name and generateName, but metadata is implicitly specified",
                ));
            }
        }
    }
    if embedded && !preserve && props(v).is_none_or(Map::is_empty) {
        out.push(field::required(
            &props_path,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// `validateValueValidation`: the junctors of a node, and its pattern.
fn value_validation(
    v: &Value,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    out: &mut Vec<FieldCause>,
) {
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if !skip_any_of {
        for (i, x) in list("anyOf").iter().enumerate() {
            nested(
                x,
                false,
                lvl,
                &field::index(&field::child(path, "anyOf"), i),
                out,
            );
        }
    }
    for (i, x) in list("allOf").iter().enumerate() {
        let skip = skip_first_all_of_any_of && i == 0;
        nested(
            x,
            skip,
            lvl,
            &field::index(&field::child(path, "allOf"), i),
            out,
        );
    }
    for (i, x) in list("oneOf").iter().enumerate() {
        nested(
            x,
            false,
            lvl,
            &field::index(&field::child(path, "oneOf"), i),
            out,
        );
    }
    if let Some(not) = v.get("not").filter(|n| n.is_object()) {
        nested(not, false, lvl, &field::child(path, "not"), out);
    }
    if let Some(p) = v.get("pattern").and_then(Value::as_str)
        && let Err(e) = super::pattern::compile(p)
    {
        out.push(field::invalid(
            &field::child(path, "pattern"),
            Bad::Str(p),
            &format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// `validateNestedValueValidation`: inside a junctor, only value validations are allowed.
fn nested(v: &Value, skip_any_of: bool, lvl: Level, path: &str, out: &mut Vec<FieldCause>) {
    let Some(obj) = v.as_object() else { return };
    value_validation(v, skip_any_of, false, lvl, path, out);
    if let Some(items) = obj.get("items").filter(|i| i.is_object()) {
        nested(items, false, lvl, &field::child(path, "items"), out);
    }
    for (k, p) in props(v).into_iter().flatten() {
        nested(
            p,
            false,
            Level::Field,
            &field::key(&field::child(path, "properties"), k),
            out,
        );
    }
    let forbid = |k: &str, msg: &str, out: &mut Vec<FieldCause>| {
        out.push(field::forbidden(&field::child(path, k), msg));
    };
    if !s(v, "type").is_empty() {
        forbid("type", "must be empty to be structural", out);
    }
    if obj.contains_key("additionalProperties") {
        forbid(
            "additionalProperties",
            "must be undefined to be structural",
            out,
        );
    }
    if obj.get("default").is_some_and(|d| !d.is_null()) {
        forbid("default", "must be undefined to be structural", out);
    }
    if !s(v, "title").is_empty() {
        forbid("title", "must be empty to be structural", out);
    }
    if !s(v, "description").is_empty() {
        forbid("description", "must be empty to be structural", out);
    }
    if b(v, "nullable") {
        forbid("nullable", "must be false to be structural", out);
    }
    for k in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if b(v, k) {
            forbid(k, "must be false to be structural", out);
        }
    }
    if obj
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        forbid(
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
            out,
        );
    }
    for k in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if obj.get(k).is_some_and(|x| !x.is_null()) {
            forbid(k, "must be undefined to be structural", out);
        }
    }
    if obj
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        forbid(
            "x-kubernetes-validations",
            "must be empty to be structural",
            out,
        );
    }
    if props(v).is_some_and(|p| p.contains_key("metadata")) {
        out.push(field::forbidden(
            &field::key(&field::child(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// `validateStructuralCompleteness`: what the root's junctors constrain must be specified.
fn completeness(v: &Value, path: &str, out: &mut Vec<FieldCause>) {
    junctor_completeness(v, Some(v), path, path, out);
}

fn junctor_completeness(
    vv: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
    out: &mut Vec<FieldCause>,
) {
    let Some(s) = s else {
        out.push(field::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    if let Some(not) = vv.get("not").filter(|n| n.is_object()) {
        nested_completeness(not, Some(s), s_path, &field::child(v_path, "not"), out);
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for (i, x) in vv
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            nested_completeness(
                x,
                Some(s),
                s_path,
                &field::index(&field::child(v_path, k), i),
                out,
            );
        }
    }
}

fn nested_completeness(
    vv: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
    out: &mut Vec<FieldCause>,
) {
    let Some(s) = s else {
        out.push(field::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    junctor_completeness(vv, Some(s), s_path, v_path, out);
    if let Some(items) = vv.get("items").filter(|i| i.is_object()) {
        nested_completeness(
            items,
            s.get("items").filter(|i| i.is_object()),
            &field::child(s_path, "items"),
            &field::child(v_path, "items"),
            out,
        );
    }
    for (k, vf) in props(vv).into_iter().flatten() {
        let sp = field::key(&field::child(s_path, "properties"), k);
        let vp = field::key(&field::child(v_path, "properties"), k);
        match props(s).and_then(|m| m.get(k)) {
            None => out.push(field::required(
                &sp,
                &format!("because it is defined in {vp}"),
            )),
            Some(sf) => nested_completeness(vf, Some(sf), &sp, &vp, out),
        }
    }
}

/// What `ValidateCustomResourceDefinitionOpenAPISchema` carries down the tree.
#[derive(Clone)]
struct Ctx {
    allow_defaults: bool,
    defaults_reason: String,
    inside_meta: bool,
    uncorrelatable: Option<String>,
}

#[derive(Default)]
struct TotalCost {
    total: u64,
    most_expensive: Vec<(String, u64)>,
}

impl TotalCost {
    fn observe(&mut self, path: &str, cost: u64) {
        self.total = self.total.saturating_add(cost);
        if cost < STATIC_ESTIMATED_CRD_COST_LIMIT / 100 {
            return;
        }
        self.most_expensive.push((path.to_string(), cost));
        self.most_expensive.sort_by_key(|e| std::cmp::Reverse(e.1));
        self.most_expensive.truncate(4);
    }
}

/// `getCostErrorMessage`.
fn cost_error_message(name: &str, cost: u64, limit: u64) -> String {
    let factor = cost as f64 / limit as f64;
    let f = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!(
        "{name} exceeds budget by factor of {f} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )
}

/// The rule object as upstream prints its internal `ValidationRule` (Go field names, no tags).
fn rule_value(rule: &Value) -> Value {
    let str_or = |k: &str| Value::String(s(rule, k).to_string());
    let mut m = Map::new();
    m.insert("Rule".into(), str_or("rule"));
    m.insert("Message".into(), str_or("message"));
    m.insert("MessageExpression".into(), str_or("messageExpression"));
    m.insert(
        "Reason".into(),
        rule.get("reason").cloned().unwrap_or(Value::Null),
    );
    m.insert("FieldPath".into(), str_or("fieldPath"));
    m.insert(
        "OptionalOldSelf".into(),
        rule.get("optionalOldSelf").cloned().unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// A Go struct rendered as JSON in declaration order (`go_json` sorts map keys).
fn struct_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{}:{}", go_json(&Value::String(k.clone())), go_json(x)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => go_json(other),
    }
}

fn child_cardinality(parent: &Value, card: Option<u64>) -> Option<u64> {
    let card = card?;
    let max = match s(parent, "type") {
        "object" if parent.get("additionalProperties").is_some() => {
            parent.get("maxProperties").and_then(Value::as_u64)?
        }
        "array" => parent.get("maxItems").and_then(Value::as_u64)?,
        _ => 1,
    };
    Some(card.saturating_mul(max))
}

/// `ValidateCustomResourceDefinitionOpenAPISchema`: returns (schema errors, CEL errors).
#[allow(clippy::too_many_arguments)]
fn openapi_schema(
    v: &Value,
    path: &str,
    ctx: &Ctx,
    is_root: bool,
    node: Option<&Node>,
    cardinality: Option<u64>,
    cost: &mut TotalCost,
) -> (Vec<FieldCause>, Vec<FieldCause>) {
    let mut schema_errs = Vec::new();
    let mut cel_errs = Vec::new();
    let Some(obj) = v.as_object() else {
        return (schema_errs, cel_errs);
    };
    let type_ = s(v, "type");
    ssv(v, path, ctx, &mut schema_errs);
    if b(v, "uniqueItems") {
        schema_errs.push(field::forbidden(
            &field::child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let merge = |(a, c): (Vec<FieldCause>, Vec<FieldCause>),
                 schema_errs: &mut Vec<FieldCause>,
                 cel_errs: &mut Vec<FieldCause>| {
        schema_errs.extend(a);
        cel_errs.extend(c);
    };
    let has_props = props(v).is_some_and(|p| !p.is_empty());
    if let Some(add) = obj.get("additionalProperties") {
        if has_props && (add == &Value::Bool(false) || add.is_object()) {
            schema_errs.push(field::forbidden(
                &field::child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let mut sub = ctx.clone();
        if ctx.inside_meta {
            sub.allow_defaults = false;
            sub.defaults_reason = "inside additionalProperties applying to object metadata".into();
        }
        if add.is_object() {
            let r = openapi_schema(
                add,
                &field::child(path, "additionalProperties"),
                &sub,
                false,
                node.and_then(Node::additional_schema),
                child_cardinality(v, cardinality),
                cost,
            );
            merge(r, &mut schema_errs, &mut cel_errs);
        }
    }
    let map_type = obj.get("x-kubernetes-map-type").and_then(Value::as_str);
    for (k, p) in props(v).into_iter().flatten() {
        let mut sub = ctx.clone();
        if !matches!(map_type, None | Some("granular" | "atomic")) && sub.uncorrelatable.is_none() {
            sub.uncorrelatable = Some(path.to_string());
        }
        if (is_root || b(v, "x-kubernetes-embedded-resource")) && META_FIELDS.contains(&k.as_str())
        {
            sub.inside_meta = true;
            if is_root {
                sub.allow_defaults = false;
                sub.defaults_reason = format!("in top-level {k}");
            }
        }
        let r = openapi_schema(
            p,
            &field::key(&field::child(path, "properties"), k),
            &sub,
            false,
            node.and_then(|n| n.property(k)),
            child_cardinality(v, cardinality),
            cost,
        );
        merge(r, &mut schema_errs, &mut cel_errs);
    }
    if let Some(not) = obj.get("not") {
        let r = openapi_schema(
            not,
            &field::child(path, "not"),
            ctx,
            false,
            None,
            None,
            cost,
        );
        merge(r, &mut schema_errs, &mut cel_errs);
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for (i, x) in obj
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let r = openapi_schema(
                x,
                &field::index(&field::child(path, k), i),
                ctx,
                false,
                None,
                None,
                cost,
            );
            merge(r, &mut schema_errs, &mut cel_errs);
        }
    }
    for (k, x) in obj
        .get("definitions")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let r = openapi_schema(
            x,
            &field::key(&field::child(path, "definitions"), k),
            ctx,
            false,
            None,
            None,
            cost,
        );
        merge(r, &mut schema_errs, &mut cel_errs);
    }
    let list_type = obj.get("x-kubernetes-list-type").and_then(Value::as_str);
    if let Some(items) = obj.get("items") {
        let mut sub = ctx.clone();
        if list_type != Some("map") && sub.uncorrelatable.is_none() {
            sub.uncorrelatable = Some(path.to_string());
        }
        let ipath = field::child(path, "items");
        match items {
            Value::Array(list) => {
                for (i, x) in list.iter().enumerate() {
                    let r =
                        openapi_schema(x, &field::index(&ipath, i), &sub, false, None, None, cost);
                    merge(r, &mut schema_errs, &mut cel_errs);
                }
            }
            _ => {
                let r = openapi_schema(
                    items,
                    &ipath,
                    &sub,
                    false,
                    node.and_then(|n| n.items.as_deref()),
                    child_cardinality(v, cardinality),
                    cost,
                );
                merge(r, &mut schema_errs, &mut cel_errs);
            }
        }
    }
    for (k, x) in obj
        .get("dependencies")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if x.is_object() {
            let r = openapi_schema(
                x,
                &field::key(&field::child(path, "dependencies"), k),
                ctx,
                false,
                None,
                None,
                cost,
            );
            merge(r, &mut schema_errs, &mut cel_errs);
        }
    }
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        schema_errs.push(field::invalid(
            &field::child(path, "x-kubernetes-preserve-unknown-fields"),
            Bad::Json(&Value::Bool(false)),
            "must be true or undefined",
        ));
    }
    extension_rules(v, path, type_, &mut schema_errs);
    if !obj
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        rules(
            v,
            path,
            ctx,
            node,
            cardinality,
            cost,
            &mut schema_errs,
            &mut cel_errs,
        );
    }
    (schema_errs, cel_errs)
}

/// `specStandardValidatorV3.validate`: keywords Kubernetes does not support.
fn ssv(v: &Value, path: &str, ctx: &Ctx, out: &mut Vec<FieldCause>) {
    let Some(obj) = v.as_object() else { return };
    let type_ = s(v, "type");
    if !type_.is_empty() && !OPENAPI_V3_TYPES.contains(&type_) {
        out.push(field::not_supported(
            &field::child(path, "type"),
            Bad::Str(type_),
            &OPENAPI_V3_TYPES,
        ));
    }
    if obj.get("default").is_some_and(|d| !d.is_null()) && !ctx.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ctx.defaults_reason.is_empty() {
            detail = format!("{detail} {}", ctx.defaults_reason);
        }
        out.push(field::forbidden(&field::child(path, "default"), &detail));
    }
    let present = |k: &str| obj.get(k).is_some_and(|x| !is_zero(x));
    for (k, msg) in [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        let set = if k == "additionalItems" || k == "dependencies" {
            obj.get(k).is_some_and(|x| !x.is_null())
        } else {
            present(k)
        };
        if set {
            out.push(field::forbidden(&field::child(path, k), msg));
        }
    }
    if type_ == "null" {
        out.push(field::forbidden(
            &field::child(path, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if obj
        .get("items")
        .is_some_and(|i| i.as_array().is_some_and(|a| !a.is_empty()))
    {
        out.push(field::forbidden(
            &field::child(path, "items"),
            "items must be a schema object and not an array",
        ));
    }
    if ctx.inside_meta && b(v, "x-kubernetes-embedded-resource") {
        out.push(field::forbidden(
            &field::child(path, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

/// The list-type and map-type rules of one node.
fn extension_rules(v: &Value, path: &str, type_: &str, out: &mut Vec<FieldCause>) {
    let obj = v.as_object().expect("object");
    let map_type = obj.get("x-kubernetes-map-type").and_then(Value::as_str);
    if map_type.is_some() && type_ != "object" {
        let p = field::child(path, "type");
        let msg = "must be object if x-kubernetes-map-type is specified";
        out.push(if type_.is_empty() {
            field::required(&p, msg)
        } else {
            field::invalid(&p, Bad::Str(type_), msg)
        });
    }
    if let Some(mt) = map_type
        && mt != "atomic"
        && mt != "granular"
    {
        out.push(field::not_supported(
            &field::child(path, "x-kubernetes-map-type"),
            Bad::Str(mt),
            &["atomic", "granular"],
        ));
    }
    let list_type = obj.get("x-kubernetes-list-type").and_then(Value::as_str);
    let items = obj.get("items");
    let item_schema = items.filter(|i| i.is_object());
    if list_type.is_some() && type_ != "array" {
        let p = field::child(path, "type");
        let msg = "must be array if x-kubernetes-list-type is specified";
        out.push(if type_.is_empty() {
            field::required(&p, msg)
        } else {
            field::invalid(&p, Bad::Str(type_), msg)
        });
    } else if list_type == Some("set")
        && let Some(is) = item_schema
    {
        let ipath = field::child(path, "items");
        match s(is, "type") {
            "array" => {
                if let Some(lt) = is.get("x-kubernetes-list-type").and_then(Value::as_str)
                    && lt != "atomic"
                {
                    out.push(field::invalid(
                        &field::child(&ipath, "x-kubernetes-list-type"),
                        Bad::Str(lt),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    ));
                }
            }
            "object"
                if is.get("x-kubernetes-map-type").and_then(Value::as_str) != Some("atomic") =>
            {
                let lt = is.get("x-kubernetes-list-type").and_then(Value::as_str);
                out.push(field::invalid(
                    &field::child(&ipath, "x-kubernetes-map-type"),
                    lt.map_or(Bad::Null, Bad::Str),
                    "must be atomic as item of a list with x-kubernetes-list-type=set",
                ));
            }
            _ => {}
        }
    }
    if let Some(lt) = list_type
        && !matches!(lt, "atomic" | "set" | "map")
    {
        out.push(field::not_supported(
            &field::child(path, "x-kubernetes-list-type"),
            Bad::Str(lt),
            &["atomic", "set", "map"],
        ));
    }
    let keys: Vec<&str> = obj
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keys_value = obj
        .get("x-kubernetes-list-map-keys")
        .cloned()
        .unwrap_or(Value::Null);
    if !keys.is_empty() {
        let p = field::child(path, "x-kubernetes-list-type");
        let msg = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => out.push(field::required(&p, msg)),
            Some(lt) if lt != "map" => out.push(field::invalid(&p, Bad::Str(lt), msg)),
            _ => {}
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            out.push(field::required(
                &field::child(path, "x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        let ipath = field::child(path, "items");
        match items {
            None => out.push(field::required(
                &ipath,
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(i @ Value::Array(_)) => out.push(field::invalid(
                &ipath,
                Bad::Json(i),
                "must only have a single schema if x-kubernetes-list-type is map",
            )),
            Some(is) => {
                let it = s(is, "type");
                if it != "object" {
                    out.push(field::invalid(
                        &field::child(&ipath, "type"),
                        Bad::Str(it),
                        "must be object if parent array's x-kubernetes-list-type is map",
                    ));
                } else {
                    let mut seen = Vec::new();
                    for k in &keys {
                        match props(is).and_then(|p| p.get(*k)) {
                            Some(kp) => {
                                if matches!(s(kp, "type"), "array" | "object") {
                                    out.push(field::invalid(
                                        &field::child(
                                            &field::key(&field::child(&ipath, "properties"), k),
                                            "type",
                                        ),
                                        Bad::Str(it),
                                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                    ));
                                }
                            }
                            None => out.push(field::invalid(
                                &field::child(path, "x-kubernetes-list-map-keys"),
                                Bad::Json(&keys_value),
                                "entries must all be names of item properties",
                            )),
                        }
                        if seen.contains(k) {
                            out.push(field::invalid(
                                &field::child(path, "x-kubernetes-list-map-keys"),
                                Bad::Json(&keys_value),
                                "must not contain duplicate entries",
                            ));
                        }
                        seen.push(*k);
                    }
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(lt @ ("set" | "map")), Some(is)) = (list_type, item_schema) {
        let ipath = field::child(path, "items");
        if b(is, "nullable") {
            out.push(field::forbidden(
                &field::child(&ipath, "nullable"),
                &format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            let required: Vec<&str> = is
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for k in &keys {
                let Some(kp) = props(is).and_then(|p| p.get(*k)) else {
                    continue;
                };
                let kpath = field::key(&field::child(&ipath, "properties"), k);
                if !required.contains(k) && kp.get("default").is_none_or(Value::is_null) {
                    out.push(field::required(
                        &field::child(&kpath, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if b(kp, "nullable") {
                    out.push(field::forbidden(
                        &field::child(&kpath, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

/// The `x-kubernetes-validations` of one node: their fields, then (when the schema has no
/// errors at or below this node) compilation and cost.
#[allow(clippy::too_many_arguments)]
fn rules(
    v: &Value,
    path: &str,
    ctx: &Ctx,
    node: Option<&Node>,
    cardinality: Option<u64>,
    cost: &mut TotalCost,
    schema_errs: &mut Vec<FieldCause>,
    cel_errs: &mut Vec<FieldCause>,
) {
    let raw = v
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let base = field::child(path, "x-kubernetes-validations");
    let has_newline = |t: &str| t.contains('\n') || t.contains('\r');
    for (i, r) in raw.iter().enumerate() {
        let rp = field::index(&base, i);
        let rule = s(r, "rule");
        let message = s(r, "message");
        let trimmed_rule = rule.trim();
        let trimmed_msg = message.trim();
        if trimmed_rule.is_empty() {
            schema_errs.push(field::required(
                &field::child(&rp, "rule"),
                "rule is not specified",
            ));
        } else if !message.is_empty() && trimmed_msg.is_empty() {
            schema_errs.push(field::invalid(
                &field::child(&rp, "message"),
                Bad::Str(message),
                "must be non-empty if specified",
            ));
        } else if has_newline(trimmed_msg) {
            schema_errs.push(field::invalid(
                &field::child(&rp, "message"),
                Bad::Str(message),
                "must not contain line breaks",
            ));
        } else if has_newline(trimmed_rule) && trimmed_msg.is_empty() {
            schema_errs.push(field::required(
                &field::child(&rp, "message"),
                "message must be specified if rule contains line breaks",
            ));
        }
        let mexpr = s(r, "messageExpression");
        if !mexpr.is_empty() && mexpr.trim().is_empty() {
            schema_errs.push(field::required(
                &field::child(&rp, "messageExpression"),
                "messageExpression must be non-empty if specified",
            ));
        }
        if let Some(reason) = r.get("reason").and_then(Value::as_str)
            && !REASONS.contains(&reason)
        {
            schema_errs.push(field::not_supported(
                &field::child(&rp, "reason"),
                Bad::Str(reason),
                &REASONS,
            ));
        }
        let fp = s(r, "fieldPath");
        if !fp.is_empty() && fp.trim().is_empty() {
            schema_errs.push(field::invalid(
                &field::child(&rp, "fieldPath"),
                Bad::Str(fp),
                "must be non-empty if specified",
            ));
        }
        if has_newline(fp) {
            schema_errs.push(field::invalid(
                &field::child(&rp, "fieldPath"),
                Bad::Str(fp),
                "must not contain line breaks",
            ));
        }
        if !fp.is_empty() {
            let compiled;
            let typed = match node {
                Some(n) => n,
                None => {
                    compiled = compile_node(v, false);
                    &compiled
                }
            };
            if cel::valid_field_path(fp, typed, true).is_err() {
                schema_errs.push(field::invalid(
                    &field::child(&rp, "fieldPath"),
                    Bad::Str(fp),
                    "must be a valid path",
                ));
            }
        }
    }
    let Some(node) = node else { return };
    if !schema_errs.is_empty() {
        return;
    }
    let card = cardinality.unwrap_or_else(|| cel::cost::max_cardinality(Some(node)));
    for (i, (r, compiled)) in raw.iter().zip(&node.rules).enumerate() {
        let rp = field::index(&base, i);
        let rule_path = field::child(&rp, "rule");
        let rule_obj = rule_value(r);
        if let Some(Ok(_)) = &compiled.program {
            let expression_cost = compiled.max_cost.saturating_mul(card);
            if expression_cost > STATIC_ESTIMATED_COST_LIMIT {
                cel_errs.push(field::forbidden(
                    &rule_path,
                    &cost_error_message(
                        "estimated rule cost",
                        expression_cost,
                        STATIC_ESTIMATED_COST_LIMIT,
                    ),
                ));
            }
            cost.observe(&rule_path, expression_cost);
        }
        if let Some(Err(detail)) = &compiled.program {
            let mut c = field::invalid(&rule_path, Bad::Omit, detail);
            // The rule is shown as upstream prints its internal struct.
            c.message = format!(
                "{rule_path}: Invalid value: {}: {detail}",
                struct_json(&rule_obj)
            );
            cel_errs.push(c);
        }
        match &compiled.message_program {
            Some(Err(detail)) => {
                let mp = field::child(&rp, "messageExpression");
                let mut c = field::invalid(&mp, Bad::Omit, detail);
                c.message = format!("{mp}: Invalid value: {}: {detail}", struct_json(&rule_obj));
                cel_errs.push(c);
            }
            Some(Ok(_)) => {
                let mp = field::child(&rp, "messageExpression");
                let mcost = compiled.message_max_cost.saturating_mul(card);
                if mcost > STATIC_ESTIMATED_COST_LIMIT {
                    cel_errs.push(field::forbidden(
                        &mp,
                        &cost_error_message(
                            "estimated messageExpression cost",
                            mcost,
                            STATIC_ESTIMATED_COST_LIMIT,
                        ),
                    ));
                }
                cost.observe(&mp, mcost);
            }
            None => {}
        }
        if compiled.uses_old_self {
            if let Some(p) = &ctx.uncorrelatable {
                cel_errs.push(field::invalid(
                    &rule_path,
                    Bad::Str(&compiled.rule),
                    &format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {p}"),
                ));
            }
        } else if let Some(o) = r.get("optionalOldSelf").filter(|o| !o.is_null())
            && matches!(&compiled.program, Some(Ok(_)))
        {
            cel_errs.push(field::invalid(
                &field::child(&rp, "optionalOldSelf"),
                Bad::Json(o),
                "may not be set if oldSelf is not used in rule",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
