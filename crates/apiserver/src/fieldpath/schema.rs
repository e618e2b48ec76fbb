//! The shape of a type as server-side apply sees it: structs and maps (granular or atomic),
//! lists (atomic, sets, or maps keyed by some of their items' fields) and scalars.
//!
//! Built from a k8s-openapi JSON schema plus upstream's `+listType`/`+listMapKey`/
//! `+structType`/`+mapType` markers (which k8s-openapi's schemas do not carry; see
//! [`super::builtin`]), or from a CRD's structural schema (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`). Anything not described is
//! "deduced" from the value, as upstream does for unknown fields: objects are granular maps,
//! lists are atomic.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

/// An index into a [`Schema`]'s types.
pub type TypeRef = usize;

/// How a list's items relate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// The list is one value (the default).
    Atomic,
    /// A set of scalars, items identified by value.
    Set,
    /// A map: items are objects identified by these fields.
    Map(Vec<String>),
}

/// A list type.
#[derive(Debug, Clone)]
pub struct ListType {
    /// The items' type.
    pub elem: TypeRef,
    /// How items relate.
    pub kind: ListKind,
}

/// A struct (named fields) or map (any key, one element type), or a mix of both.
#[derive(Debug, Clone, Default)]
pub struct MapType {
    /// Declared fields.
    pub fields: BTreeMap<String, TypeRef>,
    /// The type of other keys, if other keys are allowed.
    pub elem: Option<TypeRef>,
    /// Whether the whole value is one leaf.
    pub atomic: bool,
    /// Defaults of fields (used for missing list-map keys, e.g. a port's `protocol`).
    pub defaults: BTreeMap<String, Value>,
    /// The fields in Go struct order (a built-in struct's; see [`crate::keyorder`]).
    pub order: Option<&'static [&'static str]>,
}

/// One type.
#[derive(Debug, Clone)]
pub enum Atom {
    /// A scalar (string, number, boolean, int-or-string, quantity, time...).
    Scalar,
    /// Unknown: decided by the value (objects are granular maps, lists atomic).
    Deduced,
    /// A struct or map.
    Map(MapType),
    /// A list.
    List(ListType),
}

/// The deduced type.
pub const DEDUCED: TypeRef = 0;
/// The scalar type.
pub const SCALAR: TypeRef = 1;
/// A granular map of deduced values (what an object of deduced type is).
pub const DEDUCED_MAP: TypeRef = 2;

/// A type and every type it refers to.
#[derive(Debug, Clone)]
pub struct Schema {
    atoms: Vec<Atom>,
    root: TypeRef,
}

fn base_atoms() -> Vec<Atom> {
    vec![
        Atom::Deduced,
        Atom::Scalar,
        Atom::Map(MapType {
            elem: Some(DEDUCED),
            ..MapType::default()
        }),
    ]
}

static DEDUCED_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(Schema {
        atoms: base_atoms(),
        root: DEDUCED,
    })
});

impl Schema {
    /// The schema of anything: every object granular, every list atomic.
    pub fn deduced() -> Arc<Schema> {
        DEDUCED_SCHEMA.clone()
    }

    /// The root type.
    pub fn root(&self) -> TypeRef {
        self.root
    }

    /// The type at `tr`.
    pub fn atom(&self, tr: TypeRef) -> &Atom {
        self.atoms.get(tr).unwrap_or(&Atom::Deduced)
    }

    /// The schema of a built-in type from its k8s-openapi JSON schema.
    pub fn builtin<K: schemars::JsonSchema>() -> Schema {
        let mut b = Builder::new();
        let root = b.json_type::<K>();
        b.finish(root)
    }

    /// The schema of a custom resource from its CRD version's `openAPIV3Schema` (metadata is
    /// ObjectMeta, as for every object); no schema means everything but metadata is deduced.
    pub fn custom_resource(schema: Option<&Value>) -> Schema {
        let mut b = Builder::new();
        let root = b.crd_node(schema.unwrap_or(&Value::Null), true);
        b.finish(root)
    }

    /// Parses a schema from a small JSON description (for tests): `{"scalar": true}`,
    /// `{"map": {"fields": {...}, "elem": ..., "atomic": bool}}`,
    /// `{"list": {"elem": ..., "type": "atomic"|"set"|"map", "keys": [...]}}`, `{"deduced": true}`.
    pub fn from_description(desc: &Value) -> Schema {
        let mut b = Builder::new();
        let root = b.described(desc);
        b.finish(root)
    }
}

/// Builds a schema's arena.
struct Builder {
    atoms: Vec<Atom>,
    named: HashMap<String, TypeRef>,
    defs: serde_json::Map<String, Value>,
}

/// The prefix k8s-openapi's generator gives definition refs.
const DEFS_PREFIX: &str = "#/$defs/";

impl Builder {
    fn new() -> Self {
        Builder {
            atoms: base_atoms(),
            named: HashMap::new(),
            defs: serde_json::Map::new(),
        }
    }

    fn push(&mut self, atom: Atom) -> TypeRef {
        self.atoms.push(atom);
        self.atoms.len() - 1
    }

    fn finish(self, root: TypeRef) -> Schema {
        Schema {
            atoms: self.atoms,
            root,
        }
    }

    /// Adds `K`'s definitions and returns its type.
    fn json_type<K: schemars::JsonSchema>(&mut self) -> TypeRef {
        let mut generator =
            schemars::SchemaGenerator::new(schemars::generate::SchemaSettings::draft2020_12());
        let root = generator.subschema_for::<K>().to_value();
        for (name, def) in generator.take_definitions(false) {
            self.defs.entry(name).or_insert(def);
        }
        self.json_node(&root, None, None)
    }

    fn object_meta(&mut self) -> TypeRef {
        self.json_type::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>()
    }

    fn json_named(&mut self, name: &str) -> TypeRef {
        if let Some(tr) = self.named.get(name) {
            return *tr;
        }
        let Some(def) = self.defs.get(name).cloned() else {
            return DEDUCED;
        };
        // Reserve the slot first: definitions may refer to themselves (JSONSchemaProps).
        let tr = self.push(Atom::Deduced);
        self.named.insert(name.to_string(), tr);
        let atom = self.json_atom(&def, Some(name), None);
        self.atoms[tr] = atom;
        tr
    }

    fn json_node(&mut self, node: &Value, owner: Option<&str>, field: Option<&str>) -> TypeRef {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix(DEFS_PREFIX).unwrap_or(r).to_string();
            let tr = self.json_named(&name);
            // A field-level override of a referenced struct's atomicity.
            if let (Some(o), Some(f)) = (owner, field)
                && let Some(atomic) = super::markers::field_struct_override(o, f)
                && let Atom::Map(m) = self.atoms[tr].clone()
                && m.atomic != atomic
            {
                return self.push(Atom::Map(MapType { atomic, ..m }));
            }
            return tr;
        }
        let atom = self.json_atom(node, None, owner.zip(field));
        match atom {
            Atom::Scalar => SCALAR,
            Atom::Deduced => DEDUCED,
            other => self.push(other),
        }
    }

    /// The atom of an inline schema; `name` is the definition's name when it is one,
    /// `owner`/`field` the struct and property it describes otherwise.
    fn json_atom(
        &mut self,
        node: &Value,
        name: Option<&str>,
        owner_field: Option<(&str, &str)>,
    ) -> Atom {
        if node
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Atom::Scalar;
        }
        let ty = match node.get("type") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null"),
            _ => None,
        };
        let props = node.get("properties").and_then(Value::as_object);
        match ty {
            Some("array") => {
                let elem = match node.get("items") {
                    Some(items) if items.is_object() => self.json_node(items, None, None),
                    _ => DEDUCED,
                };
                let kind = owner_field
                    .and_then(|(o, f)| super::markers::list_kind(o, f))
                    .unwrap_or(ListKind::Atomic);
                Atom::List(ListType { elem, kind })
            }
            Some("object") | None if props.is_some() => {
                let mut m = MapType::default();
                if let Some(props) = props {
                    for (field, sub) in props {
                        let tr = self.json_field(sub, name, field);
                        m.fields.insert(field.clone(), tr);
                    }
                }
                if let Some(add) = node.get("additionalProperties").filter(|a| a.is_object()) {
                    m.elem = Some(self.json_node(add, None, None));
                }
                if let Some(n) = name {
                    m.atomic = super::markers::atomic_struct(n);
                    m.defaults = super::markers::field_defaults(n);
                    m.order = crate::keyorder::struct_order(n);
                }
                Atom::Map(m)
            }
            Some("object") => match node.get("additionalProperties").filter(|a| a.is_object()) {
                Some(add) => {
                    let elem = self.json_node(add, None, None);
                    let atomic =
                        owner_field.is_some_and(|(o, f)| super::markers::atomic_map_field(o, f));
                    Atom::Map(MapType {
                        elem: Some(elem),
                        atomic,
                        ..MapType::default()
                    })
                }
                None => Atom::Deduced,
            },
            Some(_) => Atom::Scalar,
            None => Atom::Deduced,
        }
    }

    /// A struct's property.
    fn json_field(&mut self, sub: &Value, owner: Option<&str>, field: &str) -> TypeRef {
        if sub.get("$ref").is_some() {
            return self.json_node(sub, owner, Some(field));
        }
        let atom = self.json_atom(sub, None, owner.map(|o| (o, field)));
        match atom {
            Atom::Scalar => SCALAR,
            Atom::Deduced => DEDUCED,
            other => self.push(other),
        }
    }

    /// A node of a CRD's `openAPIV3Schema`; `root` adds the object's apiVersion, kind and
    /// metadata.
    fn crd_node(&mut self, s: &Value, root: bool) -> TypeRef {
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("x-kubernetes-int-or-string") {
            return SCALAR;
        }
        let ty = s.get("type").and_then(Value::as_str);
        let props = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let embedded = flag("x-kubernetes-embedded-resource");
        let is_object = ty == Some("object")
            || (ty.is_none() && (props.is_some() || additional.is_some() || root || embedded));
        if is_object {
            let mut m = MapType {
                atomic: !root
                    && s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
                ..MapType::default()
            };
            for (field, sub) in props.into_iter().flatten() {
                let tr = self.crd_node(sub, false);
                m.fields.insert(field.clone(), tr);
                if let Some(d) = sub.get("default") {
                    m.defaults.insert(field.clone(), d.clone());
                }
            }
            match additional {
                Some(add @ Value::Object(_)) => m.elem = Some(self.crd_node(add, false)),
                Some(Value::Bool(true)) => m.elem = Some(DEDUCED),
                _ if preserve => m.elem = Some(DEDUCED),
                _ => {}
            }
            if root || embedded {
                let meta = self.object_meta();
                m.fields.insert("apiVersion".into(), SCALAR);
                m.fields.insert("kind".into(), SCALAR);
                m.fields.insert("metadata".into(), meta);
            }
            if m.fields.is_empty() && m.elem.is_none() && !m.atomic {
                // An object the schema says nothing about.
                return DEDUCED_MAP;
            }
            return self.push(Atom::Map(m));
        }
        match ty {
            Some("array") => {
                let elem = match s.get("items") {
                    Some(items) if items.is_object() => self.crd_node(items, false),
                    _ => DEDUCED,
                };
                let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                    Some("set") => ListKind::Set,
                    Some("map") => ListKind::Map(
                        s.get("x-kubernetes-list-map-keys")
                            .and_then(Value::as_array)
                            .map(|ks| {
                                ks.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    _ => ListKind::Atomic,
                };
                self.push(Atom::List(ListType { elem, kind }))
            }
            Some(_) => SCALAR,
            None => DEDUCED,
        }
    }

    fn described(&mut self, desc: &Value) -> TypeRef {
        if let Some(m) = desc.get("map") {
            let mut mt = MapType {
                atomic: m.get("atomic").and_then(Value::as_bool).unwrap_or(false),
                ..MapType::default()
            };
            if let Some(fields) = m.get("fields").and_then(Value::as_object) {
                for (k, v) in fields {
                    let tr = self.described(v);
                    mt.fields.insert(k.clone(), tr);
                }
            }
            if let Some(e) = m.get("elem") {
                mt.elem = Some(self.described(e));
            }
            if let Some(d) = m.get("defaults").and_then(Value::as_object) {
                mt.defaults = d.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            }
            return self.push(Atom::Map(mt));
        }
        if let Some(l) = desc.get("list") {
            let elem = l.get("elem").map(|e| self.described(e)).unwrap_or(DEDUCED);
            let kind = match l.get("type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map(
                    l.get("keys")
                        .and_then(Value::as_array)
                        .map(|ks| {
                            ks.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => ListKind::Atomic,
            };
            return self.push(Atom::List(ListType { elem, kind }));
        }
        if desc.get("scalar").is_some() {
            return SCALAR;
        }
        DEDUCED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Pod, Service};
    use serde_json::json;

    fn field<'a>(s: &'a Schema, tr: TypeRef, name: &str) -> (TypeRef, &'a Atom) {
        let Atom::Map(m) = s.atom(tr) else {
            panic!("{name}: not a map: {:?}", s.atom(tr))
        };
        let t = *m
            .fields
            .get(name)
            .unwrap_or_else(|| panic!("no field {name}"));
        (t, s.atom(t))
    }

    fn path<'a>(s: &'a Schema, names: &[&str]) -> (TypeRef, &'a Atom) {
        let mut tr = s.root();
        for n in names {
            if let Atom::List(l) = s.atom(tr) {
                tr = l.elem;
            }
            tr = field(s, tr, n).0;
        }
        (tr, s.atom(tr))
    }

    fn list_kind(s: &Schema, names: &[&str]) -> ListKind {
        match path(s, names).1 {
            Atom::List(l) => l.kind.clone(),
            other => panic!("{names:?}: not a list: {other:?}"),
        }
    }

    #[test]
    fn builtin_schemas_carry_upstream_list_semantics() {
        let d = Schema::builtin::<Deployment>();
        let c = ["spec", "template", "spec", "containers"];
        assert_eq!(list_kind(&d, &c), ListKind::Map(vec!["name".into()]));
        let ports = [&c[..], &["ports"]].concat();
        assert_eq!(
            list_kind(&d, &ports),
            ListKind::Map(vec!["containerPort".into(), "protocol".into()])
        );
        let Atom::List(l) = path(&d, &ports).1 else {
            panic!("ports")
        };
        let Atom::Map(port) = d.atom(l.elem) else {
            panic!("port")
        };
        assert_eq!(port.defaults.get("protocol"), Some(&json!("TCP")));
        assert_eq!(
            list_kind(&d, &[&c[..], &["args"]].concat()),
            ListKind::Atomic
        );
        assert_eq!(
            list_kind(&d, &[&c[..], &["volumeMounts"]].concat()),
            ListKind::Map(vec!["mountPath".into()])
        );
        assert_eq!(
            list_kind(&d, &["spec", "template", "spec", "tolerations"]),
            ListKind::Atomic
        );
        assert_eq!(
            list_kind(&d, &["status", "conditions"]),
            ListKind::Map(vec!["type".into()])
        );
        assert_eq!(list_kind(&d, &["metadata", "finalizers"]), ListKind::Set);
        assert_eq!(
            list_kind(&d, &["metadata", "ownerReferences"]),
            ListKind::Map(vec!["uid".into()])
        );
        // LabelSelector is an atomic struct; labels a granular map of scalars.
        let Atom::Map(sel) = path(&d, &["spec", "selector"]).1 else {
            panic!("selector")
        };
        assert!(sel.atomic);
        let Atom::Map(labels) = path(&d, &["metadata", "labels"]).1 else {
            panic!("labels")
        };
        assert!(!labels.atomic);
        assert_eq!(labels.elem, Some(SCALAR));
        assert!(matches!(path(&d, &["spec", "replicas"]).1, Atom::Scalar));
        // Quantities and int-or-strings are scalars.
        assert!(matches!(
            path(&d, &["spec", "strategy", "rollingUpdate", "maxSurge"]).1,
            Atom::Scalar
        ));

        let p = Schema::builtin::<Pod>();
        let Atom::Map(ns) = path(&p, &["spec", "nodeSelector"]).1 else {
            panic!("nodeSelector")
        };
        assert!(ns.atomic);
        assert_eq!(
            list_kind(&p, &["spec", "volumes"]),
            ListKind::Map(vec!["name".into()])
        );
        let svc = Schema::builtin::<Service>();
        assert_eq!(
            list_kind(&svc, &["spec", "ports"]),
            ListKind::Map(vec!["port".into(), "protocol".into()])
        );
    }

    #[test]
    fn crd_schemas_carry_list_and_map_types() {
        let crd = json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "proto"],
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "proto": {"type": "string", "default": "TCP"},
                            "port": {"type": "integer"}}}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                        "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}
            }
        });
        let s = Schema::custom_resource(Some(&crd));
        assert_eq!(
            list_kind(&s, &["spec", "ports"]),
            ListKind::Map(vec!["name".into(), "proto".into()])
        );
        assert_eq!(list_kind(&s, &["spec", "tags"]), ListKind::Set);
        assert_eq!(list_kind(&s, &["spec", "args"]), ListKind::Atomic);
        let Atom::Map(sel) = path(&s, &["spec", "selector"]).1 else {
            panic!("selector")
        };
        assert!(sel.atomic);
        let Atom::Map(free) = path(&s, &["spec", "free"]).1 else {
            panic!("free")
        };
        assert!(free.fields.is_empty() && free.elem == Some(DEDUCED));
        assert_eq!(list_kind(&s, &["metadata", "finalizers"]), ListKind::Set);
        let Atom::List(l) = path(&s, &["spec", "ports"]).1 else {
            panic!("ports")
        };
        let Atom::Map(item) = s.atom(l.elem) else {
            panic!("item")
        };
        assert_eq!(item.defaults.get("proto"), Some(&json!("TCP")));
        // No schema at all: everything deduced, metadata still known.
        let none = Schema::custom_resource(None);
        assert_eq!(
            list_kind(&none, &["metadata", "ownerReferences"]),
            ListKind::Map(vec!["uid".into()])
        );
    }
}
