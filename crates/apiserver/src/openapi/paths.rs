//! The REST paths and operations of a served kind, independent of the OpenAPI version they are
//! rendered in.

use super::{Gvk, KindEntry, names};

/// Content types a PATCH accepts (strategic merge patch is deliberately absent: see the module
/// docs of `openapi`).
pub(crate) const PATCH_CONTENT_TYPES: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
/// Content types responses are served in.
const RESPONSE_CONTENT_TYPES: [&str; 2] = ["application/json", "application/yaml"];
/// Content types responses of built-in kinds are served in.
const BUILT_IN_RESPONSE_CONTENT_TYPES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Content types the responses of an operation on `gvk` are served in: protobuf too when the
/// kind has a protobuf encoding (built-in kinds; custom resources have none).
pub(crate) fn response_content_types(gvk: &Gvk) -> &'static [&'static str] {
    let api_version = if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    };
    if crate::protobuf::supports(&api_version, &gvk.kind) {
        &BUILT_IN_RESPONSE_CONTENT_TYPES
    } else {
        &RESPONSE_CONTENT_TYPES
    }
}

/// Type of a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    String,
    Boolean,
    Integer,
}

impl ParamType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Boolean => "boolean",
            ParamType::Integer => "integer",
        }
    }
}

/// A path or query parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    /// In the path (always required) rather than the query.
    pub(crate) in_path: bool,
    pub(crate) ty: ParamType,
    pub(crate) description: String,
}

impl Param {
    fn query(name: &'static str, ty: ParamType, description: &str) -> Self {
        Param {
            name,
            in_path: false,
            ty,
            description: description.to_owned(),
        }
    }

    fn path(name: &'static str, description: String) -> Self {
        Param {
            name,
            in_path: true,
            ty: ParamType::String,
            description,
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    /// Component schema name.
    pub(crate) schema: String,
    pub(crate) required: bool,
    /// Accepted content types; `*/*` for anything the server decodes.
    pub(crate) content_types: Vec<&'static str>,
}

/// One response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) code: &'static str,
    pub(crate) description: &'static str,
    /// Component schema name of the body, if any.
    pub(crate) schema: Option<String>,
}

/// One operation on a path.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// Lower-case HTTP method: `get`, `put`, `post`, `patch` or `delete`.
    pub(crate) method: &'static str,
    /// `x-kubernetes-action`.
    pub(crate) action: &'static str,
    pub(crate) operation_id: String,
    pub(crate) description: String,
    pub(crate) tag: String,
    /// `x-kubernetes-group-version-kind`.
    pub(crate) gvk: Gvk,
    pub(crate) query: Vec<Param>,
    pub(crate) body: Option<Body>,
    pub(crate) responses: Vec<Response>,
}

/// A path with its common parameters and its operations.
#[derive(Debug, Clone)]
pub(crate) struct PathSpec {
    pub(crate) path: String,
    pub(crate) params: Vec<Param>,
    pub(crate) operations: Vec<Operation>,
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub(crate) fn gv_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// What the paths of a subresource look like.
enum Subresource {
    /// get/replace/patch of the parent kind (`status`, `ephemeralcontainers`, ...).
    ParentKind,
    /// get/replace/patch of autoscaling/v1 `Scale`.
    Scale,
    /// replace of the parent kind only (`namespaces/{name}/finalize`).
    ReplaceOnly,
}

fn subresource_shape(name: &str) -> Option<Subresource> {
    match name {
        "status" | "ephemeralcontainers" | "resize" | "approval" => Some(Subresource::ParentKind),
        "scale" => Some(Subresource::Scale),
        "finalize" => Some(Subresource::ReplaceOnly),
        _ => None,
    }
}

/// Upper-cases the first character.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The group as upstream spells it in tags and operation ids: `core` for the core group, the
/// `.k8s.io` suffix dropped, remaining DNS labels camel-cased (`rbac.authorization.k8s.io` →
/// `rbacAuthorization`, `stable.example.com` → `stableExampleCom`).
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "core".to_owned();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    let mut out = String::new();
    for (i, label) in trimmed
        .split(['.', '-'])
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i == 0 {
            out.push_str(label);
        } else {
            out.push_str(&capitalize(label));
        }
    }
    out
}

/// Query parameters of each action, described as upstream describes them
/// ([`super::param_text`]).
mod query {
    use super::super::param_text::{PRETTY, describe};
    use super::{Param, ParamType};

    fn from(options: &str, name: &'static str, ty: ParamType) -> Param {
        Param::query(name, ty, &describe(options, name))
    }

    pub(super) fn pretty() -> Param {
        Param::query("pretty", ParamType::String, PRETTY)
    }

    fn selectors_and_paging() -> Vec<Param> {
        let list = |name, ty| from("ListOptions", name, ty);
        vec![
            list("continue", ParamType::String),
            list("fieldSelector", ParamType::String),
            list("labelSelector", ParamType::String),
            list("limit", ParamType::Integer),
            list("resourceVersion", ParamType::String),
            list("resourceVersionMatch", ParamType::String),
            list("sendInitialEvents", ParamType::Boolean),
            list("timeoutSeconds", ParamType::Integer),
        ]
    }

    fn delete_options() -> Vec<Param> {
        let delete = |name, ty| from("DeleteOptions", name, ty);
        vec![
            delete("gracePeriodSeconds", ParamType::Integer),
            delete("orphanDependents", ParamType::Boolean),
            delete("propagationPolicy", ParamType::String),
        ]
    }

    pub(super) fn list() -> Vec<Param> {
        let mut params = vec![from(
            "ListOptions",
            "allowWatchBookmarks",
            ParamType::Boolean,
        )];
        params.extend(selectors_and_paging());
        params.push(from("ListOptions", "watch", ParamType::Boolean));
        params
    }

    pub(super) fn create_or_replace() -> Vec<Param> {
        let create = |name| from("CreateOptions", name, ParamType::String);
        vec![
            create("dryRun"),
            create("fieldManager"),
            create("fieldValidation"),
        ]
    }

    pub(super) fn patch() -> Vec<Param> {
        let patch = |name, ty| from("PatchOptions", name, ty);
        vec![
            patch("dryRun", ParamType::String),
            patch("fieldManager", ParamType::String),
            patch("fieldValidation", ParamType::String),
            patch("force", ParamType::Boolean),
        ]
    }

    pub(super) fn delete() -> Vec<Param> {
        let mut params = vec![from("DeleteOptions", "dryRun", ParamType::String)];
        params.extend(delete_options());
        params
    }

    pub(super) fn delete_collection() -> Vec<Param> {
        let mut params = vec![from("DeleteOptions", "dryRun", ParamType::String)];
        params.extend(delete_options());
        params.extend(selectors_and_paging());
        params
    }
}

/// Builds the operations of one kind.
struct Builder<'a> {
    entry: &'a KindEntry,
    tag: String,
    /// `Core` `V1`-style words of operation ids.
    gv_words: String,
}

impl<'a> Builder<'a> {
    fn new(entry: &'a KindEntry) -> Self {
        let k = &entry.kind;
        let group = group_word(&k.group);
        Builder {
            entry,
            tag: format!("{group}_{}", k.version),
            gv_words: format!("{}{}", capitalize(&group), capitalize(&k.version)),
        }
    }

    fn kind(&self) -> &str {
        &self.entry.kind.kind
    }

    /// `{verb}{Group}{Version}[Collection][Namespaced]{Kind}{suffix}`, as upstream names them.
    fn operation_id_with(&self, verb: &str, infix: &str, suffix: &str) -> String {
        let scope = if self.entry.kind.namespaced {
            "Namespaced"
        } else {
            ""
        };
        format!(
            "{verb}{}{infix}{scope}{}{suffix}",
            self.gv_words,
            self.kind()
        )
    }

    fn operation_id(&self, verb: &str, suffix: &str) -> String {
        self.operation_id_with(verb, "", suffix)
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &self,
        method: &'static str,
        action: &'static str,
        operation_id: String,
        description: String,
        gvk: Gvk,
        query: Vec<Param>,
        body: Option<Body>,
        responses: Vec<Response>,
    ) -> Operation {
        Operation {
            method,
            action,
            operation_id,
            description,
            tag: self.tag.clone(),
            gvk,
            query,
            body,
            responses,
        }
    }

    fn ok(schema: &str) -> Response {
        Response {
            code: "200",
            description: "OK",
            schema: Some(schema.to_owned()),
        }
    }

    fn created(schema: &str) -> Response {
        Response {
            code: "201",
            description: "Created",
            schema: Some(schema.to_owned()),
        }
    }

    fn accepted(schema: &str) -> Response {
        Response {
            code: "202",
            description: "Accepted",
            schema: Some(schema.to_owned()),
        }
    }

    fn unauthorized() -> Response {
        Response {
            code: "401",
            description: "Unauthorized",
            schema: None,
        }
    }

    fn body(schema: &str, required: bool, content_types: &[&'static str]) -> Option<Body> {
        Some(Body {
            schema: schema.to_owned(),
            required,
            content_types: content_types.to_vec(),
        })
    }

    fn list(&self, operation_id: String) -> Operation {
        let list = &self.entry.list_schema;
        self.op(
            "get",
            "list",
            operation_id,
            format!("list or watch objects of kind {}", self.kind()),
            self.entry.gvk(),
            query::list(),
            None,
            vec![Self::ok(list), Self::unauthorized()],
        )
    }

    /// get/put/patch of an item or subresource whose body is `schema` of kind `gvk`.
    fn read_replace_patch(
        &self,
        suffix: &str,
        what: &str,
        schema: &str,
        gvk: &Gvk,
        replace_only: bool,
    ) -> Vec<Operation> {
        let kind = self.kind();
        let mut ops = Vec::new();
        if !replace_only {
            ops.push(self.op(
                "get",
                "get",
                self.operation_id("read", suffix),
                format!("read {what}the specified {kind}"),
                gvk.clone(),
                Vec::new(),
                None,
                vec![Self::ok(schema), Self::unauthorized()],
            ));
        }
        ops.push(self.op(
            "put",
            "put",
            self.operation_id("replace", suffix),
            format!("replace {what}the specified {kind}"),
            gvk.clone(),
            query::create_or_replace(),
            Self::body(schema, true, &["*/*"]),
            vec![
                Self::ok(schema),
                Self::created(schema),
                Self::unauthorized(),
            ],
        ));
        if !replace_only {
            ops.push(self.op(
                "patch",
                "patch",
                self.operation_id("patch", suffix),
                format!("partially update {what}the specified {kind}"),
                gvk.clone(),
                query::patch(),
                Self::body(names::PATCH, true, &PATCH_CONTENT_TYPES),
                vec![
                    Self::ok(schema),
                    Self::created(schema),
                    Self::unauthorized(),
                ],
            ));
        }
        ops
    }

    fn paths(&self) -> Vec<PathSpec> {
        let k = &self.entry.kind;
        let kind = k.kind.as_str();
        let schema = k.schema_name.as_str();
        let gvk = self.entry.gvk();
        let prefix = gv_prefix(&k.group, &k.version);
        let namespace_param = || {
            Param::path(
                "namespace",
                "object name and auth scope, such as for teams and projects".to_owned(),
            )
        };
        let name_param = || Param::path("name", format!("name of the {kind}"));

        let (collection, mut collection_params) = if k.namespaced {
            (
                format!("{prefix}/namespaces/{{namespace}}/{}", k.plural),
                vec![namespace_param()],
            )
        } else {
            (format!("{prefix}/{}", k.plural), Vec::new())
        };
        collection_params.push(query::pretty());

        let mut paths = Vec::new();
        if k.namespaced {
            paths.push(PathSpec {
                path: format!("{prefix}/{}", k.plural),
                params: vec![query::pretty()],
                operations: vec![self.list(format!("list{}{kind}ForAllNamespaces", self.gv_words))],
            });
        }

        paths.push(PathSpec {
            path: collection.clone(),
            params: collection_params.clone(),
            operations: vec![
                self.list(self.operation_id("list", "")),
                self.op(
                    "post",
                    "post",
                    self.operation_id("create", ""),
                    format!("create a {kind}"),
                    gvk.clone(),
                    query::create_or_replace(),
                    Self::body(schema, true, &["*/*"]),
                    vec![
                        Self::ok(schema),
                        Self::created(schema),
                        Self::accepted(schema),
                        Self::unauthorized(),
                    ],
                ),
                self.op(
                    "delete",
                    "deletecollection",
                    self.operation_id_with("delete", "Collection", ""),
                    format!("delete collection of {kind}"),
                    gvk.clone(),
                    query::delete_collection(),
                    Self::body(names::DELETE_OPTIONS, false, &["*/*"]),
                    vec![Self::ok(names::STATUS), Self::unauthorized()],
                ),
            ],
        });

        let mut item_params = vec![name_param()];
        if k.namespaced {
            item_params.push(namespace_param());
        }
        item_params.push(query::pretty());
        let item = format!("{collection}/{{name}}");
        let mut item_ops = self.read_replace_patch("", "", schema, &gvk, false);
        item_ops.push(self.op(
            "delete",
            "delete",
            self.operation_id("delete", ""),
            format!("delete a {kind}"),
            gvk.clone(),
            query::delete(),
            Self::body(names::DELETE_OPTIONS, false, &["*/*"]),
            vec![
                Self::ok(names::STATUS),
                Self::accepted(names::STATUS),
                Self::unauthorized(),
            ],
        ));
        paths.push(PathSpec {
            path: item.clone(),
            params: item_params.clone(),
            operations: item_ops,
        });

        let mut subresources: Vec<&String> = k.subresources.iter().collect();
        subresources.sort();
        subresources.dedup();
        for sub in subresources {
            let Some(shape) = subresource_shape(sub) else {
                continue;
            };
            let suffix = capitalize(sub);
            let what = format!("{sub} of ");
            let operations = match shape {
                Subresource::ParentKind => {
                    self.read_replace_patch(&suffix, &what, schema, &gvk, false)
                }
                Subresource::ReplaceOnly => {
                    self.read_replace_patch(&suffix, &what, schema, &gvk, true)
                }
                Subresource::Scale => self.read_replace_patch(
                    &suffix,
                    &what,
                    names::SCALE,
                    &Gvk::new("autoscaling", "v1", "Scale"),
                    false,
                ),
            };
            paths.push(PathSpec {
                path: format!("{item}/{sub}"),
                params: item_params.clone(),
                operations,
            });
        }
        paths
    }
}

/// Every path of `entry`.
pub(crate) fn paths_for(entry: &KindEntry) -> Vec<PathSpec> {
    Builder::new(entry).paths()
}

/// Component schemas the operations of `paths` refer to.
pub(crate) fn referenced_schemas(paths: &[PathSpec]) -> impl Iterator<Item = &str> {
    paths.iter().flat_map(|p| {
        p.operations.iter().flat_map(|op| {
            op.body
                .iter()
                .map(|b| b.schema.as_str())
                .chain(op.responses.iter().filter_map(|r| r.schema.as_deref()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_words() {
        assert_eq!(group_word(""), "core");
        assert_eq!(group_word("apps"), "apps");
        assert_eq!(group_word("rbac.authorization.k8s.io"), "rbacAuthorization");
        assert_eq!(group_word("stable.example.com"), "stableExampleCom");
        assert_eq!(group_word("cert-manager.io"), "certManagerIo");
    }
}
