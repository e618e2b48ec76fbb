//! The gnostic `openapi.v2.Document` protobuf encoding of swagger 2.0 (kubectl 1.27/1.28).
//!
//! Messages follow gnostic-models' `openapiv2/OpenAPIv2.proto` (package `openapi.v2`), declared
//! by hand with only the fields this server emits; field numbers are the proto's. Vendor
//! extensions and free-form values (`default`, `enum`, `example`) are `Any { yaml }`: kubectl
//! YAML-decodes them, so they are written as YAML flow text (see [`yaml_flow`]).

use serde_json::Value;

/// `openapi.v2.Document`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Document {
    #[prost(string, tag = "1")]
    pub(crate) swagger: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    pub(crate) paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    pub(crate) definitions: Option<Definitions>,
    #[prost(message, repeated, tag = "16")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Info`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Info {
    #[prost(string, tag = "1")]
    pub(crate) title: String,
    #[prost(string, tag = "2")]
    pub(crate) version: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
}

/// `openapi.v2.Any`; only the YAML text is used.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(string, tag = "2")]
    pub(crate) yaml: String,
}

/// `openapi.v2.NamedAny`: a vendor extension.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedAny {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Any>,
}

/// `openapi.v2.Paths`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Paths {
    #[prost(message, repeated, tag = "1")]
    pub(crate) vendor_extension: Vec<NamedAny>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) path: Vec<NamedPathItem>,
}

/// `openapi.v2.NamedPathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedPathItem {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<PathItem>,
}

/// `openapi.v2.PathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PathItem {
    #[prost(message, optional, tag = "2")]
    pub(crate) get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    pub(crate) put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    pub(crate) post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    pub(crate) delete: Option<Operation>,
    #[prost(message, optional, tag = "6")]
    pub(crate) options: Option<Operation>,
    #[prost(message, optional, tag = "7")]
    pub(crate) head: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    pub(crate) patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    pub(crate) parameters: Vec<ParametersItem>,
    #[prost(message, repeated, tag = "10")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Operation`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Operation {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tags: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) summary: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "5")]
    pub(crate) operation_id: String,
    #[prost(string, repeated, tag = "6")]
    pub(crate) produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub(crate) consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    pub(crate) parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    pub(crate) responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    pub(crate) schemes: Vec<String>,
    #[prost(bool, tag = "11")]
    pub(crate) deprecated: bool,
    #[prost(message, repeated, tag = "13")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.ParametersItem` (only the inline `parameter` case is emitted).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    pub(crate) parameter: Option<Parameter>,
}

/// `openapi.v2.Parameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Parameter {
    #[prost(oneof = "parameter::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<parameter::Oneof>,
}

/// Oneof of [`Parameter`].
pub(crate) mod parameter {
    /// `openapi.v2.Parameter.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1")]
        BodyParameter(Box<super::BodyParameter>),
        #[prost(message, tag = "2")]
        NonBodyParameter(super::NonBodyParameter),
    }
}

/// `openapi.v2.BodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BodyParameter {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(string, tag = "3")]
    pub(crate) r#in: String,
    #[prost(bool, tag = "4")]
    pub(crate) required: bool,
    #[prost(message, optional, tag = "5")]
    pub(crate) schema: Option<Schema>,
}

/// `openapi.v2.NonBodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NonBodyParameter {
    #[prost(oneof = "non_body_parameter::Oneof", tags = "3, 4")]
    pub(crate) oneof: Option<non_body_parameter::Oneof>,
}

/// Oneof of [`NonBodyParameter`].
pub(crate) mod non_body_parameter {
    /// `openapi.v2.NonBodyParameter.oneof` (header and form-data parameters are never emitted).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "3")]
        QueryParameterSubSchema(super::QueryParameterSubSchema),
        #[prost(message, tag = "4")]
        PathParameterSubSchema(super::PathParameterSubSchema),
    }
}

/// `openapi.v2.QueryParameterSubSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub(crate) required: bool,
    #[prost(string, tag = "2")]
    pub(crate) r#in: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "4")]
    pub(crate) name: String,
    #[prost(string, tag = "6")]
    pub(crate) r#type: String,
    #[prost(bool, tag = "20")]
    pub(crate) unique_items: bool,
}

/// `openapi.v2.PathParameterSubSchema` (note: `type` is field 5 here, 6 in the query one).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PathParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub(crate) required: bool,
    #[prost(string, tag = "2")]
    pub(crate) r#in: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "4")]
    pub(crate) name: String,
    #[prost(string, tag = "5")]
    pub(crate) r#type: String,
    #[prost(bool, tag = "19")]
    pub(crate) unique_items: bool,
}

/// `openapi.v2.Responses`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Responses {
    #[prost(message, repeated, tag = "1")]
    pub(crate) response_code: Vec<NamedResponseValue>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.NamedResponseValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedResponseValue {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<ResponseValue>,
}

/// `openapi.v2.ResponseValue` (only the inline `response` case is emitted).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    pub(crate) response: Option<Response>,
}

/// `openapi.v2.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Response {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) schema: Option<SchemaItem>,
}

/// `openapi.v2.SchemaItem` (only the `schema` case is emitted).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    pub(crate) schema: Option<Schema>,
}

/// `openapi.v2.Definitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedSchema {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Schema>,
}

/// `openapi.v2.Properties`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub(crate) value: Vec<String>,
}

/// `openapi.v2.ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub(crate) schema: Vec<Schema>,
}

/// `openapi.v2.AdditionalPropertiesItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AdditionalPropertiesItem {
    #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<additional_properties_item::Oneof>,
}

/// Oneof of [`AdditionalPropertiesItem`].
pub(crate) mod additional_properties_item {
    /// `openapi.v2.AdditionalPropertiesItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1")]
        Schema(Box<super::Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }
}

/// `openapi.v2.Schema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Schema {
    /// `_ref`.
    #[prost(string, tag = "1")]
    pub(crate) xref: String,
    #[prost(string, tag = "2")]
    pub(crate) format: String,
    #[prost(string, tag = "3")]
    pub(crate) title: String,
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "5")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "6")]
    pub(crate) multiple_of: f64,
    #[prost(double, tag = "7")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "8")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "9")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "10")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "11")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "12")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "13")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "14")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "15")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "16")]
    pub(crate) unique_items: bool,
    #[prost(int64, tag = "17")]
    pub(crate) max_properties: i64,
    #[prost(int64, tag = "18")]
    pub(crate) min_properties: i64,
    #[prost(string, repeated, tag = "19")]
    pub(crate) required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(message, optional, tag = "21")]
    pub(crate) additional_properties: Option<AdditionalPropertiesItem>,
    #[prost(message, optional, tag = "22")]
    pub(crate) r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub(crate) items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub(crate) all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub(crate) properties: Option<Properties>,
    #[prost(string, tag = "26")]
    pub(crate) discriminator: String,
    #[prost(bool, tag = "27")]
    pub(crate) read_only: bool,
    #[prost(message, optional, tag = "30")]
    pub(crate) example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// Encodes a swagger 2.0 JSON document (as rendered by `v2::document`) as protobuf.
pub(crate) fn encode(document: &Value) -> Vec<u8> {
    prost::Message::encode_to_vec(&document_from_json(document))
}

fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn bool_of(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings_of(value: &Value, key: &str) -> Vec<String> {
    match value.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn any(value: &Value) -> Any {
    Any {
        yaml: yaml_flow(value),
    }
}

/// `x-` keys of a JSON object as vendor extensions.
fn extensions(value: &Value) -> Vec<NamedAny> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(any(v)),
        })
        .collect()
}

fn document_from_json(doc: &Value) -> Document {
    let info = doc.get("info").map(|info| Info {
        title: str_of(info, "title"),
        version: str_of(info, "version"),
        description: str_of(info, "description"),
    });
    let path = match doc.get("paths") {
        Some(Value::Object(paths)) => paths
            .iter()
            .filter(|(name, _)| name.starts_with('/'))
            .map(|(name, item)| NamedPathItem {
                name: name.clone(),
                value: Some(path_item(item)),
            })
            .collect(),
        _ => Vec::new(),
    };
    let definitions = match doc.get("definitions") {
        Some(Value::Object(defs)) => defs
            .iter()
            .map(|(name, schema)| NamedSchema {
                name: name.clone(),
                value: Some(schema_from_json(schema)),
            })
            .collect(),
        _ => Vec::new(),
    };
    Document {
        swagger: str_of(doc, "swagger"),
        info,
        paths: Some(Paths {
            vendor_extension: doc.get("paths").map(extensions).unwrap_or_default(),
            path,
        }),
        definitions: Some(Definitions {
            additional_properties: definitions,
        }),
        vendor_extension: extensions(doc),
    }
}

fn path_item(item: &Value) -> PathItem {
    let op = |method: &str| item.get(method).map(operation);
    PathItem {
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters(item),
        vendor_extension: extensions(item),
    }
}

fn parameters(value: &Value) -> Vec<ParametersItem> {
    match value.get("parameters") {
        Some(Value::Array(params)) => params.iter().filter_map(parameter).collect(),
        _ => Vec::new(),
    }
}

fn parameter(param: &Value) -> Option<ParametersItem> {
    let oneof = match param.get("in").and_then(Value::as_str)? {
        "body" => parameter::Oneof::BodyParameter(Box::new(BodyParameter {
            description: str_of(param, "description"),
            name: str_of(param, "name"),
            r#in: "body".to_owned(),
            required: bool_of(param, "required"),
            schema: param.get("schema").map(schema_from_json),
        })),
        "query" => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(
                QueryParameterSubSchema {
                    required: bool_of(param, "required"),
                    r#in: "query".to_owned(),
                    description: str_of(param, "description"),
                    name: str_of(param, "name"),
                    r#type: str_of(param, "type"),
                    unique_items: bool_of(param, "uniqueItems"),
                },
            )),
        }),
        "path" => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::PathParameterSubSchema(
                PathParameterSubSchema {
                    required: bool_of(param, "required"),
                    r#in: "path".to_owned(),
                    description: str_of(param, "description"),
                    name: str_of(param, "name"),
                    r#type: str_of(param, "type"),
                    unique_items: bool_of(param, "uniqueItems"),
                },
            )),
        }),
        _ => return None,
    };
    Some(ParametersItem {
        parameter: Some(Parameter { oneof: Some(oneof) }),
    })
}

fn operation(op: &Value) -> Operation {
    let response_code = match op.get("responses") {
        Some(Value::Object(responses)) => responses
            .iter()
            .filter(|(code, _)| !code.starts_with("x-"))
            .map(|(code, response)| NamedResponseValue {
                name: code.clone(),
                value: Some(ResponseValue {
                    response: Some(Response {
                        description: str_of(response, "description"),
                        schema: response.get("schema").map(|s| SchemaItem {
                            schema: Some(schema_from_json(s)),
                        }),
                    }),
                }),
            })
            .collect(),
        _ => Vec::new(),
    };
    Operation {
        tags: strings_of(op, "tags"),
        summary: str_of(op, "summary"),
        description: str_of(op, "description"),
        operation_id: str_of(op, "operationId"),
        produces: strings_of(op, "produces"),
        consumes: strings_of(op, "consumes"),
        parameters: parameters(op),
        responses: Some(Responses {
            response_code,
            vendor_extension: op.get("responses").map(extensions).unwrap_or_default(),
        }),
        schemes: strings_of(op, "schemes"),
        deprecated: bool_of(op, "deprecated"),
        vendor_extension: extensions(op),
    }
}

/// Converts a swagger 2.0 JSON schema (already simplified by `v2::to_v2`).
fn schema_from_json(value: &Value) -> Schema {
    let f64_of = |key: &str| value.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let i64_of = |key: &str| value.get(key).and_then(Value::as_i64).unwrap_or(0);
    let items = match value.get("items") {
        Some(items @ Value::Object(_)) => Some(ItemsItem {
            schema: vec![schema_from_json(items)],
        }),
        Some(Value::Array(items)) => Some(ItemsItem {
            schema: items.iter().map(schema_from_json).collect(),
        }),
        _ => None,
    };
    let additional_properties = match value.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(AdditionalPropertiesItem {
            oneof: Some(additional_properties_item::Oneof::Boolean(*b)),
        }),
        Some(schema @ Value::Object(_)) => Some(AdditionalPropertiesItem {
            oneof: Some(additional_properties_item::Oneof::Schema(Box::new(
                schema_from_json(schema),
            ))),
        }),
        _ => None,
    };
    let properties = match value.get("properties") {
        Some(Value::Object(properties)) => Some(Properties {
            additional_properties: properties
                .iter()
                .map(|(name, schema)| NamedSchema {
                    name: name.clone(),
                    value: Some(schema_from_json(schema)),
                })
                .collect(),
        }),
        _ => None,
    };
    let r#type = match value.get("type") {
        Some(Value::String(t)) => Some(TypeItem {
            value: vec![t.clone()],
        }),
        Some(Value::Array(ts)) => Some(TypeItem {
            value: ts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        }),
        _ => None,
    };
    Schema {
        xref: str_of(value, "$ref"),
        format: str_of(value, "format"),
        title: str_of(value, "title"),
        description: str_of(value, "description"),
        default: value.get("default").map(any),
        multiple_of: f64_of("multipleOf"),
        maximum: f64_of("maximum"),
        exclusive_maximum: bool_of(value, "exclusiveMaximum"),
        minimum: f64_of("minimum"),
        exclusive_minimum: bool_of(value, "exclusiveMinimum"),
        max_length: i64_of("maxLength"),
        min_length: i64_of("minLength"),
        pattern: str_of(value, "pattern"),
        max_items: i64_of("maxItems"),
        min_items: i64_of("minItems"),
        unique_items: bool_of(value, "uniqueItems"),
        max_properties: i64_of("maxProperties"),
        min_properties: i64_of("minProperties"),
        required: strings_of(value, "required"),
        r#enum: match value.get("enum") {
            Some(Value::Array(values)) => values.iter().map(any).collect(),
            _ => Vec::new(),
        },
        additional_properties,
        r#type,
        items,
        all_of: match value.get("allOf") {
            Some(Value::Array(all)) => all.iter().map(schema_from_json).collect(),
            _ => Vec::new(),
        },
        properties,
        discriminator: str_of(value, "discriminator"),
        read_only: bool_of(value, "readOnly"),
        example: value.get("example").map(any),
        vendor_extension: extensions(value),
    }
}

/// A JSON value as single-line YAML flow text (`{"group": "", "kind": "Pod"}`, `[1, 2]`,
/// `"text"`).
///
/// JSON itself is nearly YAML; this also puts a space after every `:` and `,`, and escapes every
/// character YAML does not allow in a double-quoted scalar, so that yaml.v2 (YAML 1.1) reads back
/// exactly the value.
pub(crate) fn yaml_flow(value: &Value) -> String {
    let mut out = String::new();
    write_flow(value, &mut out);
    out
}

fn write_flow(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_quoted(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_quoted(key, out);
                out.push_str(": ");
                write_flow(item, out);
            }
            out.push('}');
        }
    }
}

/// A YAML double-quoted scalar. Printable characters (YAML 1.1's `c-printable`) are kept,
/// everything else is escaped.
fn write_quoted(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' => {
                out.push(c)
            }
            c if (c as u32) >= 0x10000 => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_flow_is_json_with_spaces_and_escapes() {
        assert_eq!(
            yaml_flow(&json!({"group": "", "kind": "ConfigMap", "version": "v1"})),
            r#"{"group": "", "kind": "ConfigMap", "version": "v1"}"#
        );
        assert_eq!(
            yaml_flow(&json!([1, 2.5, true, null])),
            "[1, 2.5, true, null]"
        );
        assert_eq!(
            yaml_flow(&json!("a\"b\\c\nd\u{7f}\u{1}é😀")),
            "\"a\\\"b\\\\c\\nd\\u007F\\u0001é😀\""
        );
    }

    #[test]
    fn boxed_oneof_round_trips() {
        let schema = schema_from_json(&json!({
            "type": "object",
            "additionalProperties": {"type": "string"},
            "x-kubernetes-map-type": "granular",
        }));
        let bytes = prost::Message::encode_to_vec(&schema);
        let decoded = <Schema as prost::Message>::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded, schema);
        assert_eq!(decoded.vendor_extension[0].name, "x-kubernetes-map-type");
        assert_eq!(
            decoded.vendor_extension[0]
                .value
                .as_ref()
                .map(|v| v.yaml.as_str()),
            Some("\"granular\"")
        );
    }
}
