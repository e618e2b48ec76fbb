//! The protobuf wire format, without a schema: a message's bytes as (field number, value)
//! pairs, in the order they appear.

use super::{ProtobufError, Result, malformed};
use prost::encoding::{WireType, decode_key, decode_varint};

/// One value on the wire.
#[derive(Clone, Copy)]
pub(super) enum Raw<'a> {
    /// A varint (ints, bools).
    Varint(u64),
    /// Eight little-endian bytes (`double`).
    Fixed64(u64),
    /// Four bytes (`float`, which no built-in type uses: read past, never converted).
    Fixed32,
    /// Length-delimited bytes (strings, bytes, messages, packed lists).
    Bytes(&'a [u8]),
}

/// Splits `bytes` into its fields; malformed input is an error, never a panic.
pub(super) fn fields(mut bytes: &[u8]) -> Result<Vec<(u32, Raw<'_>)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (tag, wire_type) = decode_key(&mut bytes).map_err(to_malformed)?;
        let raw = match wire_type {
            WireType::Varint => Raw::Varint(decode_varint(&mut bytes).map_err(to_malformed)?),
            WireType::SixtyFourBit => {
                let (head, rest) = bytes
                    .split_first_chunk::<8>()
                    .ok_or_else(|| malformed("truncated fixed64 field"))?;
                bytes = rest;
                Raw::Fixed64(u64::from_le_bytes(*head))
            }
            WireType::ThirtyTwoBit => {
                let (_, rest) = bytes
                    .split_first_chunk::<4>()
                    .ok_or_else(|| malformed("truncated fixed32 field"))?;
                bytes = rest;
                Raw::Fixed32
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).map_err(to_malformed)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|l| *l <= bytes.len())
                    .ok_or_else(|| malformed("length prefix past the end of the message"))?;
                let (head, rest) = bytes.split_at(len);
                bytes = rest;
                Raw::Bytes(head)
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(malformed("groups are not used by Kubernetes messages"));
            }
        };
        out.push((tag, raw));
    }
    Ok(out)
}

/// The varints of a packed list.
pub(super) fn packed_varints(mut bytes: &[u8]) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(decode_varint(&mut bytes).map_err(to_malformed)?);
    }
    Ok(out)
}

fn to_malformed(e: prost::DecodeError) -> ProtobufError {
    malformed(e.to_string())
}
