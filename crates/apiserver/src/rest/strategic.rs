//! Strategic merge patch (`application/strategic-merge-patch+json`) for built-in types.
//!
//! Maps merge key by key (`null` deletes). Lists follow the type's patch strategy, which for
//! built-in types matches their list type ([`Schema`]): lists of objects with merge keys merge
//! item by item on the first key (containers by `name`, container ports by `containerPort`,
//! service ports by `port`, ...), lists of scalars with the merge strategy (`finalizers`) are
//! unions, every other list is replaced. The directives kubectl emits are honoured as
//! apimachinery's `strategicpatch` applies them on the server: `$patch: replace|delete` on maps
//! and (as list items) on lists, `$retainKeys`, `$setElementOrder/<list>` and
//! `$deleteFromPrimitiveList/<list>`; merged lists are ordered with the patch's items in patch
//! order and the others where they were.

use crate::fieldpath::{Atom, DEDUCED, ListKind, Schema, TypeRef};
use crate::status::ApiError;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_LIST: &str = "$deleteFromPrimitiveList/";

fn bad_format(what: &str) -> ApiError {
    ApiError::bad_request(format!("invalid patch format of {what}"))
}

fn invalid(msg: impl Into<String>) -> ApiError {
    let mut e = ApiError::bad_request(msg.into());
    e.code = 422;
    e.reason = "Invalid";
    e
}

fn no_merge_key(item: &Value, key: &str) -> ApiError {
    invalid(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// How a list field merges.
#[derive(Clone, Copy)]
struct ListStrategy<'a> {
    /// Whether it merges at all (otherwise the patch replaces it).
    merge: bool,
    /// The merge key of lists of objects.
    key: Option<&'a str>,
    /// The items' type.
    elem: TypeRef,
}

fn field_type(schema: &Schema, tr: TypeRef, field: &str) -> TypeRef {
    match schema.atom(tr) {
        Atom::Map(m) => m.fields.get(field).copied().or(m.elem).unwrap_or(DEDUCED),
        _ => DEDUCED,
    }
}

fn list_strategy(schema: &Schema, tr: TypeRef) -> ListStrategy<'_> {
    match schema.atom(tr) {
        Atom::List(l) => match &l.kind {
            ListKind::Map(keys) => ListStrategy {
                merge: true,
                key: keys.first().map(String::as_str),
                elem: l.elem,
            },
            ListKind::Set => ListStrategy {
                merge: true,
                key: None,
                elem: l.elem,
            },
            ListKind::Atomic => ListStrategy {
                merge: false,
                key: None,
                elem: l.elem,
            },
        },
        _ => ListStrategy {
            merge: false,
            key: None,
            elem: DEDUCED,
        },
    }
}

/// Applies a strategic merge patch to `target`, with the list strategies of `schema`.
pub fn strategic_merge(schema: &Schema, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    let original = match std::mem::take(target) {
        Value::Object(m) => Some(m),
        _ => None,
    };
    *target = Value::Object(merge_map(schema, schema.root(), original, p.clone())?);
    Ok(())
}

/// Drops maps carrying a `$patch` directive, recursively; `None` when `v` itself is one.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Drops `null` map values, recursively (a patch's nulls mean nothing where there is nothing).
fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// A patch value for a field that the original does not have (or has with another type).
fn fresh(mut v: Value) -> Option<Value> {
    discard_nulls(&mut v);
    remove_directives(v)
}

fn merge_map(
    schema: &Schema,
    tr: TypeRef,
    original: Option<Map<String, Value>>,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                match remove_directives(Value::Object(patch)) {
                    Some(Value::Object(m)) => Ok(m),
                    _ => Ok(Map::new()),
                }
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(invalid(format!(
                "unknown patch type: {d} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    let mut original = original.unwrap_or_default();

    if let Some(retain) = patch.shift_remove(RETAIN_KEYS) {
        let Value::Array(keep) = retain else {
            return Err(bad_format("retainKeys"));
        };
        let keep: HashSet<&str> = keep.iter().filter_map(Value::as_str).collect();
        for (k, v) in &patch {
            if v.is_null() || k.starts_with(DELETE_FROM_LIST) || k.starts_with(SET_ORDER) {
                continue;
            }
            if !keep.contains(&k.as_str()) {
                return Err(bad_format("retainKeys"));
            }
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
    }

    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ORDER))
        .cloned()
        .collect();
    // The directive keys and the lists they order are taken out of the patch, which is then
    // pruned in one pass (removing keys one by one from an ordered map is quadratic).
    let mut taken: HashSet<String> = HashSet::new();
    for order_key in order_keys {
        let Some(Value::Array(order)) = patch.get_mut(&order_key).map(Value::take) else {
            return Err(bad_format("setElementOrder list"));
        };
        taken.insert(order_key.clone());
        let field = &order_key[SET_ORDER.len()..];
        if field.is_empty() {
            return Err(bad_format("setElementOrder list"));
        }
        let strategy = list_strategy(schema, field_type(schema, tr, field));
        let original_list = match original.get(field) {
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => return Err(bad_format("setElementOrder list")),
            None => None,
        };
        let patch_list = match patch.get_mut(field).map(Value::take) {
            Some(Value::Array(items)) => {
                taken.insert(field.to_string());
                Some(items)
            }
            Some(_) => return Err(bad_format("setElementOrder list")),
            None => None,
        };
        validate_order(patch_list.as_deref().unwrap_or(&[]), &order, strategy.key)?;
        let merged = match (original_list.clone(), patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(items)) => items,
                _ => continue,
            },
            (Some(o), Some(p)) => merge_list(schema, strategy, o, p, false)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, strategy.key)?;
        let both = normalize_order(
            in_order,
            server_only,
            &order,
            original_list.as_deref().unwrap_or(&[]),
            strategy.key,
        );
        original.insert(field.to_string(), Value::Array(both));
    }
    if !taken.is_empty() {
        patch.retain(|k, _| !taken.contains(k));
    }

    // Keys set to null are removed in one pass at the end: removing them one by one from an
    // ordered map moves every later key each time, quadratic in a map of 100,000 keys.
    let mut removed = HashSet::new();
    for (key, pv) in patch {
        let (k, delete_list) = match key.strip_prefix(DELETE_FROM_LIST) {
            Some("") => return Err(bad_format("primitive list")),
            Some(f) => (f.to_string(), true),
            None => (key, false),
        };
        if pv.is_null() {
            removed.insert(k);
            continue;
        }
        let Some(ov) = original.get_mut(&k) else {
            if !delete_list && let Some(v) = fresh(pv) {
                original.insert(k, v);
            }
            continue;
        };
        let ftr = field_type(schema, tr, &k);
        match (ov, pv) {
            (Value::Object(om), Value::Object(pm)) => {
                let merged = merge_map(schema, ftr, Some(std::mem::take(om)), pm)?;
                original.insert(k, Value::Object(merged));
            }
            (Value::Array(oa), Value::Array(pa)) => {
                let merged = merge_list(
                    schema,
                    list_strategy(schema, ftr),
                    std::mem::take(oa),
                    pa,
                    delete_list,
                )?;
                original.insert(k, Value::Array(merged));
            }
            (_, pv) => {
                if delete_list {
                    continue;
                }
                match fresh(pv) {
                    Some(v) => {
                        original.insert(k, v);
                    }
                    None => {
                        removed.insert(k);
                    }
                }
            }
        }
    }
    if !removed.is_empty() {
        original.retain(|k, _| !removed.contains(k));
    }
    Ok(original)
}

/// Whether two list items are the same item: by merge key for objects, by value otherwise.
fn same_item(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        None => a == b,
    }
}

/// What makes a list item the same item as another ([`same_item`]) as a hashable string: its
/// merge key's value, or the whole value for lists without a key. `None` (an object without
/// its merge key) is the same as nothing.
fn identity(v: &Value, key: Option<&str>) -> Option<String> {
    match key {
        Some(k) => v.get(k).map(Value::to_string),
        None => Some(v.to_string()),
    }
}

/// The first position of each item of a list by identity: matching the items of two lists is
/// then linear in their lengths, not quadratic (a 3 MiB patch holds a list of 250,000 items).
struct Positions(HashMap<String, usize>);

impl Positions {
    fn of(list: &[Value], key: Option<&str>) -> Self {
        let mut map = HashMap::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            if let Some(id) = identity(v, key) {
                map.entry(id).or_insert(i);
            }
        }
        Positions(map)
    }

    /// Where the first item that is the same item as `v` is.
    fn get(&self, v: &Value, key: Option<&str>) -> Option<usize> {
        identity(v, key).and_then(|id| self.0.get(&id).copied())
    }
}

fn merge_list(
    schema: &Schema,
    strategy: ListStrategy<'_>,
    original: Vec<Value>,
    patch: Vec<Value>,
    delete_list: bool,
) -> Result<Vec<Value>, ApiError> {
    if !strategy.merge && !delete_list {
        return Ok(match remove_directives(Value::Array(patch)) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        });
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let mut objects = false;
    let mut scalars = false;
    for v in original.iter().chain(&patch) {
        match v {
            Value::Array(_) => return Err(invalid("lists of lists are not supported")),
            Value::Object(_) => objects = true,
            _ => scalars = true,
        }
    }
    if objects && scalars {
        return Err(invalid(
            "list items of a strategic merge patch must all have the same type",
        ));
    }
    if !objects {
        if delete_list {
            let deleted: HashSet<String> = patch.iter().map(Value::to_string).collect();
            return Ok(original
                .into_iter()
                .filter(|v| !deleted.contains(&v.to_string()))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        let mut seen = HashSet::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if seen.insert(v.to_string()) {
                merged.push(v.clone());
            }
        }
        let (in_patch, server_only) = partition(merged, &patch, None)?;
        return Ok(normalize_order(
            in_patch,
            server_only,
            &patch,
            &original,
            None,
        ));
    }
    let Some(key) = strategy.key else {
        return Err(invalid("cannot merge lists without merge key"));
    };
    // Special elements: deletions and a replace marker.
    let mut items = original.clone();
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    let mut deleted = HashSet::new();
    for v in patch {
        match v.get(DIRECTIVE) {
            None => plain.push(v),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let Some(id) = v.get(key) else {
                        return Err(no_merge_key(&v, key));
                    };
                    deleted.insert(id.to_string());
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(invalid(
                        "merging lists cannot yet be specified in the patch",
                    ));
                }
                _ => {
                    return Err(invalid(format!("unknown patch type: {d} in map: {v}")));
                }
            },
        }
    }
    if !deleted.is_empty() {
        items.retain(|o| {
            o.get(key)
                .is_none_or(|id| !deleted.contains(&id.to_string()))
        });
    }
    let (mut merged, plain) = if replace {
        (
            plain
                .into_iter()
                .filter_map(remove_directives)
                .collect::<Vec<_>>(),
            Vec::new(),
        )
    } else {
        (items, plain)
    };
    let server_order = if replace { merged.clone() } else { original };
    let mut at = Positions::of(&merged, Some(key));
    for v in &plain {
        if v.get(key).is_none() {
            return Err(no_merge_key(v, key));
        }
        match at.get(v, Some(key)) {
            Some(i) => {
                let Value::Object(pm) = v.clone() else {
                    continue;
                };
                let om = match std::mem::take(&mut merged[i]) {
                    Value::Object(m) => Some(m),
                    _ => None,
                };
                merged[i] = Value::Object(merge_map(schema, strategy.elem, om, pm)?);
            }
            None => {
                if let Some(fresh) = fresh(v.clone()) {
                    if let Some(id) = identity(&fresh, Some(key)) {
                        at.0.entry(id).or_insert(merged.len());
                    }
                    merged.push(fresh);
                }
            }
        }
    }
    let (in_patch, server_only) = partition(merged, &plain, Some(key))?;
    Ok(normalize_order(
        in_patch,
        server_only,
        &plain,
        &server_order,
        Some(key),
    ))
}

/// Splits `items` into those present in `by` and the others.
fn partition(
    items: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let mut present = Vec::new();
    let mut others = Vec::new();
    let by = Positions::of(by, key);
    for v in items {
        if let Some(k) = key
            && v.get(k).is_none()
        {
            return Err(no_merge_key(&v, k));
        }
        if by.get(&v, key).is_some() {
            present.push(v);
        } else {
            others.push(v);
        }
    }
    Ok((present, others))
}

/// Checks that the patch list's items come in the order `$setElementOrder` gives.
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), ApiError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| key.is_none() || v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
        .collect();
    let (mut pi, mut oi) = (0, 0);
    while pi < items.len() && oi < order.len() {
        if items[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if let Some(k) = key {
            if items[pi].get(k).is_none() {
                return Err(no_merge_key(items[pi], k));
            }
            if order[oi].get(k).is_none() {
                return Err(no_merge_key(&order[oi], k));
            }
        }
        if same_item(items[pi], &order[oi], key) {
            pi += 1;
        }
        oi += 1;
    }
    if pi < items.len() && oi >= order.len() {
        return Err(ApiError::bad_request(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Sorts `patch_items` by `patch_order` and `server_only` by `server_order`, then interleaves
/// them: a server-only item goes before a patch item when it came before it in the original.
fn normalize_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let patch_at = Positions::of(patch_order, key);
    let server_at = Positions::of(server_order, key);
    patch_items.sort_by_cached_key(|v| patch_at.get(v, key).unwrap_or(usize::MAX));
    server_only.sort_by_cached_key(|v| server_at.get(v, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (server_at.get(l, key), server_at.get(r, key)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests;
