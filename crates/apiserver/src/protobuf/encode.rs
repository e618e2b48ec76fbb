//! A JSON object to the protobuf encoding Go writes for the struct it decodes into, walking the
//! generated schema: the inverse of `decode.rs`, with no code per kind either.
//!
//! Go's generated marshallers (go-to-protobuf's proto2, non-nullable fields), per field:
//! - a non-pointer scalar is always written, its zero value included; a pointer only when set;
//! - a non-pointer struct is always written (an empty message when it is zero); a pointer one
//!   only when set;
//! - list elements are written one by one (proto2 does not pack), map entries sorted by key as
//!   messages with the key at 1 and the value at 2;
//! - fields go out in field-number order.
//!
//! JSON keys the message has no field for are left out (the server only encodes objects it
//! stored after decoding them through their type, so there are none in practice).

use super::schema_types::{Card, Field, Kind, Message, message};
use super::special;
use super::{Result, malformed};
use base64::Engine as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use serde_json::{Map, Value};

/// How deep messages may nest, as when decoding.
const MAX_DEPTH: usize = super::decode::MAX_DEPTH;

/// Appends the encoding of `obj` as a `msg` to `out`.
pub(super) fn object(
    msg: &Message,
    obj: &Map<String, Value>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(malformed("messages nested too deeply"));
    }
    if msg.fields.is_sorted_by_key(|f| f.tag) {
        for field in msg.fields {
            self::field(field, obj, depth, out)?;
        }
    } else {
        let mut fields: Vec<&Field> = msg.fields.iter().collect();
        fields.sort_by_key(|f| f.tag);
        for field in fields {
            self::field(field, obj, depth, out)?;
        }
    }
    Ok(())
}

/// Appends a list message `msg`: its `metadata` from `meta`, its repeated `items` from `items`
/// (each encoded as the item message on its own, so that no JSON tree of the whole list is
/// built), any other field as absent.
pub(super) fn list(
    msg: &Message,
    meta: &Value,
    items: impl Iterator<Item = Value>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut head = Map::new();
    head.insert("metadata".into(), meta.clone());
    let mut fields: Vec<&Field> = msg.fields.iter().collect();
    fields.sort_by_key(|f| f.tag);
    let mut items = Some(items);
    for f in fields {
        match (f.json, &f.card, &f.kind) {
            ("items", Card::Repeated, Kind::Message(index)) => {
                let child =
                    message(*index).ok_or_else(|| malformed("schema index out of range"))?;
                for item in items.take().into_iter().flatten() {
                    let obj = item
                        .as_object()
                        .ok_or_else(|| mismatch_value("an object", &item))?;
                    nested(f.tag, out, |buf| object(child, obj, 1, buf))?;
                }
            }
            _ => field(f, &head, 0, out)?,
        }
    }
    if items.is_some() {
        return Err(malformed("a list message without repeated items"));
    }
    Ok(())
}

/// Appends one field of `obj` (its own value, or, inlined, the fields of `obj` it takes).
fn field(field: &Field, obj: &Map<String, Value>, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    if field.inline {
        let Kind::Message(index) = field.kind else {
            return Err(malformed("an inlined field that is not a struct"));
        };
        let child = message(index).ok_or_else(|| malformed("schema index out of range"))?;
        return nested(field.tag, out, |buf| object(child, obj, depth + 1, buf));
    }
    let value = obj.get(field.json).filter(|v| !v.is_null());
    match field.card {
        Card::Single => match value {
            Some(v) => single(field.tag, &field.kind, v, depth, out),
            None if field.pointer => Ok(()),
            None => zero(field.tag, &field.kind, out),
        },
        Card::Repeated => {
            let Some(v) = value else { return Ok(()) };
            let items = v.as_array().ok_or_else(|| mismatch(field.json, "a list"))?;
            for item in items {
                if item.is_null() {
                    zero(field.tag, &field.kind, out)?;
                } else {
                    single(field.tag, &field.kind, item, depth, out)?;
                }
            }
            Ok(())
        }
        Card::Map(key_kind) => {
            let Some(v) = value else { return Ok(()) };
            let entries = v
                .as_object()
                .ok_or_else(|| mismatch(field.json, "an object"))?;
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for key in keys {
                let item = &entries[key.as_str()];
                nested(field.tag, out, |entry| {
                    map_key(key_kind, key, entry)?;
                    if item.is_null() {
                        zero(2, &field.kind, entry)
                    } else {
                        single(2, &field.kind, item, depth, entry)
                    }
                })?;
            }
            Ok(())
        }
    }
}

/// Appends field `tag` holding `v`, a value of `kind`.
fn single(tag: u32, kind: &Kind, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    match kind {
        Kind::String => {
            let s = match v {
                Value::String(s) => s.as_str(),
                _ => return Err(mismatch_value("a string", v)),
            };
            bytes(tag, s.as_bytes(), out);
        }
        Kind::Bool => {
            let b = v.as_bool().ok_or_else(|| mismatch_value("a bool", v))?;
            varint(tag, u64::from(b), out);
        }
        Kind::Int32 | Kind::Int64 => {
            let n = integer(v)?;
            // Both widths are sign-extended to 64 bits on the wire.
            let n = if matches!(kind, Kind::Int32) {
                i64::from(n as i32)
            } else {
                n
            };
            varint(tag, n as u64, out);
        }
        Kind::Double => {
            let f = v.as_f64().ok_or_else(|| mismatch_value("a number", v))?;
            encode_key(tag, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Kind::Bytes => {
            let s = v
                .as_str()
                .ok_or_else(|| mismatch_value("base64 bytes", v))?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| malformed(format!("bytes are not base64: {e}")))?;
            bytes(tag, &raw, out);
        }
        Kind::Message(index) => {
            let child = message(*index).ok_or_else(|| malformed("schema index out of range"))?;
            let obj = v
                .as_object()
                .ok_or_else(|| mismatch_value("an object", v))?;
            nested(tag, out, |buf| object(child, obj, depth + 1, buf))?;
        }
        Kind::Special(kind) => {
            nested(tag, out, |buf| special::to_wire(*kind, v, depth + 1, buf))?;
        }
        Kind::Wrapped(inner) => {
            let items = v.as_array().ok_or_else(|| mismatch_value("a list", v))?;
            nested(tag, out, |buf| {
                for item in items {
                    single(1, inner, item, depth, buf)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Appends field `tag` holding the zero value of `kind` (a non-pointer field the JSON leaves out
/// or sets to `null`), as Go writes it.
fn zero(tag: u32, kind: &Kind, out: &mut Vec<u8>) -> Result<()> {
    match kind {
        Kind::String => bytes(tag, b"", out),
        // A nil `[]byte` is left out (an empty one is written, and decodes as `""`).
        Kind::Bytes => {}
        Kind::Bool | Kind::Int32 | Kind::Int64 => varint(tag, 0, out),
        Kind::Double => {
            encode_key(tag, WireType::SixtyFourBit, out);
            out.extend_from_slice(&0f64.to_bits().to_le_bytes());
        }
        Kind::Message(_) | Kind::Wrapped(_) => bytes(tag, b"", out),
        Kind::Special(kind) => nested(tag, out, |buf| {
            special::zero_to_wire(*kind, buf);
            Ok(())
        })?,
    }
    Ok(())
}

/// Appends a map entry's key (field 1), kept as a string in JSON.
fn map_key(kind: &Kind, key: &str, out: &mut Vec<u8>) -> Result<()> {
    match kind {
        Kind::String => bytes(1, key.as_bytes(), out),
        Kind::Int32 | Kind::Int64 | Kind::Bool => {
            let v: Value = serde_json::from_str(key)
                .map_err(|_| malformed(format!("map key {key:?} is not a number")))?;
            single(1, kind, &v, 0, out)?;
        }
        _ => return Err(malformed("a map key that is not a scalar")),
    }
    Ok(())
}

/// A JSON number as an integer (a whole float too: JSON does not tell them apart).
fn integer(v: &Value) -> Result<i64> {
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    if let Some(n) = v.as_u64() {
        return Ok(n as i64);
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        _ => Err(mismatch_value("an integer", v)),
    }
}

/// Appends a varint field.
pub(super) fn varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    encode_key(tag, WireType::Varint, out);
    encode_varint(v, out);
}

/// Appends a length-delimited field.
pub(super) fn bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// Appends field `tag` holding the message `write` produces.
pub(super) fn nested(
    tag: u32,
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::new();
    write(&mut buf)?;
    bytes(tag, &buf, out);
    Ok(())
}

fn mismatch(field: &str, expected: &str) -> super::ProtobufError {
    malformed(format!("{field} is not {expected}"))
}

fn mismatch_value(expected: &str, v: &Value) -> super::ProtobufError {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    malformed(format!("expected {expected}, found {got}"))
}
