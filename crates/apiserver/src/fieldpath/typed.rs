//! Operations on objects of a known [`Schema`]: the field set of a value, merging an applied
//! configuration into a live object, comparing two objects, and removing fields an applier
//! stopped applying. They follow upstream structured-merge-diff's semantics (`typed/`).

use super::schema::{Atom, DEDUCED, DEDUCED_MAP, ListKind, ListType, MapType, Schema, TypeRef};
use super::{Path, PathElement, Set};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A value that does not fit its type: a list-map item without its keys, a duplicate item in an
/// applied list, an object in a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Where.
    pub path: Path,
    /// What.
    pub message: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.0.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ShapeError {}

fn shape_error(path: &[PathElement], message: impl Into<String>) -> ShapeError {
    ShapeError {
        path: Path(path.to_vec()),
        message: message.into(),
    }
}

/// The differences between two objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Fields only in the new object.
    pub added: Set,
    /// Leaf fields in both whose values differ.
    pub modified: Set,
    /// Fields only in the old object.
    pub removed: Set,
}

impl Comparison {
    /// Whether the objects are the same.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

/// How a value is walked.
enum Node<'a> {
    /// One value: a scalar, an atomic list or map, or a value that does not fit its type.
    Leaf,
    /// A granular struct or map.
    Map(&'a MapType),
    /// An associative list.
    List(&'a ListType),
}

impl Schema {
    fn node(&self, tr: TypeRef, v: &Value) -> Node<'_> {
        match self.atom(tr) {
            Atom::Scalar => Node::Leaf,
            Atom::Deduced => match (v, self.atom(DEDUCED_MAP)) {
                (Value::Object(_), Atom::Map(m)) => Node::Map(m),
                _ => Node::Leaf,
            },
            Atom::Map(m) if v.is_object() && !m.atomic => Node::Map(m),
            Atom::List(l) if v.is_array() && l.kind != ListKind::Atomic => Node::List(l),
            _ => Node::Leaf,
        }
    }

    /// The type of `key` in `m`, and whether it is a declared field.
    fn field_type(m: &MapType, key: &str) -> (TypeRef, bool) {
        match m.fields.get(key) {
            Some(tr) => (*tr, true),
            None => (m.elem.unwrap_or(DEDUCED), false),
        }
    }

    /// The path element of a list item.
    fn item_element(&self, l: &ListType, item: &Value) -> Result<PathElement, String> {
        match &l.kind {
            ListKind::Set => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".into())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".into())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null".into(),
                ),
                v => Ok(PathElement::Value(v.clone())),
            },
            ListKind::Map(keys) => {
                let Value::Object(obj) = item else {
                    return Err(if item.is_null() {
                        "associative list with keys may not have a null element".into()
                    } else {
                        "associative list with keys may not have non-map elements".into()
                    });
                };
                let defaults = match self.atom(l.elem) {
                    Atom::Map(m) => Some(&m.defaults),
                    _ => None,
                };
                let mut fields = Vec::with_capacity(keys.len());
                for k in keys {
                    match obj.get(k) {
                        Some(v) => fields.push((k.clone(), v.clone())),
                        None => {
                            if let Some(d) = defaults.and_then(|d| d.get(k)) {
                                fields.push((k.clone(), d.clone()));
                            }
                        }
                    }
                }
                if !keys.is_empty() && fields.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                    ));
                }
                Ok(PathElement::key(fields))
            }
            ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
        }
    }

    fn item_elements(
        &self,
        l: &ListType,
        items: &[Value],
        path: &[PathElement],
    ) -> Result<Vec<PathElement>, ShapeError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.item_element(l, item)
                    .map_err(|e| shape_error(path, format!("element {i}: {e}")))
            })
            .collect()
    }

    /// Every field of `value` (upstream `ToFieldSet`): leaves, list items, map entries, and
    /// empty or null fields; not fields its type does not have.
    pub fn field_set(&self, value: &Value) -> Result<Set, ShapeError> {
        let mut out = Set::new();
        self.walk_fields(self.root(), value, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    fn walk_fields(
        &self,
        tr: TypeRef,
        v: &Value,
        path: &mut Vec<PathElement>,
        out: &mut Set,
    ) -> Result<(), ShapeError> {
        match self.node(tr, v) {
            Node::Leaf => out.insert(path),
            Node::Map(m) => {
                let Value::Object(obj) = v else {
                    return Ok(());
                };
                for (k, child) in obj {
                    let (ctr, named) = Self::field_type(m, k);
                    if !named && m.elem.is_none() {
                        // A field the type does not have: it is dropped, so nobody owns it.
                        continue;
                    }
                    path.push(PathElement::Field(k.clone()));
                    self.walk_fields(ctr, child, path, out)?;
                    let empty_map = child.as_object().is_some_and(Map::is_empty);
                    if child.is_null() || empty_map || !named {
                        out.insert(path);
                    }
                    path.pop();
                }
            }
            Node::List(l) => {
                let Value::Array(items) = v else {
                    return Ok(());
                };
                let pes = self.item_elements(l, items, path)?;
                let mut count: BTreeMap<&PathElement, usize> = BTreeMap::new();
                for pe in &pes {
                    *count.entry(pe).or_default() += 1;
                }
                for (pe, item) in pes.iter().zip(items) {
                    path.push(pe.clone());
                    if count.get(pe).copied().unwrap_or(0) < 2 {
                        self.walk_fields(l.elem, item, path, out)?;
                    }
                    out.insert(path);
                    path.pop();
                }
            }
        }
        Ok(())
    }

    /// Merges an applied configuration into the live object (upstream `Merge`): the
    /// configuration's leaves win, maps merge key by key, associative lists item by item
    /// (keeping the live order and placing applied items in the order applied), atomic values
    /// are replaced.
    pub fn merge(&self, live: &Value, config: &Value) -> Result<Value, ShapeError> {
        self.merge_at(self.root(), Some(live), config, &mut Vec::new())
    }

    fn merge_at(
        &self,
        tr: TypeRef,
        lhs: Option<&Value>,
        rhs: &Value,
        path: &mut Vec<PathElement>,
    ) -> Result<Value, ShapeError> {
        match self.node(tr, rhs) {
            Node::Leaf => Ok(rhs.clone()),
            Node::Map(m) => {
                let (Some(Value::Object(lm)), Value::Object(rm)) = (lhs, rhs) else {
                    return Ok(rhs.clone());
                };
                let mut out = lm.clone();
                for (k, rv) in rm {
                    let (ctr, _) = Self::field_type(m, k);
                    path.push(PathElement::Field(k.clone()));
                    let merged = self.merge_at(ctr, lm.get(k), rv, path)?;
                    path.pop();
                    out.insert(k.clone(), merged);
                }
                Ok(Value::Object(out))
            }
            Node::List(l) => {
                let Value::Array(ritems) = rhs else {
                    return Ok(rhs.clone());
                };
                let rpes = self.item_elements(l, ritems, path)?;
                let mut robs: BTreeMap<&PathElement, usize> = BTreeMap::new();
                for (i, pe) in rpes.iter().enumerate() {
                    if robs.insert(pe, i).is_some() {
                        return Err(shape_error(path, format!("duplicate entries for key {pe}")));
                    }
                }
                let litems: &[Value] = match lhs {
                    Some(Value::Array(items)) => items,
                    _ => &[],
                };
                if litems.is_empty() {
                    return Ok(rhs.clone());
                }
                let lpes = self.item_elements(l, litems, path)?;
                let mut lobs: BTreeMap<&PathElement, Option<usize>> = BTreeMap::new();
                for (i, pe) in lpes.iter().enumerate() {
                    // Duplicated live items are not merged with the applied one.
                    lobs.entry(pe)
                        .and_modify(|slot| *slot = None)
                        .or_insert(Some(i));
                }
                let mut shared = rpes.iter().filter(|pe| lobs.contains_key(pe));
                let mut next_shared = shared.next();
                let mut merged_rhs: BTreeMap<&PathElement, ()> = BTreeMap::new();
                let mut out = Vec::with_capacity(litems.len().max(ritems.len()));
                let (mut li, mut ri) = (0, 0);
                let merge_item = |this: &Self,
                                  pe: &PathElement,
                                  lv: Option<&Value>,
                                  rv: Option<&Value>,
                                  path: &mut Vec<PathElement>|
                 -> Result<Option<Value>, ShapeError> {
                    path.push(pe.clone());
                    let r = match rv {
                        Some(rv) => this.merge_at(l.elem, lv, rv, path).map(Some),
                        None => Ok(lv.cloned()),
                    };
                    path.pop();
                    r
                };
                while li < lpes.len() || ri < rpes.len() {
                    if li < lpes.len() && ri < rpes.len() {
                        let pe = &lpes[li];
                        if *pe == rpes[ri] {
                            merged_rhs.insert(pe, ());
                            let lv = lobs.get(pe).copied().flatten().map(|i| &litems[i]);
                            let rv = robs.get(pe).map(|i| &ritems[*i]);
                            if let Some(v) = merge_item(self, pe, lv, rv, path)? {
                                out.push(v);
                            }
                            li += 1;
                            ri += 1;
                            next_shared = shared.next();
                            continue;
                        }
                        if robs.contains_key(pe) && next_shared.is_some_and(|s| s != pe) {
                            // A shared item, but not the one due: it comes in applied order.
                            li += 1;
                            continue;
                        }
                    }
                    if li < lpes.len() {
                        let pe = &lpes[li];
                        if !robs.contains_key(pe) {
                            out.push(litems[li].clone());
                            li += 1;
                            continue;
                        } else if merged_rhs.contains_key(pe) {
                            li += 1;
                        }
                    }
                    if ri < rpes.len() {
                        let pe = &rpes[ri];
                        merged_rhs.insert(pe, ());
                        let lv = lobs.get(pe).copied().flatten().map(|i| &litems[i]);
                        if let Some(v) = merge_item(self, pe, lv, Some(&ritems[ri]), path)? {
                            out.push(v);
                        }
                        ri += 1;
                        if next_shared.is_some_and(|s| s == pe) {
                            next_shared = shared.next();
                        }
                    }
                }
                Ok(Value::Array(out))
            }
        }
    }

    /// Compares two objects (upstream `Compare`).
    pub fn compare(&self, lhs: &Value, rhs: &Value) -> Result<Comparison, ShapeError> {
        let mut out = Comparison::default();
        self.compare_at(self.root(), Some(lhs), Some(rhs), &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    fn compare_at(
        &self,
        tr: TypeRef,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        path: &mut Vec<PathElement>,
        out: &mut Comparison,
    ) -> Result<(), ShapeError> {
        let probe = match (lhs, rhs) {
            (_, Some(r)) if !r.is_null() => r,
            (Some(l), _) if !l.is_null() => l,
            (_, Some(r)) => r,
            (Some(l), None) => l,
            (None, None) => return Ok(()),
        };
        let same_kind = match (lhs, rhs) {
            (Some(l), Some(r)) if !l.is_null() && !r.is_null() => {
                l.is_object() == r.is_object() && l.is_array() == r.is_array()
            }
            _ => true,
        };
        let node = if same_kind {
            self.node(tr, probe)
        } else {
            Node::Leaf
        };
        let leaf = |out: &mut Comparison| {
            match (lhs, rhs) {
                (None, Some(_)) => out.added.insert(path),
                (Some(_), None) => out.removed.insert(path),
                (Some(l), Some(r)) if l != r => out.modified.insert(path),
                _ => {}
            };
        };
        match node {
            Node::Leaf => {
                leaf(out);
                return Ok(());
            }
            Node::Map(m) => {
                let lm = lhs.and_then(Value::as_object).filter(|m| !m.is_empty());
                let rm = rhs.and_then(Value::as_object).filter(|m| !m.is_empty());
                if lm.is_none() && rm.is_none() {
                    leaf(out);
                    return Ok(());
                }
                for (k, lv) in lm.into_iter().flatten() {
                    let (ctr, _) = Self::field_type(m, k);
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(ctr, Some(lv), rm.and_then(|r| r.get(k)), path, out)?;
                    path.pop();
                }
                for (k, rv) in rm.into_iter().flatten() {
                    if lm.is_some_and(|l| l.contains_key(k)) {
                        continue;
                    }
                    let (ctr, _) = Self::field_type(m, k);
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(ctr, None, Some(rv), path, out)?;
                    path.pop();
                }
            }
            Node::List(l) => {
                let la = lhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let ra = rhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                if la.is_empty() && ra.is_empty() {
                    leaf(out);
                    return Ok(());
                }
                let lpes = self.item_elements(l, la, path)?;
                let rpes = self.item_elements(l, ra, path)?;
                let mut order: Vec<&PathElement> = Vec::new();
                let mut by_pe: BTreeMap<&PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
                for (pe, v) in lpes.iter().zip(la) {
                    let slot = by_pe.entry(pe).or_insert_with(|| {
                        order.push(pe);
                        (Vec::new(), Vec::new())
                    });
                    slot.0.push(v);
                }
                for (pe, v) in rpes.iter().zip(ra) {
                    let slot = by_pe.entry(pe).or_insert_with(|| {
                        order.push(pe);
                        (Vec::new(), Vec::new())
                    });
                    slot.1.push(v);
                }
                for pe in order {
                    let (ls, rs) = &by_pe[pe];
                    path.push(pe.clone());
                    match (ls.len(), rs.len()) {
                        (0..=1, 0..=1) => {
                            self.compare_at(
                                l.elem,
                                ls.first().copied(),
                                rs.first().copied(),
                                path,
                                out,
                            )?;
                        }
                        (2.., 2..) => {
                            if ls != rs {
                                out.modified.insert(path);
                            }
                        }
                        (2.., _) => {
                            if let Some(r) = rs.first() {
                                self.compare_at(l.elem, None, Some(r), path, out)?;
                            }
                            out.removed.insert(path);
                        }
                        (_, _) => {
                            if let Some(lv) = ls.first() {
                                self.compare_at(l.elem, Some(lv), None, path, out)?;
                            }
                            out.added.insert(path);
                        }
                    }
                    path.pop();
                }
            }
        }
        if lhs.is_none() {
            out.added.insert(path);
        } else if rhs.is_none() {
            out.removed.insert(path);
        }
        Ok(())
    }

    /// Removes from `value` the fields an applier owned before (`last`) that nobody owns now
    /// (`owned`, which includes the applier's new configuration): a field goes when it, or for
    /// a struct field something below it, was in `last`, and neither it nor anything below it
    /// is in `owned`. The object's `apiVersion`, `kind` and `metadata` always stay, and so do
    /// the key fields of list items that stay. Containers emptied by the removal go too.
    pub fn prune(&self, value: &mut Value, last: &Set, owned: &Set) {
        if last.is_empty() {
            return;
        }
        self.prune_at(self.root(), value, last, owned, &[], true);
    }

    fn prune_at(
        &self,
        tr: TypeRef,
        v: &mut Value,
        last: &Set,
        owned: &Set,
        protect: &[String],
        root: bool,
    ) {
        match self.node(tr, v) {
            Node::Leaf => {}
            Node::Map(m) => {
                let Value::Object(obj) = v else { return };
                let keys: Vec<String> = obj.keys().cloned().collect();
                for k in keys {
                    if protect.contains(&k) {
                        continue;
                    }
                    let pe = PathElement::Field(k.clone());
                    let (ctr, named) = Self::field_type(m, &k);
                    let in_last = last.has_member(&pe) || (named && last.child(&pe).is_some());
                    let system = root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata");
                    if in_last && !owned.touches(&pe) && !system {
                        obj.remove(&k);
                        continue;
                    }
                    let Some(sub_last) = last.child(&pe) else {
                        continue;
                    };
                    let Some(child) = obj.get_mut(&k) else {
                        continue;
                    };
                    let was_empty = is_empty_container(child);
                    self.prune_at(ctr, child, sub_last, owned.child_or_empty(&pe), &[], false);
                    if !was_empty && is_empty_container(child) && !system {
                        obj.remove(&k);
                    }
                }
            }
            Node::List(l) => {
                let Value::Array(items) = v else { return };
                let keys: &[String] = match &l.kind {
                    ListKind::Map(keys) => keys,
                    _ => &[],
                };
                let mut kept = Vec::with_capacity(items.len());
                for mut item in std::mem::take(items) {
                    let Ok(pe) = self.item_element(l, &item) else {
                        kept.push(item);
                        continue;
                    };
                    if last.has_member(&pe) && !owned.touches(&pe) {
                        continue;
                    }
                    if let Some(sub_last) = last.child(&pe) {
                        self.prune_at(
                            l.elem,
                            &mut item,
                            sub_last,
                            owned.child_or_empty(&pe),
                            keys,
                            false,
                        );
                    }
                    kept.push(item);
                }
                *items = kept;
            }
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A schema with a list-map `list` keyed by name, a set `tags`, an atomic list `args`, an
    /// atomic struct `selector`, a struct `spec` and a map `labels`.
    fn schema() -> Schema {
        Schema::from_description(&json!({"map": {"fields": {
            "list": {"list": {"type": "map", "keys": ["name"], "elem": {"map": {"fields": {
                "name": {"scalar": true}, "value": {"scalar": true},
                "sub": {"list": {"type": "map", "keys": ["k", "proto"],
                    "elem": {"map": {"fields": {"k": {"scalar": true}, "proto": {"scalar": true}, "v": {"scalar": true}},
                                     "defaults": {"proto": "TCP"}}}}}
            }}}}},
            "tags": {"list": {"type": "set", "elem": {"scalar": true}}},
            "args": {"list": {"elem": {"scalar": true}}},
            "selector": {"map": {"atomic": true, "elem": {"scalar": true}}},
            "spec": {"map": {"fields": {"a": {"scalar": true}, "b": {"scalar": true},
                                        "inner": {"map": {"fields": {"x": {"scalar": true}}}}}}},
            "labels": {"map": {"elem": {"scalar": true}}},
            "free": {"map": {"elem": {"deduced": true}}}
        }}}))
    }

    fn fields(s: &Schema, v: Value) -> Vec<String> {
        s.field_set(&v)
            .expect("field set")
            .paths()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn field_sets_follow_list_and_map_semantics() {
        let s = schema();
        assert_eq!(
            fields(
                &s,
                json!({"list": [{"name": "a", "value": 1}], "tags": ["x", "y"],
                "args": ["1"], "selector": {"m": "n"}, "spec": {"a": 1, "inner": {}}, "labels": {"l": "v"}})
            ),
            vec![
                ".args",
                ".selector",
                r#".labels.l"#,
                r#".list[name="a"]"#,
                r#".list[name="a"].name"#,
                r#".list[name="a"].value"#,
                ".spec.a",
                ".spec.inner",
                r#".tags[="x"]"#,
                r#".tags[="y"]"#,
            ]
        );
        // Key defaults fill in missing keys; map entries own themselves; undeclared fields are
        // not owned.
        assert_eq!(
            fields(
                &s,
                json!({"list": [{"name": "a", "sub": [{"k": 1}]}], "free": {"deep": {"x": 1}}, "other": 1})
            ),
            vec![
                ".free.deep",
                ".free.deep.x",
                r#".list[name="a"]"#,
                r#".list[name="a"].name"#,
                r#".list[name="a"].sub[k=1,proto="TCP"]"#,
                r#".list[name="a"].sub[k=1,proto="TCP"].k"#,
            ]
        );
        // Empty lists own nothing, empty maps and nulls own themselves.
        assert_eq!(
            fields(&s, json!({"list": [], "labels": {}, "spec": null})),
            vec![".labels", ".spec"]
        );
        let err = s
            .field_set(&json!({"list": [{"value": 1}]}))
            .expect_err("no key");
        assert_eq!(
            err.to_string(),
            r#".list: element 0: associative list with keys has an element that omits all key fields ["name"] (and doesn't have default values for any key fields)"#
        );
        assert!(s.field_set(&json!({"tags": [{"a": 1}]})).is_err());
        assert!(s.field_set(&json!({"list": [null]})).is_err());
    }

    #[test]
    fn merge_keeps_live_order_and_replaces_atomics() {
        let s = schema();
        let live = json!({"list": [{"name": "a", "value": 1}, {"name": "b", "value": 2}, {"name": "c"}],
            "tags": ["x"], "args": ["1", "2"], "selector": {"a": "1", "b": "2"}, "spec": {"a": 1, "b": 2},
            "labels": {"keep": "1"}});
        let config = json!({"list": [{"name": "c", "value": 3}, {"name": "d"}, {"name": "a", "value": 9}],
            "tags": ["y"], "args": ["3"], "selector": {"c": "3"}, "spec": {"b": 3}, "labels": {"new": "2"}});
        let merged = s.merge(&live, &config).expect("merge");
        assert_eq!(
            merged,
            json!({"list": [{"name": "b", "value": 2}, {"name": "c", "value": 3}, {"name": "d"}, {"name": "a", "value": 9}],
                "tags": ["x", "y"], "args": ["3"], "selector": {"c": "3"}, "spec": {"a": 1, "b": 3},
                "labels": {"keep": "1", "new": "2"}})
        );
        // Applied items keep their place among live-only ones.
        let merged = s
            .merge(
                &json!({"list": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}),
                &json!({"list": [{"name": "a", "value": 1}, {"name": "n"}, {"name": "b"}]}),
            )
            .expect("merge");
        let names: Vec<&str> = merged["list"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|i| i["name"].as_str())
            .collect();
        assert_eq!(names, vec!["a", "x", "n", "b"]);
        let err = s
            .merge(&json!({}), &json!({"list": [{"name": "a"}, {"name": "a"}]}))
            .map(|_| ())
            .and_then(|()| {
                s.merge(
                    &json!({"list": [{"name": "z"}]}),
                    &json!({"list": [{"name": "a"}, {"name": "a"}]}),
                )
            })
            .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            r#".list: duplicate entries for key [name="a"]"#
        );
    }

    #[test]
    fn compare_reports_added_modified_removed() {
        let s = schema();
        let c = s
            .compare(
                &json!({"list": [{"name": "a", "value": 1}, {"name": "b"}], "spec": {"a": 1}, "args": ["1"]}),
                &json!({"list": [{"name": "a", "value": 2}, {"name": "c"}], "spec": {"a": 1, "b": 2}, "labels": {"x": "1"}}),
            )
            .expect("compare");
        let paths =
            |set: &Set| -> Vec<String> { set.paths().iter().map(ToString::to_string).collect() };
        assert_eq!(paths(&c.modified), vec![r#".list[name="a"].value"#]);
        assert_eq!(
            paths(&c.added),
            vec![
                ".labels",
                ".labels.x",
                r#".list[name="c"]"#,
                r#".list[name="c"].name"#,
                ".spec.b"
            ]
        );
        assert_eq!(
            paths(&c.removed),
            vec![".args", r#".list[name="b"]"#, r#".list[name="b"].name"#]
        );
        assert!(
            s.compare(&json!({"a": [1]}), &json!({"a": [1]}))
                .expect("same")
                .is_same()
        );
    }

    #[test]
    fn prune_removes_only_unowned_previously_applied_fields() {
        let s = schema();
        let set = |v: Value| s.field_set(&v).expect("set");
        let last = set(
            json!({"list": [{"name": "a", "value": 1}, {"name": "b"}], "spec": {"a": 1}, "labels": {"l": "1"}}),
        );
        let owned =
            set(json!({"list": [{"name": "a"}]})).union(&set(json!({"labels": {"m": "2"}})));
        let mut v = json!({"list": [{"name": "a", "value": 1}, {"name": "b"}, {"name": "c"}],
            "spec": {"a": 1}, "labels": {"l": "1", "m": "2"}, "metadata": {"name": "x"}});
        s.prune(&mut v, &last, &owned);
        assert_eq!(
            v,
            json!({"list": [{"name": "a"}, {"name": "c"}], "labels": {"m": "2"}, "metadata": {"name": "x"}})
        );
        // Another owner of a field inside a dropped item keeps the item and its keys.
        let mut v = json!({"list": [{"name": "a", "value": 1, "sub": [{"k": 1, "v": 2}]}]});
        let last = set(json!({"list": [{"name": "a", "value": 1}]}));
        let owned = set(json!({"list": [{"name": "a", "sub": [{"k": 1}]}]}))
            .difference(&set(json!({"list": [{"name": "a"}]})));
        s.prune(&mut v, &last, &owned);
        assert_eq!(
            v,
            json!({"list": [{"name": "a", "sub": [{"k": 1, "v": 2}]}]})
        );
    }
}
