//! Sets of field paths and their `FieldsV1` encoding.

use super::{Path, PathElement};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A set of paths, as a trie: the elements that end a path here, and the subtrees below.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

static EMPTY: Set = Set {
    members: BTreeSet::new(),
    children: BTreeMap::new(),
};

impl Set {
    /// The empty set.
    pub fn new() -> Self {
        Set::default()
    }

    /// A reference to an empty set.
    pub fn empty() -> &'static Set {
        &EMPTY
    }

    /// A set of the given paths.
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Self {
        let mut s = Set::new();
        for p in paths {
            s.insert(&p.0);
        }
        s
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (the empty path, the root, is not a member of anything and is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            [first, rest @ ..] => {
                if let Some(child) = self.children.get_mut(first) {
                    child.insert(rest);
                } else {
                    let mut child = Set::new();
                    child.insert(rest);
                    self.children.insert(first.clone(), child);
                }
            }
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` (one level down) is a member.
    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The paths below `pe`, relative to it.
    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    /// The paths below `pe`, or the empty set.
    pub fn child_or_empty(&self, pe: &PathElement) -> &Set {
        self.children.get(pe).unwrap_or(&EMPTY)
    }

    /// Whether `pe` is a member or has members below it.
    pub fn touches(&self, pe: &PathElement) -> bool {
        self.members.contains(pe) || self.children.contains_key(pe)
    }

    /// Paths in either set.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    /// Adds every path of `other`.
    pub fn union_in_place(&mut self, other: &Set) {
        for m in &other.members {
            if !self.members.contains(m) {
                self.members.insert(m.clone());
            }
        }
        for (pe, child) in &other.children {
            match self.children.get_mut(pe) {
                Some(mine) => mine.union_in_place(child),
                None => {
                    self.children.insert(pe.clone(), child.clone());
                }
            }
        }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// Paths of `self` that are not paths of `other` (a member of `other` does not remove the
    /// paths below it).
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    /// Removes every path of `other`, in place (what [`Set::difference`] returns).
    pub fn subtract(&mut self, other: &Set) {
        if !other.members.is_empty() {
            self.members.retain(|m| !other.members.contains(m));
        }
        for (pe, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(pe) {
                mine.subtract(theirs);
                if mine.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// Paths of `self` that neither are paths of `other` nor lie below one.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    /// Only `pe` and the paths below it.
    pub fn only(&self, pe: &PathElement) -> Set {
        let mut out = Set::new();
        if self.members.contains(pe) {
            out.members.insert(pe.clone());
        }
        if let Some(child) = self.children.get(pe) {
            out.children.insert(pe.clone(), child.clone());
        }
        out
    }

    /// Keeps only `pe` and the paths below it, in place (what [`Set::only`] returns).
    pub fn retain_only(&mut self, pe: &PathElement) {
        self.members.retain(|m| m == pe);
        self.children.retain(|c, _| c == pe);
    }

    /// Everything but `pe` and the paths below it.
    pub fn without(&self, pe: &PathElement) -> Set {
        let mut out = self.clone();
        out.remove(pe);
        out
    }

    /// Removes `pe` and the paths below it, in place (what [`Set::without`] returns).
    pub fn remove(&mut self, pe: &PathElement) {
        self.members.remove(pe);
        self.children.remove(pe);
    }

    /// Every path, in upstream's order (the members of a level, then each subtree).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(Path(p));
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The number of paths.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(Set::len).sum::<usize>()
    }

    /// The set as `FieldsV1`.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        // Members and children interleaved in element order.
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            let take_member = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(m), Some((c, _))) => *m < c,
            };
            if take_member {
                let Some(m) = members.next() else { break };
                out.insert(m.serialize(), Value::Object(Map::new()));
            } else {
                let Some((pe, child)) = children.next() else {
                    break;
                };
                let also_member = self.members.contains(pe);
                if also_member {
                    members.next();
                }
                out.insert(pe.serialize(), Value::Object(child.emit(also_member)));
            }
        }
        out
    }

    /// Parses `FieldsV1`.
    pub fn from_fields_v1(value: &Value) -> Result<Set, String> {
        let Value::Object(map) = value else {
            return Err("FieldsV1 must be a JSON object".into());
        };
        let (set, _) = parse_level(map)?;
        Ok(set.unwrap_or_default())
    }
}

/// Parses one level: the subtree (if any) and whether the node itself is a member.
fn parse_level(map: &Map<String, Value>) -> Result<(Option<Set>, bool), String> {
    let mut set: Option<Set> = None;
    let mut is_member = false;
    for (key, child) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::parse(key)? else {
            continue;
        };
        let Value::Object(child_map) = child else {
            return Err(format!("{key}: expected a JSON object"));
        };
        let (grandchildren, child_member) = parse_level(child_map)?;
        let s = set.get_or_insert_with(Set::new);
        if child_member {
            s.members.insert(pe.clone());
        }
        if let Some(g) = grandchildren {
            s.children.insert(pe, g);
        }
    }
    if set.is_none() {
        is_member = true;
    }
    Ok((set, is_member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(parts: &[&str]) -> Vec<PathElement> {
        parts
            .iter()
            .map(|s| match s.strip_prefix("name=") {
                Some(n) => PathElement::key(vec![("name".into(), json!(n))]),
                None => PathElement::field(*s),
            })
            .collect()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_markers() {
        let mut s = Set::new();
        s.insert(&p(&["data"]));
        s.insert(&p(&["data", "key"]));
        s.insert(&p(&["spec", "containers", "name=nginx"]));
        s.insert(&p(&["spec", "containers", "name=nginx", "image"]));
        s.insert(&p(&["spec", "containers", "name=nginx", "name"]));
        let encoded = s.to_fields_v1();
        assert_eq!(
            serde_json::to_string(&encoded).expect("json"),
            r#"{"f:data":{".":{},"f:key":{}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}}"#
        );
        assert_eq!(Set::from_fields_v1(&encoded).expect("parses"), s);
        assert!(s.has(&p(&["data"])));
        assert!(!s.has(&p(&["spec"])));
        assert_eq!(s.len(), 5);
        let paths: Vec<String> = s.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            paths,
            vec![
                ".data",
                ".data.key",
                r#".spec.containers[name="nginx"]"#,
                r#".spec.containers[name="nginx"].image"#,
                r#".spec.containers[name="nginx"].name"#,
            ]
        );
    }

    #[test]
    fn parses_upstream_fields_v1() {
        let upstream = json!({
            "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
            "f:finalizers": {"v:\"a\"": {}},
            "x:future": {}
        });
        let s = Set::from_fields_v1(&upstream).expect("parses");
        assert_eq!(s.len(), 5);
        // Unknown element types are dropped.
        assert!(!s.to_fields_v1().to_string().contains("x:future"));
        assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(Set::from_fields_v1(&json!([])).is_err());
        assert!(Set::from_fields_v1(&json!({})).expect("empty").is_empty());
    }

    #[test]
    fn set_algebra() {
        let a = Set::from_paths(&[
            super::Path(p(&["a"])),
            super::Path(p(&["a", "b"])),
            super::Path(p(&["c", "d"])),
        ]);
        let b = Set::from_paths(&[super::Path(p(&["a"])), super::Path(p(&["c", "e"]))]);
        assert_eq!(
            a.intersection(&b),
            Set::from_paths(&[super::Path(p(&["a"]))])
        );
        // A member does not remove the paths below it, except recursively.
        assert_eq!(
            a.difference(&b),
            Set::from_paths(&[super::Path(p(&["a", "b"])), super::Path(p(&["c", "d"]))])
        );
        assert_eq!(
            a.recursive_difference(&b),
            Set::from_paths(&[super::Path(p(&["c", "d"]))])
        );
        let mut subtracted = a.clone();
        subtracted.subtract(&b);
        assert_eq!(subtracted, a.difference(&b));
        subtracted.subtract(&a);
        assert!(subtracted.is_empty(), "emptied subtrees are dropped");
        assert_eq!(a.union(&b).len(), 4);
        assert_eq!(a.only(&PathElement::field("c")).len(), 1);
        assert_eq!(a.without(&PathElement::field("c")).len(), 2);
        let (mut only, mut without) = (a.clone(), a.clone());
        only.retain_only(&PathElement::field("c"));
        without.remove(&PathElement::field("c"));
        assert_eq!(only, a.only(&PathElement::field("c")));
        assert_eq!(without, a.without(&PathElement::field("c")));
        assert!(a.touches(&PathElement::field("c")));
        assert!(!a.touches(&PathElement::field("e")));
    }
}
