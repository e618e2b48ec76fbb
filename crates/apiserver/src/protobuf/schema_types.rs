//! The shape of the generated wire schema (`schema.rs`): what `decode.rs` needs to know of each
//! field of each built-in message to turn its protobuf encoding into Go's JSON.

use super::schema::{KINDS, MESSAGES, META_KINDS};

/// One protobuf message: a Go API struct.
pub(super) struct Message {
    /// The Go type, as `<package path>.<type>`.
    pub name: &'static str,
    /// Its fields with a protobuf number, in Go struct order (the JSON key order).
    pub fields: &'static [Field],
}

/// One field of a message, from its Go struct tag.
pub(super) struct Field {
    /// The protobuf field number.
    pub tag: u32,
    /// The JSON name (empty for an inlined struct).
    pub json: &'static str,
    /// One value, a list, or a map with keys of the given kind.
    pub card: Card,
    /// The kind of the value (of each element, of each map value).
    pub kind: Kind,
    /// A Go pointer: present only when set, emitted whenever present.
    pub pointer: bool,
    /// `omitempty`: Go's JSON leaves out a zero scalar, an empty list or map, a nil pointer.
    pub omitempty: bool,
    /// `json:",inline"`: the struct's fields are the parent's in JSON (a message in protobuf).
    pub inline: bool,
}

/// How many values a field holds.
pub(super) enum Card {
    /// One value.
    Single,
    /// A list (`repeated`).
    Repeated,
    /// A map: entries are messages with the key at 1 and the value at 2.
    Map(&'static Kind),
}

/// The kind of a value (the generator knows more Go types — unsigned ints, `float32`,
/// `metav1.Duration` — than today's built-in types use; a table that names one does not compile
/// until it is handled here).
pub(super) enum Kind {
    /// `string` and named string types.
    String,
    /// `bool`.
    Bool,
    /// `int32` (sign-extended varint).
    Int32,
    /// `int64`, `int`.
    Int64,
    /// `float64` (fixed64).
    Double,
    /// `[]byte`: base64 in JSON.
    Bytes,
    /// A struct: index into [`MESSAGES`].
    Message(u16),
    /// A type whose JSON is not its struct's.
    Special(Special),
    /// A named slice sent as a message whose field 1 holds the items (`Verbs`, `ExtraValue`);
    /// a plain JSON list.
    Wrapped(&'static Kind),
}

/// The types converted by hand (`special.rs`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Special {
    /// `metav1.Time`: RFC 3339 to the second, `null` when zero.
    Time,
    /// `metav1.MicroTime`: RFC 3339 to the microsecond, `null` when zero.
    MicroTime,
    /// Raw JSON bytes at field 1 (`metav1.FieldsV1`, apiextensions' `JSON`).
    RawJson,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `runtime.RawExtension`: an embedded object (JSON, or a protobuf envelope).
    RawExtension,
    /// apiextensions' `JSONSchemaPropsOrBool`: a schema, else a bool.
    SchemaOrBool,
    /// apiextensions' `JSONSchemaPropsOrArray`: a list of schemas, else a schema.
    SchemaOrArray,
    /// apiextensions' `JSONSchemaPropsOrStringArray`: a list of strings, else a schema.
    SchemaOrStringArray,
}

/// The message at `index`.
pub(super) fn message(index: u16) -> Option<&'static Message> {
    MESSAGES.get(usize::from(index))
}

/// The message of Go type `name` (`<package path>.<type>`).
pub(super) fn message_named(name: &str) -> Option<&'static Message> {
    MESSAGES
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .and_then(|i| MESSAGES.get(i))
}

/// The message a body of `apiVersion` + `kind` holds: the group version's kinds, and the
/// meta/v1 options every group version accepts.
pub(super) fn kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS
        .binary_search_by(|(gv, k, _)| (*gv, *k).cmp(&(api_version, kind)))
        .ok()
        .and_then(|i| KINDS.get(i))
        .map(|(_, _, index)| *index)
        .or_else(|| {
            META_KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, index)| *index)
        })
        .and_then(message)
}
