//! The types whose JSON is not their struct's, converted once for every message that holds
//! them: times, quantities, int-or-strings, embedded objects and raw JSON, and
//! apiextensions' schema unions.

use super::decode::object;
use super::encode;
use super::schema_types::{Special, message_named};
use super::wire::{self, Raw};
use super::{Result, malformed};
use serde_json::Value;

const SCHEMA: &str = "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaProps";

/// The JSON of a zero (absent, non-pointer) value of `kind`.
pub(super) fn zero(kind: Special) -> Value {
    match kind {
        Special::Quantity => Value::String("0".into()),
        Special::IntOrString => Value::from(0),
        Special::SchemaOrBool => Value::Bool(false),
        Special::Time
        | Special::MicroTime
        | Special::RawJson
        | Special::RawExtension
        | Special::SchemaOrArray
        | Special::SchemaOrStringArray => Value::Null,
    }
}

/// The JSON of a `kind` message encoded as `bytes`.
pub(super) fn convert(kind: Special, bytes: &[u8], depth: usize) -> Result<Value> {
    let fields = wire::fields(bytes)?;
    let last = |n: u32| fields.iter().rev().find(|(t, _)| *t == n).map(|(_, r)| *r);
    let all = |n: u32| fields.iter().filter(move |(t, _)| *t == n).map(|(_, r)| *r);
    let int = |n: u32| -> Result<Option<i64>> {
        match last(n) {
            None => Ok(None),
            Some(Raw::Varint(v)) => Ok(Some(v as i64)),
            Some(_) => Err(malformed("a varint field has another wire type")),
        }
    };
    let bytes_at = |n: u32| -> Result<Option<&[u8]>> {
        match last(n) {
            None => Ok(None),
            Some(Raw::Bytes(b)) => Ok(Some(b)),
            Some(_) => Err(malformed("a bytes field has another wire type")),
        }
    };
    let schema = |b: &[u8]| -> Result<Value> {
        let msg = message_named(SCHEMA).ok_or_else(|| malformed("no JSONSchemaProps"))?;
        Ok(Value::Object(object(msg, b, depth + 1)?))
    };
    match kind {
        Special::Time => {
            // An empty message is Go's zero time; otherwise upstream keeps whole seconds and
            // drops the nanoseconds it reads (`time.Unix(seconds, 0)`).
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            match instant(Some(int(1)?.unwrap_or(0)), Some(0))? {
                None => Ok(Value::Null),
                Some((seconds, _)) => Ok(Value::String(format_rfc3339(seconds, None)?)),
            }
        }
        Special::MicroTime => {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            // Go normalises (`time.Unix(seconds, nanos)`), then prints whole microseconds.
            let nanos = int(2)?.map(|n| i64::from(n as i32));
            match instant(Some(int(1)?.unwrap_or(0)), nanos)? {
                None => Ok(Value::Null),
                Some((seconds, nanos)) => {
                    Ok(Value::String(format_rfc3339(seconds, Some(nanos / 1000))?))
                }
            }
        }
        Special::Quantity => match bytes_at(1)? {
            None => Ok(Value::String("0".into())),
            Some([]) => Err(malformed("empty quantity")),
            Some(s) => Ok(Value::String(String::from_utf8_lossy(s).into_owned())),
        },
        Special::IntOrString => match int(1)?.unwrap_or(0) {
            0 => Ok(Value::from(int(2)?.map_or(0, |v| v as i32))),
            1 => Ok(Value::String(
                String::from_utf8_lossy(bytes_at(3)?.unwrap_or_default()).into_owned(),
            )),
            other => Err(malformed(format!("IntOrString has unknown type {other}"))),
        },
        Special::RawJson | Special::RawExtension => match bytes_at(1)? {
            None | Some([]) => Ok(Value::Null),
            Some(raw) if matches!(kind, Special::RawExtension) && raw.starts_with(super::MAGIC) => {
                super::decode_nested(raw, depth + 1)
            }
            Some(raw) => serde_json::from_slice(raw)
                .map_err(|e| malformed(format!("embedded JSON is invalid: {e}"))),
        },
        Special::SchemaOrBool => match bytes_at(2)? {
            Some(b) => schema(b),
            None => Ok(Value::Bool(int(1)?.is_some_and(|v| v != 0))),
        },
        Special::SchemaOrArray => {
            let items: Vec<Value> = all(2)
                .map(|raw| match raw {
                    Raw::Bytes(b) => schema(b),
                    _ => Err(malformed("a schema is not a message")),
                })
                .collect::<Result<_>>()?;
            if !items.is_empty() {
                return Ok(Value::Array(items));
            }
            bytes_at(1)?.map_or(Ok(Value::Null), schema)
        }
        Special::SchemaOrStringArray => {
            let items: Vec<Value> = all(2)
                .map(|raw| match raw {
                    Raw::Bytes(b) => Ok(Value::String(String::from_utf8_lossy(b).into_owned())),
                    _ => Err(malformed("a string is not length-delimited")),
                })
                .collect::<Result<_>>()?;
            if !items.is_empty() {
                return Ok(Value::Array(items));
            }
            bytes_at(1)?.map_or(Ok(Value::Null), schema)
        }
    }
}

/// Appends the message body of `v`, a `kind` in JSON.
pub(super) fn to_wire(kind: Special, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    let schema = |tag: u32, v: &Value, out: &mut Vec<u8>| -> Result<()> {
        let msg = message_named(SCHEMA).ok_or_else(|| malformed("no JSONSchemaProps"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| malformed("a schema that is not an object"))?;
        encode::nested(tag, out, |buf| encode::object(msg, obj, depth + 1, buf))
    };
    match (kind, v) {
        (Special::Time | Special::MicroTime, Value::String(s)) => {
            let t: jiff::Timestamp = s
                .parse()
                .map_err(|e| malformed(format!("time {s:?} is not RFC 3339: {e}")))?;
            encode::varint(1, t.as_second() as u64, out);
            let nanos = t.subsec_nanosecond();
            // A Time keeps what its JSON carried; a MicroTime is microseconds.
            let nanos = match kind {
                Special::MicroTime => nanos / 1000 * 1000,
                _ => nanos,
            };
            encode::varint(2, i64::from(nanos) as u64, out);
        }
        (Special::Quantity, Value::String(s)) => encode::bytes(1, s.as_bytes(), out),
        (Special::Quantity, Value::Number(n)) => encode::bytes(1, n.to_string().as_bytes(), out),
        (Special::IntOrString, Value::Number(n)) => {
            let n = n
                .as_i64()
                .ok_or_else(|| malformed("an int-or-string that is not an integer"))?;
            encode::varint(1, 0, out);
            encode::varint(2, i64::from(n as i32) as u64, out);
            encode::bytes(3, b"", out);
        }
        (Special::IntOrString, Value::String(s)) => {
            encode::varint(1, 1, out);
            encode::varint(2, 0, out);
            encode::bytes(3, s.as_bytes(), out);
        }
        (Special::RawJson | Special::RawExtension, v) => {
            let raw = serde_json::to_vec(v).map_err(|e| malformed(e.to_string()))?;
            encode::bytes(1, &raw, out);
        }
        (Special::SchemaOrBool, Value::Bool(b)) => encode::varint(1, u64::from(*b), out),
        (Special::SchemaOrBool, v @ Value::Object(_)) => {
            encode::varint(1, 1, out);
            schema(2, v, out)?;
        }
        (Special::SchemaOrArray, Value::Array(items)) => {
            for item in items {
                schema(2, item, out)?;
            }
        }
        (Special::SchemaOrArray | Special::SchemaOrStringArray, v @ Value::Object(_)) => {
            schema(1, v, out)?;
        }
        (Special::SchemaOrStringArray, Value::Array(items)) => {
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| malformed("a property list holds a non-string"))?;
                encode::bytes(2, s.as_bytes(), out);
            }
        }
        _ => return Err(malformed(format!("unexpected JSON {v} for {kind:?}"))),
    }
    Ok(())
}

/// Appends the message body of a zero `kind` (a non-pointer field left out), as Go writes it.
pub(super) fn zero_to_wire(kind: Special, out: &mut Vec<u8>) {
    match kind {
        Special::Quantity => encode::bytes(1, b"0", out),
        Special::IntOrString => {
            encode::varint(1, 0, out);
            encode::varint(2, 0, out);
            encode::bytes(3, b"", out);
        }
        Special::SchemaOrBool => encode::varint(1, 0, out),
        // The zero time and empty raw bytes and unions are empty messages.
        Special::Time
        | Special::MicroTime
        | Special::RawJson
        | Special::RawExtension
        | Special::SchemaOrArray
        | Special::SchemaOrStringArray => {}
    }
}

/// Seconds from the Unix epoch back to Go's zero `time.Time` (year 1).
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
/// Nanoseconds in a second, wide enough for any protobuf timestamp.
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Normalises a protobuf timestamp like Go's `time.Unix`; `None` for the zero
/// time (an empty message, or exactly 0001-01-01T00:00:00Z).
fn instant(seconds: Option<i64>, nanos: Option<i64>) -> Result<Option<(i64, u32)>> {
    if seconds.is_none() && nanos.is_none() {
        return Ok(None);
    }
    let total =
        i128::from(seconds.unwrap_or(0)) * NANOS_PER_SECOND + i128::from(nanos.unwrap_or(0));
    let seconds = i64::try_from(total.div_euclid(NANOS_PER_SECOND))
        .map_err(|_| malformed("timestamp out of range"))?;
    let nanos = u32::try_from(total.rem_euclid(NANOS_PER_SECOND))
        .map_err(|_| malformed("timestamp out of range"))?;
    if seconds == GO_ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(None);
    }
    Ok(Some((seconds, nanos)))
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ss[.ffffff]Z`.
fn format_rfc3339(unix_seconds: i64, micros: Option<u32>) -> Result<String> {
    let days = unix_seconds.div_euclid(86_400);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(malformed("timestamp out of range"));
    }
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if let Some(micros) = micros {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push('Z');
    Ok(out)
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
