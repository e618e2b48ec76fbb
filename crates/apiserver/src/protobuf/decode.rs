//! A message's protobuf encoding to the JSON Go's `encoding/json` writes for the struct the
//! message decodes into, walking the generated schema: no code per kind.
//!
//! Go's rules, applied per field from its struct tag:
//! - Go always writes non-pointer scalars to protobuf, so a zero on the wire is the zero value:
//!   left out under `omitempty`, written otherwise. A pointer is written whenever it is present.
//! - A non-pointer struct is always written (`omitempty` never omits a struct), hence
//!   `"status": {}`; a pointer struct only when present.
//! - An absent list or map is Go's `nil`: left out under `omitempty`, `null` otherwise.
//! - Map keys are sorted, as Go writes them.

use super::schema_types::{Card, Field, Kind, Message, message};
use super::special;
use super::wire::{self, Raw};
use super::{Result, malformed};
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// How deep messages may nest (a CRD's schema nests; nothing legitimate comes near this, and
/// the walk's stack stays small at this depth: `deep_nesting_is_refused_not_overflowed`).
pub(super) const MAX_DEPTH: usize = 100;

/// The JSON object of `msg` encoded as `bytes`, its fields in Go struct order.
pub(super) fn object(msg: &Message, bytes: &[u8], depth: usize) -> Result<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(malformed("messages nested too deeply"));
    }
    let wire = wire::fields(bytes)?;
    let mut out = Map::new();
    for field in msg.fields {
        let values = || {
            wire.iter()
                .filter(|(tag, _)| *tag == field.tag)
                .map(|(_, raw)| *raw)
        };
        match field.card {
            Card::Single => single(field, values().next_back(), depth, &mut out)?,
            Card::Repeated => {
                let mut items = Vec::new();
                for raw in values() {
                    elements(&field.kind, raw, depth, &mut items)?;
                }
                list(field, items, &mut out);
            }
            Card::Map(key_kind) => {
                let mut entries = BTreeMap::new();
                for raw in values() {
                    let Raw::Bytes(entry) = raw else {
                        return Err(malformed(format!(
                            "map entry of {} is not a message",
                            field.json
                        )));
                    };
                    let entry = wire::fields(entry)?;
                    let at = |n: u32| entry.iter().rev().find(|(t, _)| *t == n).map(|(_, r)| *r);
                    let key = match value(key_kind, at(1), depth)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    entries.insert(key, value(&field.kind, at(2), depth)?);
                }
                if entries.is_empty() {
                    if !field.omitempty {
                        out.insert(field.json.into(), Value::Null);
                    }
                } else {
                    out.insert(
                        field.json.into(),
                        Value::Object(entries.into_iter().collect()),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// One field holding one value (the last one on the wire, as protobuf decoders keep).
fn single(
    field: &Field,
    raw: Option<Raw<'_>>,
    depth: usize,
    out: &mut Map<String, Value>,
) -> Result<()> {
    match &field.kind {
        Kind::Message(index) => {
            let child = message(*index).ok_or_else(|| malformed("schema index out of range"))?;
            let bytes = match raw {
                Some(Raw::Bytes(b)) => b,
                Some(_) => return Err(malformed(format!("{} is not a message", field.json))),
                None if field.pointer => {
                    absent_pointer(field, out);
                    return Ok(());
                }
                None => &[],
            };
            let obj = object(child, bytes, depth + 1)?;
            if field.inline {
                out.extend(obj);
            } else {
                out.insert(field.json.into(), Value::Object(obj));
            }
        }
        Kind::Special(kind) => {
            let v = match raw {
                Some(Raw::Bytes(b)) => special::convert(*kind, b, depth + 1)?,
                Some(_) => return Err(malformed(format!("{} is not a message", field.json))),
                None if field.pointer => {
                    absent_pointer(field, out);
                    return Ok(());
                }
                None => special::zero(*kind),
            };
            out.insert(field.json.into(), v);
        }
        Kind::Wrapped(inner) => {
            let mut items = Vec::new();
            if let Some(raw) = raw {
                let Raw::Bytes(b) = raw else {
                    return Err(malformed(format!("{} is not a message", field.json)));
                };
                for (tag, item) in wire::fields(b)? {
                    if tag == 1 {
                        elements(inner, item, depth, &mut items)?;
                    }
                }
            }
            list(field, items, out);
        }
        Kind::Bytes => match raw {
            Some(Raw::Bytes(b)) if !(b.is_empty() && field.omitempty) => {
                out.insert(field.json.into(), Value::String(base64(b)));
            }
            Some(Raw::Bytes(_)) => {}
            Some(_) => return Err(malformed(format!("{} is not bytes", field.json))),
            None if field.omitempty => {}
            None => {
                out.insert(field.json.into(), Value::Null);
            }
        },
        scalar => {
            if raw.is_none() && field.pointer {
                absent_pointer(field, out);
                return Ok(());
            }
            let v = value(scalar, raw, depth)?;
            if field.pointer || !field.omitempty || !is_zero(&v) {
                out.insert(field.json.into(), v);
            }
        }
    }
    Ok(())
}

/// A nil pointer: `null` unless `omitempty` (inlined pointers that are nil add nothing).
fn absent_pointer(field: &Field, out: &mut Map<String, Value>) {
    if !field.omitempty && !field.inline {
        out.insert(field.json.into(), Value::Null);
    }
}

/// A list field: `nil` when empty.
fn list(field: &Field, items: Vec<Value>, out: &mut Map<String, Value>) {
    if items.is_empty() {
        if !field.omitempty {
            out.insert(field.json.into(), Value::Null);
        }
    } else {
        out.insert(field.json.into(), Value::Array(items));
    }
}

/// The elements one wire value of a list holds: one, or several for a packed scalar list.
fn elements(kind: &Kind, raw: Raw<'_>, depth: usize, items: &mut Vec<Value>) -> Result<()> {
    match (kind, raw) {
        (Kind::Bool | Kind::Int32 | Kind::Int64, Raw::Bytes(packed)) => {
            for v in wire::packed_varints(packed)? {
                items.push(value(kind, Some(Raw::Varint(v)), depth)?);
            }
        }
        (Kind::Double, Raw::Bytes(packed)) => {
            for chunk in packed.chunks(8) {
                let bytes: [u8; 8] = chunk
                    .try_into()
                    .map_err(|_| malformed("truncated packed doubles"))?;
                items.push(value(
                    kind,
                    Some(Raw::Fixed64(u64::from_le_bytes(bytes))),
                    depth,
                )?);
            }
        }
        _ => items.push(value(kind, Some(raw), depth)?),
    }
    Ok(())
}

/// One value of `kind` (a list element, a map key or value, a scalar field); `None` is the
/// kind's zero value.
fn value(kind: &Kind, raw: Option<Raw<'_>>, depth: usize) -> Result<Value> {
    let wrong = || malformed("a field's wire type does not match its type");
    Ok(match (kind, raw) {
        (Kind::String, None) => Value::String(String::new()),
        (Kind::String, Some(Raw::Bytes(b))) => {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        (Kind::Bool, None) => Value::Bool(false),
        (Kind::Bool, Some(Raw::Varint(v))) => Value::Bool(v != 0),
        (Kind::Int32 | Kind::Int64, None) => Value::from(0),
        // Go truncates a varint to the field's width.
        (Kind::Int32, Some(Raw::Varint(v))) => Value::from(i64::from(v as u32 as i32)),
        (Kind::Int64, Some(Raw::Varint(v))) => Value::from(v as i64),
        (Kind::Double, None) => Value::from(0),
        (Kind::Double, Some(Raw::Fixed64(bits))) => float(f64::from_bits(bits))?,
        // Only a map value can be absent; Go decodes it as an empty, non-nil slice.
        (Kind::Bytes, None) => Value::String(String::new()),
        (Kind::Bytes, Some(Raw::Bytes(b))) => Value::String(base64(b)),
        (Kind::Message(index), raw) => {
            let child = message(*index).ok_or_else(|| malformed("schema index out of range"))?;
            let bytes = match raw {
                Some(Raw::Bytes(b)) => b,
                None => &[],
                Some(_) => return Err(wrong()),
            };
            Value::Object(object(child, bytes, depth + 1)?)
        }
        (Kind::Special(kind), None) => special::zero(*kind),
        (Kind::Special(kind), Some(Raw::Bytes(b))) => special::convert(*kind, b, depth + 1)?,
        (Kind::Wrapped(inner), raw) => {
            let mut items = Vec::new();
            match raw {
                Some(Raw::Bytes(b)) => {
                    for (tag, item) in wire::fields(b)? {
                        if tag == 1 {
                            elements(inner, item, depth, &mut items)?;
                        }
                    }
                }
                None => {}
                Some(_) => return Err(wrong()),
            }
            if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            }
        }
        _ => return Err(wrong()),
    })
}

/// A float as Go writes it: a whole number without a fraction (`10`, not `10.0`, so it equals
/// the same value sent as JSON); NaN and infinities have no JSON form (Go fails to encode them).
fn float(f: f64) -> Result<Value> {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| malformed("a float that is not a finite number"))
}

/// Whether `omitempty` leaves `v` out: false, 0, "".
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub(super) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
