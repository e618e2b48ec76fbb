//! Validation of CustomResourceDefinitions on create and update (upstream
//! `apis/apiextensions/validation`), with one cause per problem in kube-apiserver's words.
//!
//! Upstream validates the *internal* form of a CRD: a v1 CRD whose versions all carry the same
//! schema, subresources or printer columns has them moved to `spec.validation`,
//! `spec.subresources` and `spec.additionalPrinterColumns`, and `spec.version` set to the first
//! version's name. Errors are reported at those paths, so a single-version CRD's schema errors
//! read `spec.validation.openAPIV3Schema…` — this module reproduces that.

use super::schema::field::{self, Bad, go_json};
use super::schema::objectmeta::dns1035_label_problems;
use super::schema::{cel, compile_node, structural};
use crate::status::FieldCause;
use crate::table::jsonpath::JsonPath;
use crate::validation::dns1123_subdomain_problems;
use serde_json::{Map, Value, json};

/// The annotation protected groups (`*.k8s.io`, `*.kubernetes.io`) must carry.
pub const API_APPROVED_ANNOTATION: &str = "api-approved.kubernetes.io";
const PRINTER_COLUMN_TYPES: &str = "boolean,date,integer,number,string";
const PRINTER_COLUMN_FORMATS: &str = "byte,date,date-time,double,float,int32,int64,password";
const MAX_SELECTABLE_FIELDS: usize = 8;

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

/// Whether two optional per-version fields are equal as `apiequality.Semantic` sees them
/// (absent, null and empty are the same).
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    (empty(a) && empty(b)) || a == b
}

/// Applies the v1 defaults (`SetDefaults_CustomResourceDefinitionSpec`): singular and listKind
/// from the kind, conversion strategy `None`.
pub fn apply_defaults(crd: &mut Value) {
    let kind = s(crd, "/spec/names/kind").to_string();
    let Some(names) = crd
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if names
        .get("singular")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        names.insert("singular".into(), json!(kind.to_lowercase()));
    }
    if names
        .get("listKind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && !kind.is_empty()
    {
        names.insert("listKind".into(), json!(format!("{kind}List")));
    }
    if let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("conversion").is_none_or(Value::is_null)
    {
        spec.insert("conversion".into(), json!({"strategy": "None"}));
    }
}

/// The per-version fields that upstream moves to the top level when every version has the same.
struct Internal<'a> {
    versions: Vec<&'a Value>,
    validation: Option<&'a Value>,
    subresources: Option<&'a Value>,
    columns: Option<&'a Value>,
    selectable: Option<&'a Value>,
    moved: [bool; 4],
}

const FIELDS: [&str; 4] = [
    "schema",
    "subresources",
    "additionalPrinterColumns",
    "selectableFields",
];

impl<'a> Internal<'a> {
    fn of(crd: &'a Value) -> Self {
        let versions: Vec<&Value> = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let mut moved = [false; 4];
        let mut top = [None; 4];
        if let Some(first) = versions.first() {
            for (i, f) in FIELDS.iter().enumerate() {
                if versions.iter().all(|v| same(v.get(*f), first.get(*f))) {
                    moved[i] = true;
                    top[i] = first.get(*f).filter(|x| !empty(Some(x)));
                }
            }
        }
        Internal {
            versions,
            validation: top[0],
            subresources: top[1],
            columns: top[2],
            selectable: top[3],
            moved,
        }
    }

    /// A version's own value of per-version field `i` (none when it was moved to the top).
    fn own<'v>(&self, v: &'v Value, i: usize) -> Option<&'v Value> {
        if self.moved[i] {
            None
        } else {
            v.get(FIELDS[i]).filter(|x| !empty(Some(x)))
        }
    }

    fn subresources_for(&self, v: &'a Value) -> Option<&'a Value> {
        self.subresources.or_else(|| self.own(v, 1))
    }

    fn any_status(&self) -> bool {
        self.subresources
            .is_some_and(|s| s.get("status").is_some_and(|x| !x.is_null()))
            || self.versions.iter().any(|v| {
                self.own(v, 1)
                    .is_some_and(|s| s.get("status").is_some_and(|x| !x.is_null()))
            })
    }

    /// The versions as upstream renders its internal `[]CustomResourceDefinitionVersion`.
    fn versions_value(&self) -> Value {
        Value::Array(
            self.versions
                .iter()
                .map(|v| {
                    let mut m = Map::new();
                    m.insert("Name".into(), v.get("name").cloned().unwrap_or(json!("")));
                    m.insert(
                        "Served".into(),
                        json!(v.get("served").and_then(Value::as_bool).unwrap_or(false)),
                    );
                    m.insert(
                        "Storage".into(),
                        json!(v.get("storage").and_then(Value::as_bool).unwrap_or(false)),
                    );
                    m.insert(
                        "Deprecated".into(),
                        json!(
                            v.get("deprecated")
                                .and_then(Value::as_bool)
                                .unwrap_or(false)
                        ),
                    );
                    m.insert(
                        "DeprecationWarning".into(),
                        v.get("deprecationWarning").cloned().unwrap_or(Value::Null),
                    );
                    for (i, (f, go)) in FIELDS
                        .iter()
                        .zip([
                            "Schema",
                            "Subresources",
                            "AdditionalPrinterColumns",
                            "SelectableFields",
                        ])
                        .enumerate()
                    {
                        m.insert(go.into(), self.own(v, i).cloned().unwrap_or(Value::Null));
                        let _ = f;
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }
}

/// `field.Invalid` with a value rendered as a Go struct (fields in declaration order).
fn invalid_struct(path: &str, v: &Value, detail: &str) -> FieldCause {
    let mut c = field::invalid(path, Bad::Omit, detail);
    c.message = format!("{path}: Invalid value: {}: {detail}", struct_json(v));
    c
}

fn struct_json(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{}:{}", go_json(&Value::String(k.clone())), struct_json(x)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(struct_json).collect::<Vec<_>>().join(",")
        ),
        other => go_json(other),
    }
}

fn dns1035(path: &str, value: &str, out: &mut Vec<FieldCause>) {
    let errs = dns1035_label_problems(value);
    if !errs.is_empty() {
        out.push(field::invalid(path, Bad::Str(value), &errs.join(",")));
    }
}

/// `ValidateCustomResourceDefinitionNames`.
fn validate_names(names: Option<&Value>, path: &str, out: &mut Vec<FieldCause>) {
    let get = |k: &str| {
        names
            .and_then(|n| n.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    for k in ["plural", "singular"] {
        let v = get(k);
        if !v.is_empty() {
            dns1035(&field::child(path, k), v, out);
        }
    }
    for k in ["kind", "listKind"] {
        let v = get(k);
        let errs = dns1035_label_problems(&v.to_lowercase());
        if !v.is_empty() && !errs.is_empty() {
            out.push(field::invalid(
                &field::child(path, k),
                Bad::Str(v),
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                ),
            ));
        }
    }
    let list = |k: &str| -> Vec<String> {
        names
            .and_then(|n| n.get(k))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    for (i, short) in list("shortNames").iter().enumerate() {
        dns1035(
            &field::index(&field::child(path, "shortNames"), i),
            short,
            out,
        );
    }
    let kind = get("kind");
    if !kind.is_empty() && kind == get("listKind") {
        out.push(field::invalid(
            &field::child(path, "listKind"),
            Bad::Str(kind),
            "kind and listKind may not be the same",
        ));
    }
    for (i, cat) in list("categories").iter().enumerate() {
        dns1035(
            &field::index(&field::child(path, "categories"), i),
            cat,
            out,
        );
    }
}

/// `validateSimpleJSONPath`.
fn simple_json_path(p: &str, path: &str) -> Option<FieldCause> {
    if p.is_empty() {
        Some(field::invalid(path, Bad::Str(p), "must not be empty"))
    } else if !p.starts_with('.') {
        Some(field::invalid(
            path,
            Bad::Str(p),
            "must be a simple json path starting with .",
        ))
    } else {
        None
    }
}

/// `ValidateCustomResourceColumnDefinition`, plus: the JSONPath must compile (kube-apiserver
/// cannot serve the CRD's tables otherwise).
fn validate_column(col: &Value, path: &str, out: &mut Vec<FieldCause>) {
    let name = s(col, "/name");
    if name.is_empty() {
        out.push(field::required(&field::child(path, "name"), ""));
    }
    let t = s(col, "/type");
    let types: Vec<&str> = PRINTER_COLUMN_TYPES.split(',').collect();
    if t.is_empty() {
        out.push(field::required(
            &field::child(path, "type"),
            &format!("must be one of {PRINTER_COLUMN_TYPES}"),
        ));
    } else if !types.contains(&t) {
        out.push(field::invalid(
            &field::child(path, "type"),
            Bad::Str(t),
            &format!("must be one of {PRINTER_COLUMN_TYPES}"),
        ));
    }
    let f = s(col, "/format");
    if !f.is_empty() && !PRINTER_COLUMN_FORMATS.split(',').any(|x| x == f) {
        out.push(field::invalid(
            &field::child(path, "format"),
            Bad::Str(f),
            &format!("must be one of {PRINTER_COLUMN_FORMATS}"),
        ));
    }
    let jp = s(col, "/jsonPath");
    let jpath = field::child(path, "JSONPath");
    if jp.is_empty() {
        out.push(field::required(&jpath, ""));
    } else if let Some(e) = simple_json_path(jp, &jpath) {
        out.push(e);
    } else if let Err(e) = JsonPath::compile(jp) {
        out.push(field::invalid(&jpath, Bad::Str(jp), &e));
    }
}

/// `ValidateCustomResourceDefinitionSubresources`.
fn validate_subresources(sub: Option<&Value>, path: &str, out: &mut Vec<FieldCause>) {
    let Some(scale) = sub.and_then(|s| s.get("scale")).filter(|x| !x.is_null()) else {
        return;
    };
    for (k, prefix, under) in [
        (
            "specReplicasPath",
            ".spec.",
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            ".status.",
            "should be a json path under .status",
        ),
    ] {
        let p = field::child(path, &format!("scale.{k}"));
        let v = s(scale, &format!("/{k}"));
        if v.is_empty() {
            out.push(field::required(&p, ""));
        } else if let Some(e) = simple_json_path(v, &p) {
            out.push(e);
        } else if !v.starts_with(prefix) {
            out.push(field::invalid(&p, Bad::Str(v), under));
        }
    }
    let ls = s(scale, "/labelSelectorPath");
    if !ls.is_empty() {
        let p = field::child(path, "scale.labelSelectorPath");
        if let Some(e) = simple_json_path(ls, &p) {
            out.push(e);
        } else if !ls.starts_with(".spec.") && !ls.starts_with(".status.") {
            out.push(field::invalid(
                &p,
                Bad::Str(ls),
                "should be a json path under either .spec or .status",
            ));
        }
    }
}

/// `ValidateCustomResourceSelectableFields`.
fn validate_selectable(fields: &Value, schema: &Value, path: &str, out: &mut Vec<FieldCause>) {
    let node = compile_node(schema, true);
    let mut seen: Vec<String> = Vec::new();
    for (i, f) in fields.as_array().into_iter().flatten().enumerate() {
        let ip = field::index(path, i);
        let jp = s(f, "/jsonPath");
        let jpath = field::child(&ip, "jsonPath");
        if jp.is_empty() {
            out.push(field::required(&jpath, ""));
            continue;
        }
        match cel::valid_field_path(jp, &node, false) {
            Err(e) => out.push(field::invalid(
                &jpath,
                Bad::Str(jp),
                &format!("is an invalid path: {e}"),
            )),
            Ok((p, found)) => {
                if p.split(['.', '[']).next() == Some("metadata") {
                    out.push(field::invalid(
                        &jpath,
                        Bad::Str(jp),
                        "must not point to fields in metadata",
                    ));
                }
                if !matches!(found.type_.as_str(), "string" | "boolean" | "integer") {
                    out.push(field::invalid(
                        &jpath,
                        Bad::Str(jp),
                        "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
                    ));
                }
                if seen.contains(&p) {
                    out.push(field::duplicate(&jpath, Bad::Str(jp)));
                } else {
                    seen.push(p);
                }
            }
        }
    }
    if seen.len() > MAX_SELECTABLE_FIELDS {
        out.push(field::too_many(
            path,
            seen.len() as i64,
            MAX_SELECTABLE_FIELDS as i64,
        ));
    }
}

fn has_defaults(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => m.contains_key("default") || m.values().any(has_defaults),
        Value::Array(a) => a.iter().any(has_defaults),
        _ => false,
    }
}

/// `validateCustomResourceDefinitionValidation` for one `schema` object (`{openAPIV3Schema}`).
fn validate_validation(
    schema: Option<&Value>,
    status: bool,
    path: &str,
    out: &mut Vec<FieldCause>,
) {
    if let Some(openapi) = schema.and_then(|s| s.get("openAPIV3Schema")) {
        out.extend(structural::validate_schema(
            openapi,
            &field::child(path, "openAPIV3Schema"),
            status,
            &super::object_meta::EmbeddedObjectMeta,
        ));
    }
}

fn deprecation_warning(v: &Value, path: &str, out: &mut Vec<FieldCause>) {
    let deprecated = v
        .get("deprecated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(w) = v.get("deprecationWarning").filter(|w| !w.is_null()) else {
        return;
    };
    let text = w.as_str().unwrap_or("");
    let p = field::child(path, "deprecationWarning");
    let mut errs = Vec::new();
    if !deprecated {
        errs.push("can only be set for deprecated versions".to_string());
    } else {
        if text.len() > 256 {
            errs.push("must be <= 256 characters long".into());
        }
        if text.is_empty() {
            errs.push("must not be an empty string".into());
        }
        for (i, c) in text.char_indices() {
            if c.is_control() {
                errs.push(format!(
                    "must only contain printable UTF-8 characters; control character found at index {i}"
                ));
                break;
            }
        }
    }
    for e in errs {
        out.push(field::invalid(&p, Bad::Str(text), &e));
    }
}

fn api_approval_state(crd: &Value) -> (u8, String) {
    let a = s(crd, "/metadata/annotations/api-approved.kubernetes.io");
    let is_url = a.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty() && !rest.is_empty() && !rest.starts_with('/')
    });
    if a.is_empty() {
        (
            3,
            format!(
                "protected groups must have approval annotation {API_APPROVED_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )
    } else if a.starts_with("unapproved") {
        (2, format!("not approved: {}", field::go_quote(a)))
    } else if is_url {
        (1, format!("approved in {a}"))
    } else {
        (
            0,
            format!(
                "protected groups must have approval annotation {API_APPROVED_ANNOTATION:?} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )
    }
}

fn validate_api_approval(crd: &Value, old: Option<&Value>, out: &mut Vec<FieldCause>) {
    let group = s(crd, "/spec/group");
    let protected = group == "k8s.io"
        || group.ends_with(".k8s.io")
        || group == "kubernetes.io"
        || group.ends_with(".kubernetes.io");
    if !protected {
        return;
    }
    let (state, reason) = api_approval_state(crd);
    if let Some(old) = old
        && api_approval_state(old).0 == state
    {
        return;
    }
    let path = field::key("metadata.annotations", API_APPROVED_ANNOTATION);
    match state {
        3 => out.push(field::required(&path, &reason)),
        0 => out.push(field::invalid(
            &path,
            Bad::Str(s(crd, "/metadata/annotations/api-approved.kubernetes.io")),
            &reason,
        )),
        _ => {}
    }
}

fn validate_conversion(conv: Option<&Value>, out: &mut Vec<FieldCause>) {
    let Some(conv) = conv.filter(|c| !c.is_null()) else {
        return;
    };
    let strategy = s(conv, "/strategy");
    let p = "spec.conversion";
    if strategy.is_empty() {
        out.push(field::required(&field::child(p, "strategy"), ""));
    } else if strategy != "None" && strategy != "Webhook" {
        out.push(field::not_supported(
            &field::child(p, "strategy"),
            Bad::Str(strategy),
            &["None", "Webhook"],
        ));
    }
    let client = conv
        .pointer("/webhook/clientConfig")
        .filter(|c| !c.is_null());
    let review_versions = conv
        .pointer("/webhook/conversionReviewVersions")
        .filter(|v| !v.is_null());
    // Upstream validates the internal form, where clientConfig and conversionReviewVersions
    // sit directly under spec.conversion.
    let cc_path = field::child(p, "webhookClientConfig");
    let vp = field::child(p, "conversionReviewVersions");
    if strategy == "Webhook" {
        match client {
            None => out.push(field::required(
                &cc_path,
                "required when strategy is set to Webhook",
            )),
            Some(cc) => {
                let url = cc.get("url").filter(|u| !u.is_null());
                let service = cc.get("service").filter(|s| !s.is_null());
                match (url, service) {
                    (Some(url), None) => crate::admission::webhook::client_config::validate_url(
                        &field::child(&cc_path, "url"),
                        url.as_str().unwrap_or(""),
                        out,
                    ),
                    (None, Some(service)) => {
                        crate::admission::webhook::client_config::validate_service(
                            &field::child(&cc_path, "service"),
                            service,
                            out,
                        )
                    }
                    _ => out.push(field::required(
                        &cc_path,
                        "exactly one of url or service is required",
                    )),
                }
            }
        }
        let versions: Vec<&str> = review_versions
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or("")).collect())
            .unwrap_or_default();
        if versions.is_empty() {
            out.push(field::required(&vp, ""));
        } else {
            let mut seen: Vec<&str> = Vec::new();
            for (i, v) in versions.iter().enumerate() {
                let at = format!("{vp}[{i}]");
                if seen.contains(v) {
                    out.push(field::invalid(&at, Bad::Str(v), "duplicate version"));
                    continue;
                }
                seen.push(v);
                for problem in dns1035_label_problems(v) {
                    out.push(field::invalid(&at, Bad::Str(v), &problem));
                }
            }
            if !versions.iter().any(|v| *v == "v1" || *v == "v1beta1") {
                // Go prints the []string as `%#v` does.
                let quoted: Vec<String> = versions.iter().map(|v| field::go_quote(v)).collect();
                let shown = format!("[]string{{{}}}", quoted.join(", "));
                out.push(field::invalid(
                    &vp,
                    Bad::Raw(&shown),
                    "must include at least one of v1, v1beta1",
                ));
            }
        }
    } else {
        if client.is_some() {
            out.push(field::forbidden(
                &cc_path,
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if review_versions
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            out.push(field::forbidden(
                &vp,
                "should not be set when strategy is not set to Webhook",
            ));
        }
    }
}

/// Validates a write of a CRD's status (`ValidateUpdateCustomResourceDefinitionStatus`): only
/// the accepted names; the spec did not change.
pub fn validate_crd_status(crd: &Value) -> Vec<FieldCause> {
    let mut out = Vec::new();
    validate_names(
        crd.pointer("/status/acceptedNames"),
        "status.acceptedNames",
        &mut out,
    );
    out
}

/// Validates a CRD being created.
pub fn validate_crd(crd: &Value) -> Vec<FieldCause> {
    validate(crd, None)
}

/// Validates a CRD update.
pub fn validate_crd_update(crd: &Value, old: &Value) -> Vec<FieldCause> {
    validate(crd, Some(old))
}

fn validate(crd: &Value, old: Option<&Value>) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let group = s(crd, "/spec/group");
    let plural = s(crd, "/spec/names/plural");
    let name = s(crd, "/metadata/name");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        out.push(field::invalid(
            "metadata.name",
            Bad::Str(name),
            r#"must be spec.names.plural+"."+spec.group"#,
        ));
    }
    // spec.group
    if group.is_empty() {
        out.push(field::required("spec.group", ""));
    } else {
        let errs = dns1123_subdomain_problems(group);
        if !errs.is_empty() {
            out.push(field::invalid(
                "spec.group",
                Bad::Str(group),
                &errs.join(","),
            ));
        } else if group.split('.').count() < 2 {
            out.push(field::invalid(
                "spec.group",
                Bad::Str(group),
                "should be a domain with at least one dot",
            ));
        }
    }
    let scope = s(crd, "/spec/scope");
    if scope.is_empty() {
        out.push(field::required("spec.scope", ""));
    } else if scope != "Cluster" && scope != "Namespaced" {
        out.push(field::not_supported(
            "spec.scope",
            Bad::Str(scope),
            &["Cluster", "Namespaced"],
        ));
    }
    let internal = Internal::of(crd);
    if internal.validation.is_none() {
        for (i, v) in internal.versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema")
                .is_none_or(Value::is_null)
            {
                out.push(field::required(
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "",
                ));
            }
        }
    }
    let preserve = crd
        .pointer("/spec/preserveUnknownFields")
        .and_then(Value::as_bool);
    let any_defaults = internal
        .versions
        .iter()
        .any(|v| v.get("schema").is_some_and(has_defaults));
    if any_defaults && preserve == Some(true) {
        out.push(field::invalid(
            "spec.preserveUnknownFields",
            Bad::Json(&Value::Bool(true)),
            "must be false in order to use defaults in the schema",
        ));
    }
    let mut storage = 0;
    let mut names_seen: Vec<&str> = Vec::new();
    let mut unique = true;
    for (i, v) in internal.versions.iter().enumerate() {
        let vpath = format!("spec.versions[{i}]");
        let vname = s(v, "/name");
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        if names_seen.contains(&vname) {
            unique = false;
        } else {
            names_seen.push(vname);
        }
        dns1035(&field::child(&vpath, "name"), vname, &mut out);
        deprecation_warning(v, &vpath, &mut out);
        let status = internal
            .subresources_for(v)
            .is_some_and(|s| s.get("status").is_some_and(|x| !x.is_null()));
        validate_validation(
            internal.own(v, 0),
            status,
            &field::child(&vpath, "schema"),
            &mut out,
        );
        validate_subresources(
            internal.own(v, 1),
            &field::child(&vpath, "subresources"),
            &mut out,
        );
        for (j, col) in internal
            .own(v, 2)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            validate_column(
                col,
                &format!("{vpath}.additionalPrinterColumns[{j}]"),
                &mut out,
            );
        }
        if let Some(sf) = internal.own(v, 3) {
            match v.pointer("/schema/openAPIV3Schema") {
                Some(schema) => validate_selectable(
                    sf,
                    schema,
                    &field::child(&vpath, "selectableFields"),
                    &mut out,
                ),
                None => out.push(field::invalid(
                    &field::child(&vpath, "selectableFields"),
                    Bad::Str(""),
                    "may only be set when `version.schema.openAPIV3Schema` is not included",
                )),
            }
        }
    }
    let versions_value = internal.versions_value();
    if !unique {
        out.push(invalid_struct(
            "spec.versions",
            &versions_value,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        out.push(invalid_struct(
            "spec.versions",
            &versions_value,
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(first) = internal.versions.first() {
        let v = s(first, "/name");
        if !v.is_empty() {
            dns1035("spec.version", v, &mut out);
        }
    }
    for k in ["plural", "singular", "kind", "listKind"] {
        if s(crd, &format!("/spec/names/{k}")).is_empty() {
            out.push(field::required(&format!("spec.names.{k}"), ""));
        }
    }
    validate_names(crd.pointer("/spec/names"), "spec.names", &mut out);
    validate_validation(
        internal.validation,
        internal.any_status(),
        "spec.validation",
        &mut out,
    );
    validate_subresources(internal.subresources, "spec.subresources", &mut out);
    for (j, col) in internal
        .columns
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        validate_column(
            col,
            &format!("spec.additionalPrinterColumns[{j}]"),
            &mut out,
        );
    }
    if let Some(sf) = internal.selectable {
        match internal.validation.and_then(|v| v.get("openAPIV3Schema")) {
            Some(schema) => validate_selectable(sf, schema, "spec.selectableFields", &mut out),
            None => out.push(field::invalid(
                "spec.selectableFields",
                Bad::Str(""),
                "may only be set when validations.schema is included",
            )),
        }
    }
    let conversion = crd.pointer("/spec/conversion");
    if preserve == Some(true)
        && conversion.is_some_and(|c| s(c, "/strategy") != "None" && !s(c, "/strategy").is_empty())
    {
        out.push(field::invalid(
            "spec.conversion.strategy",
            Bad::Str(s(crd, "/spec/conversion/strategy")),
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    validate_conversion(conversion, &mut out);
    if let Some(old) = old {
        let established = old
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| s(c, "/type") == "Established" && s(c, "/status") == "True")
            });
        let mut immutable = |path: &str, pointer: &str| {
            let (n, o) = (s(crd, pointer), s(old, pointer));
            if n != o {
                out.push(field::invalid(path, Bad::Str(n), "field is immutable"));
            }
        };
        if established {
            immutable("spec.scope", "/spec/scope");
            immutable("spec.names.kind", "/spec/names/kind");
        }
        immutable("spec.group", "/spec/group");
        immutable("spec.names.plural", "/spec/names/plural");
    }
    // status
    validate_names(
        crd.pointer("/status/acceptedNames"),
        "status.acceptedNames",
        &mut out,
    );
    let stored: Vec<&str> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let stored_value = json!(stored);
    if stored.is_empty() {
        out.push(field::invalid(
            "status.storedVersions",
            Bad::Json(&stored_value),
            "must have at least one stored version",
        ));
    } else {
        let mut remaining: Vec<(usize, &str)> = stored.iter().copied().enumerate().collect();
        for v in &internal.versions {
            let n = s(v, "/name");
            let found = remaining.iter().position(|(_, x)| *x == n);
            if v.get("storage").and_then(Value::as_bool) == Some(true) && found.is_none() {
                out.push(field::invalid(
                    "status.storedVersions",
                    Bad::Json(&stored_value),
                    &format!("must have the storage version {n}"),
                ));
            }
            if let Some(p) = found {
                remaining.remove(p);
            }
        }
        for (i, v) in remaining {
            out.push(field::invalid(
                &format!("status.storedVersions[{i}]"),
                Bad::Str(v),
                &format!("missing from spec.versions; {v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {v} and removes {v} from status.storedVersions"),
            ));
        }
    }
    validate_api_approval(crd, old, &mut out);
    let old_preserve = old
        .and_then(|o| o.pointer("/spec/preserveUnknownFields"))
        .and_then(Value::as_bool)
        == Some(true);
    if preserve == Some(true) && !old_preserve {
        out.push(field::invalid(
            "spec.preserveUnknownFields",
            Bad::Json(&Value::Bool(true)),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    out
}

#[cfg(test)]
mod tests;
